//! Which requests a node answers from which peer, by the roles the cluster gives the two: the
//! one place that says it, without I/O ([`super::sharing::serve_peers`] applies it to every
//! request before anything else looks at it).
//!
//! - Share batches go from a hospital (which holds the values) to a computing party (which
//!   holds the shares), never anywhere else: a party that keeps no records has nothing to
//!   share, and a hospital that does not compute must never receive a share.
//! - A query runs at the computing parties; any node may coordinate one (forward it).
//! - Consents, audits, erasures and registry changes reach every node: each node enforces them
//!   on what it holds (a hospital its records, a party its shares). Witnessing is between every
//!   pair of nodes: each cosigns the others' heads.

use hdg_wire::consortium::Roles;

use crate::net::rpc::Request;

/// `Ok` when a node with roles `me` answers `request` from a node with roles `from`; `Err`
/// says which rule refuses it.
pub fn admits(request: &Request, from: Roles, me: Roles) -> Result<(), &'static str> {
    match request {
        Request::ShareBatch { .. } if !from.hospital => {
            Err("only a hospital shares values, and the sender holds no records")
        }
        Request::ShareBatch { .. } if me.party.is_none() => {
            Err("this node does not compute, so it never holds shares")
        }
        Request::Query { .. } if me.party.is_none() => {
            Err("this node does not compute; queries run at the computing parties")
        }
        Request::ShareBatch { .. }
        | Request::Query { .. }
        | Request::Consent { .. }
        | Request::Audit { .. }
        | Request::Erasure { .. }
        | Request::ErasureProbe { .. }
        | Request::RegistryChange { .. }
        | Request::AddCheckpoint { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_mpc::PartyId;

    /// Every combination of roles a node can have (a node with neither is refused by the
    /// consortium's own rules).
    fn all_roles() -> Vec<Roles> {
        let mut out = Vec::new();
        for hospital in [false, true] {
            for party in [
                None,
                Some(PartyId::P0),
                Some(PartyId::P1),
                Some(PartyId::P2),
            ] {
                if hospital || party.is_some() {
                    out.push(Roles { hospital, party });
                }
            }
        }
        out
    }

    fn share_batch() -> Request {
        Request::ShareBatch {
            from_node: 0,
            rows: Vec::new(),
        }
    }

    #[test]
    fn share_batches_go_only_from_a_hospital_to_a_computing_party() {
        for from in all_roles() {
            for me in all_roles() {
                let admitted = admits(&share_batch(), from, me).is_ok();
                assert_eq!(
                    admitted,
                    from.hospital && me.party.is_some(),
                    "{from:?} -> {me:?}"
                );
            }
        }
    }

    #[test]
    fn queries_run_only_at_computing_parties_and_anything_else_reaches_every_node() {
        let session = hdg_mpc::SessionId([0; 32]);
        let signed = hdg_wire::signed::SignedRequest {
            body: "{}".into(),
            signer: "00".repeat(32),
            nonce: "00".repeat(16),
            time: 0,
            signature: String::new(),
        };
        let query = Request::Query {
            signed: signed.clone(),
            session,
        };
        let others = [
            Request::Consent {
                signed: signed.clone(),
            },
            Request::Audit { signed },
            Request::AddCheckpoint {
                old_size: 0,
                proof: Vec::new(),
                checkpoint: String::new(),
            },
        ];
        for from in all_roles() {
            for me in all_roles() {
                assert_eq!(admits(&query, from, me).is_ok(), me.party.is_some());
                for r in &others {
                    assert!(admits(r, from, me).is_ok(), "{from:?} -> {me:?}");
                }
            }
        }
    }
}
