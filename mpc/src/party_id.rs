//! Identities of the three parties, with the index arithmetic mod 3 the protocols use.

use serde::{Deserialize, Serialize};

/// One of the three computing parties: P0, P1 or P2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartyId(u8);

impl PartyId {
    /// Party 0.
    pub const P0: PartyId = PartyId(0);
    /// Party 1.
    pub const P1: PartyId = PartyId(1);
    /// Party 2.
    pub const P2: PartyId = PartyId(2);
    /// All three, in index order.
    pub const ALL: [PartyId; 3] = [PartyId(0), PartyId(1), PartyId(2)];

    /// The party with index `i`, when i < 3.
    pub fn new(i: usize) -> Option<PartyId> {
        (i < 3).then_some(PartyId(i as u8))
    }

    /// Index 0, 1 or 2.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// P_{i+1 mod 3}.
    pub fn next(self) -> PartyId {
        PartyId((self.0 + 1) % 3)
    }

    /// P_{i-1 mod 3}.
    pub fn prev(self) -> PartyId {
        PartyId((self.0 + 2) % 3)
    }
}

impl std::fmt::Display for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.0)
    }
}
