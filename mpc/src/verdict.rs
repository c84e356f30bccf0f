//! Verdicts on a check: after a check, every party tells both peers whether it found a
//! deviation, so all three stop when any one does, and each learns which pair was named and by
//! whom (the honest member of a named pair then knows the other one deviated).

use crate::fault::Point;
use crate::{Party, PartyId, ProtocolError};

/// A difference one party found: the sender of the values and the holder of the second copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deviation {
    /// The party whose message was checked.
    pub sender: PartyId,
    /// The party whose copy or view it was checked against.
    pub witness: PartyId,
}

/// Words of a verdict: [0, 0, 0] for agreement, [1, sender, witness] for a difference found.
pub(crate) const VERDICT_WORDS: usize = 3;

/// Tells both peers whether this party found a difference and hears theirs, so that every
/// party stops when any one of them does, and each learns which pair was named and by whom.
/// (The honest member of a named pair then knows the other one deviated.)
///
/// Cost: one round; every party sends 3 words to each peer.
pub(crate) fn agree(
    party: &mut Party,
    found: Option<Deviation>,
    step: &'static str,
) -> Result<(), ProtocolError> {
    let me = party.id();
    let mine = match found {
        None => [0; VERDICT_WORDS],
        Some(d) => [1, d.sender.index() as u64, d.witness.index() as u64],
    };
    party.send(me.next(), &mine, Point::Verdict)?;
    party.send(me.prev(), &mine, Point::Verdict)?;
    let mut reports = vec![(me, found)];
    for peer in [me.prev(), me.next()] {
        let v = party.recv(peer, VERDICT_WORDS, step)?;
        reports.push((
            peer,
            read_verdict(&v).ok_or(ProtocolError::MalformedVerdict { step, peer })?,
        ));
    }
    match reports.into_iter().find_map(|(by, d)| d.map(|d| (by, d))) {
        None => Ok(()),
        Some((reporter, d)) => Err(ProtocolError::Deviation {
            step,
            sender: d.sender,
            witness: d.witness,
            reporter,
        }),
    }
}

/// A verdict's meaning; `None` when it is malformed (a flag other than 0 or 1, or not two
/// distinct parties named).
fn read_verdict(v: &[u64]) -> Option<Option<Deviation>> {
    match v {
        [0, 0, 0] => Some(None),
        [1, s, w] if s != w => Some(Some(Deviation {
            sender: PartyId::new(usize::try_from(*s).ok()?)?,
            witness: PartyId::new(usize::try_from(*w).ok()?)?,
        })),
        _ => None,
    }
}
