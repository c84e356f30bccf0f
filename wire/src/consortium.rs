//! Who the nodes of a cluster are and what each of them does.
//!
//! A cluster (a consortium) has one or more **hospitals**, which hold their patients' records and
//! secret-share the values patients allow, and exactly three **computing parties**, which hold
//! the shares and run the MPC. A node may be both (the three-node cluster `hdg init` writes: each
//! node a hospital and one party), a hospital only, or a party only (an institution that keeps no
//! records). Every node has a [`NodeId`], unique in the cluster; a [`PartyId`] names one of the
//! three computing parties, and is used only where the MPC is concerned.
//!
//! This module is the description and its rules, without I/O: node configs and the cluster file
//! are read into a [`Consortium`], which refuses a description that breaks a rule, naming it.

use std::fmt;

use hdg_mpc::PartyId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A node's id, unique in its cluster (in the three-node layout, node i is party i).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u16);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

/// What a node does in its cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    /// It holds records: ingest, enrolment and raw access go to it, and it shares its values
    /// with the three computing parties.
    pub hospital: bool,
    /// The computing party it is, if it is one: it holds shares and computes.
    pub party: Option<PartyId>,
}

/// One node of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: NodeId,
    /// Its name (configs, logs, health).
    pub name: String,
    /// Its ed25519 public key: its TLS certificate's, its signed heads' and answers'.
    pub key: [u8; 32],
    /// What it does.
    pub roles: Roles,
}

impl fmt::Display for Member {
    /// The name, and the party it is, if any: `node3` or `node0 (P0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.roles.party {
            Some(p) => write!(f, "{} ({p})", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// A description of a cluster that breaks a rule.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConsortiumError {
    /// No node holds records.
    #[error("no node is a hospital: a cluster needs at least one node that holds records")]
    NoHospital,
    /// A node that neither holds records nor computes.
    #[error("{0} is neither a hospital nor a computing party")]
    NoRole(String),
    /// Two nodes claim the same computing party.
    #[error("{first} and {second} are both computing party {party}: each party is one node")]
    PartyTwice {
        /// The party.
        party: PartyId,
        /// The first node claiming it.
        first: String,
        /// The second.
        second: String,
    },
    /// A computing party no node is.
    #[error("no node is computing party {0}: exactly three nodes compute, P0, P1 and P2")]
    PartyMissing(PartyId),
    /// Two nodes with one id.
    #[error("{first} and {second} both have node id {id}")]
    IdTwice {
        /// The id.
        id: u16,
        /// The first node.
        first: String,
        /// The second.
        second: String,
    },
    /// Two nodes with one name.
    #[error("two nodes are named {0}")]
    NameTwice(String),
    /// Two nodes with one key: one of them could answer in the other's place.
    #[error("{0} and {1} have the same public key")]
    KeyTwice(String, String),
}

/// A cluster's nodes and their roles, checked: at least one hospital, each of the three
/// computing parties exactly one node, ids, names and keys unique.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consortium {
    /// By id.
    members: Vec<Member>,
    /// `parties[p]`: the node that is computing party p.
    parties: [NodeId; 3],
}

impl Consortium {
    /// Checks `members` against the rules and orders them by id.
    pub fn new(mut members: Vec<Member>) -> Result<Consortium, ConsortiumError> {
        members.sort_by_key(|m| m.id);
        for pair in members.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(ConsortiumError::IdTwice {
                    id: pair[0].id.0,
                    first: pair[0].name.clone(),
                    second: pair[1].name.clone(),
                });
            }
        }
        for (i, m) in members.iter().enumerate() {
            let earlier = &members[..i];
            if earlier.iter().any(|e| e.name == m.name) {
                return Err(ConsortiumError::NameTwice(m.name.clone()));
            }
            if let Some(e) = earlier.iter().find(|e| e.key == m.key) {
                return Err(ConsortiumError::KeyTwice(e.name.clone(), m.name.clone()));
            }
            if !m.roles.hospital && m.roles.party.is_none() {
                return Err(ConsortiumError::NoRole(m.name.clone()));
            }
        }
        if !members.iter().any(|m| m.roles.hospital) {
            return Err(ConsortiumError::NoHospital);
        }
        let mut parties: [Option<&Member>; 3] = [None; 3];
        for m in &members {
            if let Some(p) = m.roles.party {
                if let Some(first) = parties[p.index()] {
                    return Err(ConsortiumError::PartyTwice {
                        party: p,
                        first: first.name.clone(),
                        second: m.name.clone(),
                    });
                }
                parties[p.index()] = Some(m);
            }
        }
        let mut ids = [NodeId(0); 3];
        for p in PartyId::ALL {
            ids[p.index()] = parties[p.index()]
                .ok_or(ConsortiumError::PartyMissing(p))?
                .id;
        }
        Ok(Consortium {
            members,
            parties: ids,
        })
    }

    /// Every node, by id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The node with id `id`.
    pub fn member(&self, id: NodeId) -> Option<&Member> {
        self.members
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .map(|i| &self.members[i])
    }

    /// The node whose public key is `key`.
    pub fn by_key(&self, key: &[u8; 32]) -> Option<&Member> {
        self.members.iter().find(|m| m.key == *key)
    }

    /// The node that is computing party `party`.
    pub fn party(&self, party: PartyId) -> &Member {
        self.member(self.parties[party.index()])
            .expect("a checked consortium has a member for every party")
    }

    /// The three computing parties' public keys, in party order (what a researcher pins to
    /// check answers, and the keys the parties sign their verdicts with).
    pub fn party_keys(&self) -> [[u8; 32]; 3] {
        PartyId::ALL.map(|p| self.party(p).key)
    }

    /// The nodes that hold records.
    pub fn hospitals(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.roles.hospital)
    }

    /// Every node but `me`.
    pub fn others(&self, me: NodeId) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(move |m| m.id != me)
    }

    /// The three-node layout: node i is a hospital and computing party i, with the keys given.
    /// What `hdg init` writes by default, and what every config without roles describes.
    pub fn three_nodes(names: [String; 3], keys: [[u8; 32]; 3]) -> Result<Self, ConsortiumError> {
        let members = PartyId::ALL
            .into_iter()
            .zip(names.into_iter().zip(keys))
            .map(|(p, (name, key))| Member {
                id: NodeId(p.index() as u16),
                name,
                key,
                roles: Roles {
                    hospital: true,
                    party: Some(p),
                },
            })
            .collect();
        Consortium::new(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(id: u16, hospital: bool, party: Option<u8>) -> Member {
        Member {
            id: NodeId(id),
            name: format!("node{id}"),
            key: [id as u8 + 1; 32],
            roles: Roles {
                hospital,
                party: party.map(|p| PartyId::ALL[usize::from(p)]),
            },
        }
    }

    /// Five hospitals, the first three of them the parties.
    fn five() -> Vec<Member> {
        (0..5)
            .map(|i| member(i, true, (i < 3).then_some(i as u8)))
            .collect()
    }

    #[test]
    fn the_three_node_layout_is_three_hospitals_that_compute() {
        let names = ["a", "b", "c"].map(String::from);
        let c = Consortium::three_nodes(names, [[1; 32], [2; 32], [3; 32]]).unwrap();
        assert_eq!(c.members().len(), 3);
        assert_eq!(c.hospitals().count(), 3);
        assert_eq!(c.party_keys(), [[1; 32], [2; 32], [3; 32]]);
        for p in PartyId::ALL {
            assert_eq!(c.party(p).id, NodeId(p.index() as u16));
        }
        assert_eq!(c.party(PartyId::P1).to_string(), "b (P1)");
    }

    #[test]
    fn hospitals_and_dedicated_parties_are_told_apart() {
        // Five hospitals that do not compute, and three institutions that only compute.
        let mut members: Vec<Member> = (0..5).map(|i| member(i, true, None)).collect();
        members.extend((5..8).map(|i| member(i, false, Some(i as u8 - 5))));
        let c = Consortium::new(members).unwrap();
        assert_eq!(
            c.hospitals().map(|m| m.id.0).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(c.party(PartyId::P2).id, NodeId(7));
        assert_eq!(c.party_keys(), [[6; 32], [7; 32], [8; 32]]);
        assert_eq!(c.others(NodeId(3)).count(), 7);
        assert_eq!(c.by_key(&[4; 32]).map(|m| m.id), Some(NodeId(3)));
        assert_eq!(c.member(NodeId(9)), None);
        assert_eq!(c.member(NodeId(4)).unwrap().to_string(), "node4");
    }

    #[test]
    fn every_broken_rule_is_refused_by_name() {
        let mut m = five();
        m[4].roles.party = Some(PartyId::P1);
        assert_eq!(
            Consortium::new(m).unwrap_err().to_string(),
            "node1 and node4 are both computing party P1: each party is one node"
        );
        let mut m = five();
        m[2].roles.party = None;
        assert_eq!(
            Consortium::new(m),
            Err(ConsortiumError::PartyMissing(PartyId::P2))
        );
        let mut m = five();
        m[3].id = NodeId(1);
        assert!(matches!(
            Consortium::new(m),
            Err(ConsortiumError::IdTwice { id: 1, .. })
        ));
        let mut m = five();
        m[3].name = "node0".into();
        assert_eq!(
            Consortium::new(m),
            Err(ConsortiumError::NameTwice("node0".into()))
        );
        let mut m = five();
        m[4].key = m[0].key;
        assert_eq!(
            Consortium::new(m),
            Err(ConsortiumError::KeyTwice("node0".into(), "node4".into()))
        );
        let mut m = five();
        m[3].roles.hospital = false;
        assert_eq!(
            Consortium::new(m),
            Err(ConsortiumError::NoRole("node3".into()))
        );
        let m: Vec<Member> = (0..3).map(|i| member(i, false, Some(i as u8))).collect();
        assert_eq!(Consortium::new(m), Err(ConsortiumError::NoHospital));
    }

    proptest! {
        /// Whatever order the nodes are listed in, the same consortium is described.
        #[test]
        fn the_order_of_the_members_does_not_matter(seed in any::<u64>()) {
            let mut shuffled = five();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(Consortium::new(shuffled), Consortium::new(five()));
        }
    }
}
