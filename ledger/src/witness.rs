//! The witness's rule (after c2sp.org/tlog-witness): a witness remembers the last checkpoint
//! it cosigned for each log and cosigns a new one only when it is an extension of that one.
//!
//! The log presents its new signed checkpoint together with the size it believes the witness
//! last saw and a consistency proof from that size. The witness has already checked the note's
//! signature against the log's pinned key ([`crate::Checkpoint::open`]); [`check_extension`]
//! then decides, in this order:
//!
//! 1. another origin under the same key, a smaller tree than already witnessed, or the same size
//!    with another root is a **fork** — the log signed two histories that cannot both be true;
//! 2. an old size other than the witnessed one is a **conflict**: nothing wrong, the log is told
//!    the witnessed size and retries with a proof from it;
//! 3. a consistency proof that does not verify from the witnessed head is a **fork**.
//!
//! A fork is reported with both signed notes, which together are the evidence anyone can check
//! with the log's key.

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::verify::verify_consistency;

/// Why a witness refuses to cosign a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The log's old size is not the one this witness holds: retry with a proof from
    /// `witnessed`.
    #[error("the witness last saw size {witnessed}, not {presented}: prove consistency from it")]
    Conflict {
        /// The size this witness last cosigned.
        witnessed: u64,
        /// The old size the log presented.
        presented: u64,
    },
    /// The checkpoint contradicts the one this witness already cosigned.
    #[error("fork: {0}")]
    Fork(ForkKind),
}

/// How a checkpoint contradicts the witnessed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkKind {
    /// The same key signs a log of another name.
    #[error("origin changed from {witnessed:?} to {presented:?}")]
    OriginChanged {
        /// The witnessed origin.
        witnessed: String,
        /// The presented origin.
        presented: String,
    },
    /// The tree shrank: the log was rolled back or rewritten.
    #[error("tree size {presented} is below the witnessed size {witnessed} (rolled back)")]
    RolledBack {
        /// The witnessed size.
        witnessed: u64,
        /// The presented size.
        presented: u64,
    },
    /// Two different roots for the same size.
    #[error("two different roots for tree size {size}")]
    SplitView {
        /// The size both checkpoints claim.
        size: u64,
    },
    /// The consistency proof does not show the new tree extends the witnessed one.
    #[error(
        "tree of size {presented} is not an extension of the witnessed size {witnessed}: {reason}"
    )]
    NotAnExtension {
        /// The witnessed size.
        witnessed: u64,
        /// The presented size.
        presented: u64,
        /// What the proof check found.
        reason: String,
    },
}

/// Decides whether a witness that last cosigned `witnessed` (`None`: never saw this log) may
/// cosign `presented`, given the log's `old_size` and consistency `proof` from it. The
/// signature on `presented` must have been verified already.
pub fn check_extension(
    witnessed: Option<&Checkpoint>,
    presented: &Checkpoint,
    old_size: u64,
    proof: &[Hash],
) -> Result<(), WitnessRefusal> {
    let Some(old) = witnessed else {
        // Trust on first use: the first head a witness sees has nothing to be consistent with.
        return Ok(());
    };
    let fork = |kind| Err(WitnessRefusal::Fork(kind));
    if old.origin != presented.origin {
        return fork(ForkKind::OriginChanged {
            witnessed: old.origin.clone(),
            presented: presented.origin.clone(),
        });
    }
    if presented.size < old.size {
        return fork(ForkKind::RolledBack {
            witnessed: old.size,
            presented: presented.size,
        });
    }
    if presented.size == old.size && presented.root != old.root {
        return fork(ForkKind::SplitView { size: old.size });
    }
    if old_size != old.size {
        return Err(WitnessRefusal::Conflict {
            witnessed: old.size,
            presented: old_size,
        });
    }
    verify_consistency(old.size, presented.size, &old.root, &presented.root, proof).or_else(|e| {
        fork(ForkKind::NotAnExtension {
            witnessed: old.size,
            presented: presented.size,
            reason: e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::nodes::MemoryNodes;
    use crate::proof::{consistency_proof, root_at};
    use crate::{Frontier, NodeReader};
    use proptest::prelude::*;

    /// The nodes of a log whose leaf i is `leaf(i)`.
    fn log_of(n: u64, leaf: impl Fn(u64) -> Vec<u8>) -> MemoryNodes {
        let mut nodes = MemoryNodes::new();
        let mut frontier = Frontier::new();
        for i in 0..n {
            nodes.put_all(&frontier.append(leaf_hash(&leaf(i))));
        }
        nodes
    }

    /// A log of `n` leaves `prefix || i`.
    fn log(prefix: &[u8], n: u64) -> MemoryNodes {
        log_of(n, |i| [prefix, &i.to_be_bytes()].concat())
    }

    fn head(nodes: &impl NodeReader, size: u64) -> Checkpoint {
        Checkpoint {
            origin: "hdg.example/node0".into(),
            size,
            root: root_at(nodes, size).unwrap(),
            height: size,
            time: 1_700_000_000_000 + size as i64,
            prev: None,
        }
    }

    #[test]
    fn the_first_head_is_accepted_and_a_growing_log_is_cosigned() {
        let nodes = log(b"a", 40);
        let first = head(&nodes, 13);
        assert_eq!(check_extension(None, &first, 0, &[]), Ok(()));
        let next = head(&nodes, 40);
        let proof = consistency_proof(&nodes, 13, 40).unwrap();
        assert_eq!(check_extension(Some(&first), &next, 13, &proof), Ok(()));
        // The same head again is fine (a restarted log re-presents it).
        assert_eq!(check_extension(Some(&next), &next, 40, &[]), Ok(()));
    }

    #[test]
    fn a_stale_old_size_is_a_conflict_naming_the_witnessed_size() {
        let nodes = log(b"a", 40);
        let proof = consistency_proof(&nodes, 7, 40).unwrap();
        assert_eq!(
            check_extension(Some(&head(&nodes, 13)), &head(&nodes, 40), 7, &proof),
            Err(WitnessRefusal::Conflict {
                witnessed: 13,
                presented: 7
            })
        );
    }

    #[test]
    fn a_rolled_back_log_is_a_fork() {
        let nodes = log(b"a", 40);
        assert_eq!(
            check_extension(Some(&head(&nodes, 40)), &head(&nodes, 13), 40, &[]),
            Err(WitnessRefusal::Fork(ForkKind::RolledBack {
                witnessed: 40,
                presented: 13
            }))
        );
    }

    #[test]
    fn a_rewritten_history_is_a_fork_at_the_same_and_at_a_larger_size() {
        let (honest, forked) = (log(b"a", 40), log(b"b", 60));
        let old = head(&honest, 40);
        assert_eq!(
            check_extension(Some(&old), &head(&forked, 40), 40, &[]),
            Err(WitnessRefusal::Fork(ForkKind::SplitView { size: 40 }))
        );
        // The forked log proves consistency within its own history, not with the witnessed one.
        let proof = consistency_proof(&forked, 40, 60).unwrap();
        let refused = check_extension(Some(&old), &head(&forked, 60), 40, &proof);
        assert!(
            matches!(
                refused,
                Err(WitnessRefusal::Fork(ForkKind::NotAnExtension {
                    witnessed: 40,
                    presented: 60,
                    ..
                }))
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn another_origin_under_the_same_key_is_a_fork() {
        let nodes = log(b"a", 10);
        let mut renamed = head(&nodes, 10);
        renamed.origin = "hdg.example/other".into();
        assert!(matches!(
            check_extension(Some(&head(&nodes, 10)), &renamed, 10, &[]),
            Err(WitnessRefusal::Fork(ForkKind::OriginChanged { .. }))
        ));
    }

    proptest! {
        /// Any extension of a witnessed log is cosigned with the log's own proof, and the same
        /// proof never passes for a log that differs in one leaf before the witnessed size.
        #[test]
        fn extensions_pass_and_rewrites_fail(
            old in 1u64..200, extra in 0u64..200, flipped in any::<prop::sample::Index>()
        ) {
            let new = old + extra;
            let honest = log(b"a", new);
            let proof = consistency_proof(&honest, old, new).unwrap();
            let witnessed = head(&honest, old);
            prop_assert_eq!(check_extension(Some(&witnessed), &head(&honest, new), old, &proof), Ok(()));

            // Rewrite one leaf inside the witnessed part.
            let i = flipped.index(old as usize) as u64;
            let nodes = log_of(new, |j| {
                if j == i { b"rewritten".to_vec() } else { [b"a".as_slice(), &j.to_be_bytes()].concat() }
            });
            let forged_proof = consistency_proof(&nodes, old, new).unwrap();
            let refused = check_extension(Some(&witnessed), &head(&nodes, new), old, &forged_proof);
            prop_assert!(matches!(refused, Err(WitnessRefusal::Fork(_))), "{:?}", refused);
        }
    }
}
