//! A peer as the transport names it: its node id, the computing party it is (if any) and its
//! name, taken from the cluster's [`Consortium`] when the peer's pinned key is recognised.

use std::fmt;
use std::sync::Arc;

use hdg_mpc::PartyId;
use hdg_wire::consortium::{Member, NodeId};

/// A node at the other end of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its node id.
    pub node: NodeId,
    /// The computing party it is, if any.
    pub party: Option<PartyId>,
    /// Its name.
    pub name: Arc<str>,
}

impl Peer {
    /// The peer that `member` describes.
    pub fn of(member: &Member) -> Peer {
        Peer {
            node: member.id,
            party: member.roles.party,
            name: member.name.as_str().into(),
        }
    }
}

impl fmt::Display for Peer {
    /// Its name, and its party if it is one (`node2 (P2)`): errors and logs name both.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.party {
            Some(p) => write!(f, "{} ({p})", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}
