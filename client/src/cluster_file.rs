//! `cluster.toml`: what a client pins of a cluster — every node's name, id and roles (the
//! computing party it is, whether it holds records), ed25519 public key and API address. `hdg init` writes it beside the node configs; a consortium hands
//! it to its researchers and patients. Only public keys live here.
//!
//! A client never takes a node's key from the node it talks to: answers, heads and proofs are
//! checked against the keys in this file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use hdg_mpc::PartyId;
use hdg_tls::identity::parse_key;
use hdg_wire::consortium::{Consortium, Member, NodeId, Roles};

fn yes() -> bool {
    true
}

/// The file name inside a cluster folder.
pub const CLUSTER_FILE: &str = "cluster.toml";

/// One node as clients know it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterNode {
    /// Its name.
    pub name: String,
    /// Its id in the cluster; defaults to its party index (the three-node layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
    /// The computing party it is, 0, 1 or 2; absent for a hospital that does not compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<usize>,
    /// Whether it holds records (ingest, enrolment and raw access go to it).
    #[serde(default = "yes")]
    pub hospital: bool,
    /// Its ed25519 public key, 64 hex digits (the key of its TLS certificate, signed heads and
    /// signed answers).
    pub public_key: String,
    /// Its API, `https://host:port` (TLS with the certificate of `public_key`).
    pub api: String,
}

/// The file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Every node, by party.
    #[serde(rename = "node")]
    pub nodes: Vec<ClusterNode>,
    /// The cluster's catalog extension (local codes), relative to the cluster file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_extension: Option<PathBuf>,
}

impl ClusterFile {
    /// Reads `path`, or `path/cluster.toml` when `path` is a folder, checking it names parties
    /// 0, 1 and 2 once each, with valid keys; and makes the cluster's catalog (with its
    /// extension, if it names one) this process's active catalog, so a client encodes and
    /// reads values as the cluster's nodes do.
    pub fn load(path: &Path) -> anyhow::Result<ClusterFile> {
        let file: PathBuf = if path.is_dir() {
            path.join(CLUSTER_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the cluster file {}", file.display()))?;
        let parsed: ClusterFile = toml::from_str(&text)
            .with_context(|| format!("{}: not a cluster file", file.display()))?;
        parsed
            .consortium()
            .with_context(|| format!("{}: bad node list", file.display()))?;
        let folder = file.parent().unwrap_or(Path::new("."));
        let extension = parsed.catalog_extension.as_ref().map(|e| folder.join(e));
        crate::catalog_extension::activate(extension.as_deref())
            .with_context(|| format!("{}: the cluster's catalog", file.display()))?;
        Ok(parsed)
    }

    /// The three computing parties' public keys, in party order.
    pub fn pins(&self) -> anyhow::Result<[[u8; 32]; 3]> {
        Ok(self.consortium()?.party_keys())
    }

    /// Every node's public key, in the cluster's node order (the order of the per-node arrays
    /// in answers: audit reports, ledger indexes).
    pub fn node_keys(&self) -> anyhow::Result<Vec<[u8; 32]>> {
        Ok(self.consortium()?.members().iter().map(|m| m.key).collect())
    }

    /// The cluster the file describes: each node's id (its party index unless it gives one)
    /// and roles, checked by the consortium's rules; keys must be ed25519 keys, and names and
    /// keys unique (one node must never answer in another's place).
    pub fn consortium(&self) -> anyhow::Result<Consortium> {
        let mut members = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let party = match node.party {
                None => None,
                Some(p) => Some(
                    *PartyId::ALL
                        .get(p)
                        .with_context(|| format!("{}: party {p} is not 0, 1 or 2", node.name))?,
                ),
            };
            let id = match (node.id, party) {
                (Some(id), _) => NodeId(id),
                (None, Some(p)) => NodeId(p.index() as u16),
                (None, None) => bail!("{}: a node that does not compute needs an id", node.name),
            };
            let key = parse_key(&node.public_key)
                .filter(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_ok())
                .with_context(|| format!("{}: public_key is not an ed25519 key", node.name))?;
            members.push(Member {
                id,
                name: node.name.clone(),
                key,
                roles: Roles {
                    hospital: node.hospital,
                    party,
                },
            });
        }
        Ok(Consortium::new(members)?)
    }

    /// The node key of the node whose API is `url` (compared without a trailing slash): the one
    /// key a client dialling `url` accepts, so one node cannot answer in another's place.
    pub fn key_of_api(&self, url: &str) -> anyhow::Result<[u8; 32]> {
        self.consortium()?;
        let wanted = url.trim_end_matches('/');
        self.nodes
            .iter()
            .find(|n| n.api.trim_end_matches('/') == wanted)
            .and_then(|n| parse_key(&n.public_key))
            .with_context(|| {
                format!(
                    "{url} is not the API of any node in the cluster file (it lists {})",
                    self.nodes
                        .iter()
                        .map(|n| n.api.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// The API address of computing party `party`.
    pub fn api(&self, party: usize) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.party == Some(party))
            .map(|n| n.api.as_str())
    }

    /// Every node's API address, in the cluster's node order.
    pub fn apis(&self) -> anyhow::Result<Vec<&str>> {
        let cluster = self.consortium()?;
        Ok(cluster
            .members()
            .iter()
            .map(|m| {
                let node = self.nodes.iter().find(|n| n.name == m.name);
                node.expect("every member is a listed node").api.as_str()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(party: usize, key: u8) -> ClusterNode {
        let k = ed25519_dalek::SigningKey::from_bytes(&[key; 32]);
        ClusterNode {
            name: format!("node{party}"),
            id: None,
            party: Some(party),
            hospital: true,
            public_key: hex::encode(k.verifying_key().to_bytes()),
            api: format!("https://127.0.0.1:{}", 7000 + party),
        }
    }

    #[test]
    fn a_written_file_reads_back_and_gives_the_pins_in_party_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = ClusterFile {
            nodes: vec![node(2, 3), node(0, 1), node(1, 2)],
            catalog_extension: None,
        };
        std::fs::write(
            dir.path().join(CLUSTER_FILE),
            toml::to_string(&file).unwrap(),
        )
        .unwrap();
        let read = ClusterFile::load(dir.path()).unwrap();
        let pins = read.pins().unwrap();
        assert_eq!(hex::encode(pins[0]), node(0, 1).public_key);
        assert_eq!(read.api(1), Some("https://127.0.0.1:7001"));
    }

    #[test]
    fn a_missing_or_repeated_party_or_a_bad_key_is_refused() {
        let missing = ClusterFile {
            nodes: vec![node(0, 1), node(1, 2)],
            ..ClusterFile::default()
        };
        assert!(missing.pins().is_err());
        let twice = ClusterFile {
            nodes: vec![node(0, 1), node(1, 2), node(1, 3)],
            ..ClusterFile::default()
        };
        let e = format!("{:#}", twice.pins().unwrap_err());
        assert!(e.contains("both have node id 1"), "{e}");
        let mut bad = node(2, 3);
        bad.public_key = "zz".repeat(32);
        let file = ClusterFile {
            nodes: vec![node(0, 1), node(1, 2), bad],
            ..ClusterFile::default()
        };
        assert!(file.pins().is_err());
        // One key or one name for two nodes: one could answer in the other's place.
        let same_key = ClusterFile {
            nodes: vec![node(0, 1), node(1, 2), node(2, 2)],
            ..ClusterFile::default()
        };
        let e = same_key.consortium().unwrap_err().to_string();
        assert_eq!(e, "node1 and node2 have the same public key");
        let mut renamed = node(2, 3);
        renamed.name = "node0".into();
        let same_name = ClusterFile {
            nodes: vec![node(0, 1), node(1, 2), renamed],
            ..ClusterFile::default()
        };
        let e = same_name.consortium().unwrap_err().to_string();
        assert_eq!(e, "two nodes are named node0");
    }

    #[test]
    fn a_consortium_file_lists_hospitals_that_do_not_compute() {
        let mut hospital = node(0, 9);
        hospital.name = "node5".into();
        hospital.party = None;
        hospital.id = Some(5);
        hospital.api = "https://127.0.0.1:7005".into();
        let mut file = ClusterFile {
            nodes: vec![hospital.clone(), node(2, 3), node(0, 1), node(1, 2)],
            ..ClusterFile::default()
        };
        let cluster = file.consortium().unwrap();
        let names: Vec<String> = cluster.members().iter().map(|m| m.to_string()).collect();
        assert_eq!(names, ["node0 (P0)", "node1 (P1)", "node2 (P2)", "node5"]);
        assert_eq!(
            file.pins().unwrap()[2],
            parse_key(&node(2, 3).public_key).unwrap()
        );
        let keys = file.node_keys().unwrap();
        assert_eq!(keys[3], parse_key(&hospital.public_key).unwrap());
        assert_eq!(file.apis().unwrap()[3], "https://127.0.0.1:7005");
        assert_eq!(file.api(1), Some("https://127.0.0.1:7001"));
        assert_eq!(file.key_of_api("https://127.0.0.1:7005").unwrap(), keys[3]);
        // Without an id, a node that does not compute cannot be placed.
        file.nodes[0].id = None;
        let e = format!("{:#}", file.consortium().unwrap_err());
        assert!(
            e.contains("node5: a node that does not compute needs an id"),
            "{e}"
        );
    }

    #[test]
    fn a_url_is_pinned_to_its_own_node_key_only() {
        let file = ClusterFile {
            nodes: vec![node(0, 1), node(1, 2), node(2, 3)],
            ..ClusterFile::default()
        };
        let pins = file.pins().unwrap();
        assert_eq!(file.key_of_api("https://127.0.0.1:7001").unwrap(), pins[1]);
        assert_eq!(file.key_of_api("https://127.0.0.1:7002/").unwrap(), pins[2]);
        let e = file.key_of_api("https://127.0.0.1:9999").unwrap_err();
        assert!(e.to_string().contains("not the API of any node"), "{e}");
    }
}
