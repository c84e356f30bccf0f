//! A node's TOML configuration (`DIR/node{i}.toml`, written by `hdg init`): its data folder,
//! its QUIC and HTTP listen addresses, its id and roles in the cluster (a hospital, a computing
//! party, or both), every other node pinned by ed25519 public key with its roles, and the
//! identity registry it loads. Relative paths are relative to the config's folder.
//!
//! The roles default to the three-node layout: a node that gives only `party = i` is node i,
//! a hospital and computing party i, so configs written before consortia read as before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use hdg_mpc::PartyId;
use hdg_mpc::Security;
use hdg_wire::consortium::{Consortium, ConsortiumError, Member, NodeId, Roles};

use crate::net::identity::{NodeKey, parse_key};
use crate::node::query::privacy::{DpRules, Privacy};

/// Default bound on a query's time at the coordinator, milliseconds.
pub const DEFAULT_QUERY_TIMEOUT_MS: u64 = 60_000;

/// Default of [`NodeConfig::max_concurrent_queries`].
pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize = 4;

fn default_max_concurrent_queries() -> usize {
    DEFAULT_MAX_CONCURRENT_QUERIES
}

fn default_query_timeout_ms() -> u64 {
    DEFAULT_QUERY_TIMEOUT_MS
}

/// Smallest cohort a statistic is released on unless the cluster says otherwise.
pub const DEFAULT_MIN_COHORT: u64 = crate::node::query::DEFAULT_MIN_COHORT;
/// The floor of the minimum cohort: a statistic over one patient is that patient's value.
pub const MIN_COHORT_FLOOR: u64 = 2;
/// Default clock-skew window of signed requests, milliseconds (five minutes).
pub const DEFAULT_CLOCK_SKEW_MS: u64 = 300_000;

fn default_min_cohort() -> u64 {
    DEFAULT_MIN_COHORT
}

fn default_clock_skew_ms() -> u64 {
    DEFAULT_CLOCK_SKEW_MS
}

fn default_registry_quorum() -> usize {
    2
}

fn yes() -> bool {
    true
}

/// How a cluster answers queries (the same at every node; the parties compare it).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyMode {
    /// Differentially private answers, noised inside the MPC, charged to a budget.
    #[default]
    Dp,
    /// Exact answers: synthetic data and benchmarks only (refused with `consent_required`).
    Exact,
}

/// The delta every epsilon is stated at, unless the cluster says otherwise.
pub const DEFAULT_DP_DELTA: f64 = 1e-6;
/// The largest epsilon one query may spend, unless the cluster says otherwise.
pub const DEFAULT_DP_MAX_EPSILON: f64 = 4.0;
/// What one researcher may spend per period (epsilon at delta, composed in zCDP).
pub const DEFAULT_DP_BUDGET_EPSILON: f64 = 20.0;
/// The budget period, days.
pub const DEFAULT_DP_PERIOD_DAYS: u64 = 30;

fn default_dp_delta() -> f64 {
    DEFAULT_DP_DELTA
}

fn default_dp_max_epsilon() -> f64 {
    DEFAULT_DP_MAX_EPSILON
}

fn default_dp_budget_epsilon() -> f64 {
    DEFAULT_DP_BUDGET_EPSILON
}

fn default_dp_period_days() -> u64 {
    DEFAULT_DP_PERIOD_DAYS
}

/// Largest request body accepted by default (16 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;

/// A config file that cannot be read or is wrong; names the file and the field.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// The config file.
        file: PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// Not valid TOML, or a field is missing or has the wrong type (toml names the field).
    #[error("{file}: {reason}")]
    Syntax {
        /// The config file.
        file: PathBuf,
        /// The parser's message (names the key and line).
        reason: String,
    },
    /// A field parses but breaks a rule.
    #[error("{file}: field `{field}`: {reason}")]
    Field {
        /// The config file.
        file: PathBuf,
        /// The offending field, e.g. `peers[1].public_key`.
        field: String,
        /// The rule broken.
        reason: String,
    },
}

/// One node's configuration, as written in its TOML file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's name (shown in health and logs).
    pub name: String,
    /// The node's id in the cluster; defaults to its party index (the three-node layout), so
    /// a node that does not compute must give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
    /// The computing party this node is, 0, 1 or 2; absent for a hospital that does not compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<usize>,
    /// Whether this node holds records (ingest, enrolment, raw access) and shares their values
    /// with the computing parties; `false` for a party that keeps no records.
    #[serde(default = "yes")]
    pub hospital: bool,
    /// The data folder: RocksDB and its keyring (the master key and the node's identity key,
    /// sealed under the key below).
    pub data: PathBuf,
    /// The key file that unlocks the data folder's keyring (64 hex digits, mode 0600), kept
    /// outside the data folder. Exactly one of `key_file` and `passphrase_env` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The environment variable holding the passphrase that unlocks the keyring (Argon2id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_env: Option<String>,
    /// Where the node-to-node QUIC endpoint listens.
    pub quic_listen: SocketAddr,
    /// Where the client HTTP API listens.
    pub http_listen: SocketAddr,
    /// The identity registry (researchers, patients) the node loads.
    pub identities: PathBuf,
    /// Largest request body accepted, bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest a query may take at the coordinator (all three parties) before it is answered
    /// with 504 and no output, milliseconds.
    #[serde(default = "default_query_timeout_ms")]
    pub query_timeout_ms: u64,
    /// Most queries this party runs at once; a query that finds no slot within a few seconds
    /// is refused with 503 (each query holds its rows and MPC state in memory).
    #[serde(default = "default_max_concurrent_queries")]
    pub max_concurrent_queries: usize,
    /// Serve the client API as plain HTTP instead of TLS: local debugging only (raw records,
    /// ingest bodies and signed requests then cross the network in the clear).
    #[serde(default)]
    pub insecure_http: bool,
    /// The client API's certificate chain from the hospital's CA (PEM, leaf first), served
    /// instead of the certificate made from the node key; clients then trust the node with
    /// `--ca`. Set with `api_private_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_certificate: Option<PathBuf>,
    /// The private key of `api_certificate` (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_private_key: Option<PathBuf>,
    /// Statistics over fewer patients' rows than this are refused (a filtered mean: withheld,
    /// decided inside the MPC). The same at every node of a cluster (the parties compare it
    /// before computing); never below 2.
    #[serde(default = "default_min_cohort")]
    pub min_cohort: u64,
    /// How far a signed request's time may be from this node's clock, milliseconds; a request
    /// outside the window is refused as expired (or from the future), and nonces are
    /// remembered for this long to refuse replays.
    #[serde(default = "default_clock_skew_ms")]
    pub clock_skew_ms: u64,
    /// Queries use only rows whose patient's consent covers them (the default). `false` only for
    /// synthetic data, whose patients cannot be asked; the same at every node of a cluster.
    #[serde(default = "yes")]
    pub consent_required: bool,
    /// `dp` (the default): every answer is differentially private and charged to its
    /// researcher's budget; `exact`: exact answers, for synthetic data and benchmarks only.
    #[serde(default)]
    pub privacy: PrivacyMode,
    /// `malicious` (the default): the parties check what their peers send and abort, naming
    /// the parties concerned, when one deviates; `semi-honest`: no checks, for benchmarks.
    #[serde(default)]
    pub security: Security,
    /// The delta every query's epsilon is stated at (0 < delta < 1e-3).
    #[serde(default = "default_dp_delta")]
    pub dp_delta: f64,
    /// The largest epsilon one query may spend.
    #[serde(default = "default_dp_max_epsilon")]
    pub dp_max_epsilon: f64,
    /// What one researcher may spend per period, as epsilon at `dp_delta` (queries compose in
    /// zero-concentrated DP, so this admits more than budget / epsilon queries).
    #[serde(default = "default_dp_budget_epsilon")]
    pub dp_budget_epsilon: f64,
    /// The budget period in days; budgets restart at each multiple of it since the epoch.
    #[serde(default = "default_dp_period_days")]
    pub dp_budget_period_days: u64,
    /// How many registered node administrators must approve a registry change (at least 1).
    #[serde(default = "default_registry_quorum")]
    pub registry_quorum: usize,
    /// The enrolled patients' file (`[[patient]]` with `reference` and `public_key`): their
    /// records are stored under pseudonyms from their keys, so their consents apply. Read at
    /// start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolments: Option<PathBuf>,
    /// The cluster's catalog extension (local codes, [`crate::catalog_extension`]): the same
    /// file at every node, or the parties refuse to compute. Read at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_extension: Option<PathBuf>,
    /// A test instrument: every message this node receives from its peers is appended to this
    /// file in the clear (shares included; see `net::tap`). Never set on a production node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_tap: Option<PathBuf>,
    /// Every other node of the cluster, pinned by key.
    pub peers: Vec<PeerConfig>,
}

/// A peer node: pinned by its ed25519 public key, reached at its QUIC address, with its id and
/// roles as in [`NodeConfig`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's name.
    pub name: String,
    /// The peer's node id; defaults to its party index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
    /// The computing party the peer is, if it computes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<usize>,
    /// Whether the peer holds records.
    #[serde(default = "yes")]
    pub hospital: bool,
    /// The peer's ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// The peer's QUIC address.
    pub quic: SocketAddr,
}

fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

/// A checked configuration: paths resolved, ids and roles settled, keys decoded.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The configuration as written, with `data` and `identities` made absolute.
    pub config: NodeConfig,
    /// This node's id.
    pub id: NodeId,
    /// This node's roles.
    pub roles: Roles,
    /// The other nodes (their keys from the config) and their QUIC addresses, as listed.
    pub peers: Vec<(Member, SocketAddr)>,
}

/// A node's id and roles from its config fields: the id defaults to the party index, the
/// party must be 0, 1 or 2; `Err` names the field and the rule.
fn id_and_roles(
    id: Option<u16>,
    party: Option<usize>,
    hospital: bool,
) -> Result<(NodeId, Roles), (&'static str, &'static str)> {
    let party = match party {
        None => None,
        Some(p) => Some(*PartyId::ALL.get(p).ok_or(("party", "must be 0, 1 or 2"))?),
    };
    let id = match (id, party) {
        (Some(id), _) => NodeId(id),
        (None, Some(p)) => NodeId(p.index() as u16),
        (None, None) => {
            return Err((
                "id",
                "missing: a node that does not compute has no party index to take as its id",
            ));
        }
    };
    Ok((id, Roles { hospital, party }))
}

impl NodeConfig {
    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<Checked, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })?;
        let config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        config.check(file, base)
    }

    /// Checks the rules the types cannot say and resolves relative paths against `base`.
    pub fn check(mut self, file: &Path, base: &Path) -> Result<Checked, ConfigError> {
        let bad = |field: String, reason: &str| ConfigError::Field {
            file: file.to_path_buf(),
            field,
            reason: reason.to_string(),
        };
        let (id, roles) = id_and_roles(self.id, self.party, self.hospital)
            .map_err(|(field, reason)| bad(field.into(), reason))?;
        if self.max_body_bytes == 0 {
            return Err(bad("max_body_bytes".into(), "must be positive"));
        }
        if self.min_cohort < MIN_COHORT_FLOOR {
            return Err(bad(
                "min_cohort".into(),
                "must be at least 2: a statistic over one patient reveals that patient's value",
            ));
        }
        if self.privacy == PrivacyMode::Exact && self.consent_required {
            return Err(bad(
                "privacy".into(),
                "`exact` answers are for synthetic data only and are refused when consent is required; use `dp`",
            ));
        }
        if !(self.dp_delta > 0.0 && self.dp_delta < 1e-3) {
            return Err(bad("dp_delta".into(), "must be in (0, 0.001)"));
        }
        if !(self.dp_max_epsilon > 0.0 && self.dp_max_epsilon <= 100.0) {
            return Err(bad("dp_max_epsilon".into(), "must be in (0, 100]"));
        }
        if !(self.dp_budget_epsilon >= self.dp_max_epsilon && self.dp_budget_epsilon <= 1e4) {
            return Err(bad(
                "dp_budget_epsilon".into(),
                "must be at least dp_max_epsilon and at most 10000",
            ));
        }
        if self.dp_budget_period_days == 0 || self.dp_budget_period_days > 3660 {
            return Err(bad(
                "dp_budget_period_days".into(),
                "must be between 1 and 3660 days",
            ));
        }
        if self.registry_quorum == 0 {
            return Err(bad(
                "registry_quorum".into(),
                "must be at least 1: every registry change needs an administrator",
            ));
        }
        if self.clock_skew_ms == 0 || self.clock_skew_ms > 86_400_000 {
            return Err(bad(
                "clock_skew_ms".into(),
                "must be positive and at most a day (86400000)",
            ));
        }
        match (&self.key_file, &self.passphrase_env) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "key_file".into(),
                    "give key_file or passphrase_env, not both",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "key_file".into(),
                    "missing: the data folder's keys are unlocked by a key file (key_file) or a passphrase (passphrase_env)",
                ));
            }
            (None, Some(env)) if env.is_empty() => {
                return Err(bad("passphrase_env".into(), "names no variable"));
            }
            _ => {}
        }
        match (&self.api_certificate, &self.api_private_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(bad(
                    "api_certificate".into(),
                    "and api_private_key are set together or not at all",
                ));
            }
            _ if self.insecure_http && !self.http_listen.ip().is_loopback() => {
                return Err(bad(
                    "insecure_http".into(),
                    "serves plain HTTP on loopback addresses only (http_listen is not one)",
                ));
            }
            (Some(_), Some(_)) if self.insecure_http => {
                return Err(bad(
                    "api_certificate".into(),
                    "is for TLS, and insecure_http turns TLS off",
                ));
            }
            _ => {}
        }
        if self.peers.len() < 2 {
            return Err(bad(
                "peers".into(),
                "must list every other node (at least two: three nodes compute)",
            ));
        }
        let mut peers = Vec::with_capacity(self.peers.len());
        for (i, peer) in self.peers.iter().enumerate() {
            let field = |name: &str| format!("peers[{i}].{name}");
            let (id, roles) = id_and_roles(peer.id, peer.party, peer.hospital)
                .map_err(|(name, reason)| bad(field(name), reason))?;
            let key = parse_key(&peer.public_key)
                .ok_or_else(|| bad(field("public_key"), "must be 64 hex digits (ed25519)"))?;
            let member = Member {
                id,
                name: peer.name.clone(),
                key,
                roles,
            };
            peers.push((member, peer.quic));
        }
        // The roles' rules (each party once, ids and names unique) with a stand-in for this
        // node's key, which is in its data folder: `consortium` checks the keys once it is read.
        let stand_in = (0..=u8::MAX)
            .map(|b| [b; 32])
            .find(|k| peers.iter().all(|(m, _)| m.key != *k))
            .expect("fewer than 256 peers share a repeated-byte key");
        let described = Checked {
            config: self.clone(),
            id,
            roles,
            peers: peers.clone(),
        };
        if let Err(e) = described.consortium(stand_in) {
            return Err(bad("peers".into(), &e.to_string()));
        }
        self.data = base.join(&self.data);
        self.identities = base.join(&self.identities);
        self.key_file = self.key_file.map(|k| base.join(k));
        self.wire_tap = self.wire_tap.map(|t| base.join(t));
        self.api_certificate = self.api_certificate.map(|c| base.join(c));
        self.api_private_key = self.api_private_key.map(|k| base.join(k));
        self.enrolments = self.enrolments.map(|e| base.join(e));
        self.catalog_extension = self.catalog_extension.map(|c| base.join(c));
        Ok(Checked {
            config: self,
            id,
            roles,
            peers,
        })
    }
}

impl Checked {
    /// The cluster this config describes, with `own` as this node's key (read from its data
    /// folder, so not in the config). A peer pinned with this node's own key, or two nodes
    /// with one key, is refused here.
    pub fn consortium(&self, own: NodeKey) -> Result<Consortium, ConsortiumError> {
        let me = Member {
            id: self.id,
            name: self.config.name.clone(),
            key: own,
            roles: self.roles,
        };
        let others = self.peers.iter().map(|(m, _)| m.clone());
        Consortium::new(std::iter::once(me).chain(others).collect())
    }

    /// This node's id in [`Checked::consortium`].
    pub fn node_id(&self) -> NodeId {
        self.id
    }

    /// Every node's QUIC address by id (this node's own is its listen address).
    pub fn quic_addrs(&self) -> BTreeMap<NodeId, SocketAddr> {
        std::iter::once((self.id, self.config.quic_listen))
            .chain(self.peers.iter().map(|(m, addr)| (m.id, *addr)))
            .collect()
    }
}

impl NodeConfig {
    /// The key that unlocks this node's data folder (the environment variable is read now).
    pub fn key_source(&self) -> anyhow::Result<hdg_storage::KeySource> {
        let env = self
            .passphrase_env
            .as_deref()
            .unwrap_or(crate::unlock::PASSPHRASE_ENV);
        crate::unlock::key_source(self.key_file.as_deref(), env)
    }

    /// The cluster's privacy rules for queries.
    pub fn privacy_rules(&self) -> Privacy {
        match self.privacy {
            PrivacyMode::Exact => Privacy::Exact,
            PrivacyMode::Dp => Privacy::Dp(DpRules {
                delta: self.dp_delta,
                max_epsilon: self.dp_max_epsilon,
                budget_epsilon: self.dp_budget_epsilon,
                period_days: self.dp_budget_period_days,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NodeConfig {
        NodeConfig {
            name: "node0".into(),
            id: None,
            party: Some(0),
            hospital: true,
            data: "node0".into(),
            key_file: Some("keys/node0.key".into()),
            passphrase_env: None,
            quic_listen: "127.0.0.1:7000".parse().unwrap(),
            http_listen: "127.0.0.1:7100".parse().unwrap(),
            identities: "identities/registry.toml".into(),
            max_body_bytes: 1000,
            query_timeout_ms: 5000,
            max_concurrent_queries: 4,
            insecure_http: false,
            api_certificate: None,
            api_private_key: None,
            min_cohort: 10,
            clock_skew_ms: 60_000,
            consent_required: true,
            privacy: PrivacyMode::Dp,
            security: Security::Malicious,
            dp_delta: DEFAULT_DP_DELTA,
            dp_max_epsilon: DEFAULT_DP_MAX_EPSILON,
            dp_budget_epsilon: DEFAULT_DP_BUDGET_EPSILON,
            dp_budget_period_days: DEFAULT_DP_PERIOD_DAYS,
            registry_quorum: 2,
            enrolments: None,
            catalog_extension: None,
            wire_tap: None,
            peers: vec![
                PeerConfig {
                    name: "node1".into(),
                    id: None,
                    party: Some(1),
                    hospital: true,
                    public_key: "11".repeat(32),
                    quic: "127.0.0.1:7001".parse().unwrap(),
                },
                PeerConfig {
                    name: "node2".into(),
                    id: None,
                    party: Some(2),
                    hospital: true,
                    public_key: "22".repeat(32),
                    quic: "127.0.0.1:7002".parse().unwrap(),
                },
            ],
        }
    }

    #[test]
    fn a_written_config_reads_back_with_paths_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node0.toml");
        std::fs::write(&file, toml::to_string(&sample()).unwrap()).unwrap();
        let checked = NodeConfig::load(&file).unwrap();
        assert_eq!(checked.config.data, dir.path().join("node0"));
        assert_eq!(
            checked.config.key_file,
            Some(dir.path().join("keys/node0.key"))
        );
        assert_eq!(checked.node_id(), NodeId(0));
        assert_eq!(checked.peers[1].0.key, [0x22; 32]);
        let quic = checked.quic_addrs();
        assert_eq!(quic[&NodeId(1)], "127.0.0.1:7001".parse().unwrap());
        assert_eq!(quic[&NodeId(0)], "127.0.0.1:7000".parse().unwrap());
        // Written without ids or hospital flags: the three-node layout's defaults.
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("id =") && text.contains("party = 0"),
            "{text}"
        );
    }

    #[test]
    fn a_config_describes_a_consortium_of_hospitals_and_dedicated_parties() {
        // node0 computes and keeps no records; node1 is a hospital only; node2 is both; and
        // node7 and node8 (a hospital, and party P1) complete it.
        let mut c = sample();
        c.hospital = false;
        c.peers[0].party = None;
        c.peers[0].id = Some(1);
        let peer = |name: &str, id, party| PeerConfig {
            name: name.into(),
            id: Some(id),
            party,
            hospital: true,
            public_key: format!("{id:02}").repeat(32),
            quic: format!("127.0.0.1:70{id:02}").parse().unwrap(),
        };
        c.peers.push(peer("node7", 7, None));
        c.peers.push(peer("node8", 8, Some(1)));
        let checked = c
            .check(Path::new("/x/node0.toml"), Path::new("/x"))
            .unwrap();
        let cluster = checked.consortium([0x77; 32]).unwrap();
        let names: Vec<String> = cluster.members().iter().map(|m| m.to_string()).collect();
        assert_eq!(
            names,
            ["node0 (P0)", "node1", "node2 (P2)", "node7", "node8 (P1)"]
        );
        let hospitals: Vec<u16> = cluster.hospitals().map(|m| m.id.0).collect();
        assert_eq!(hospitals, [1, 2, 7, 8]);
        assert_eq!(checked.quic_addrs().len(), 5);
        assert_eq!(
            checked.quic_addrs()[&NodeId(7)],
            "127.0.0.1:7007".parse().unwrap()
        );
    }

    #[test]
    fn a_consortium_that_breaks_a_rule_is_refused_by_the_config() {
        let file = Path::new("/x/node0.toml");
        let refused = |c: NodeConfig| c.check(file, Path::new("/x")).unwrap_err().to_string();
        // A hospital that does not compute needs an id.
        let mut c = sample();
        c.peers[0].party = None;
        let e = refused(c);
        assert!(e.contains("`peers[0].id`") && e.contains("missing"), "{e}");
        // Without node1 as P1, no node computes P1.
        let mut c = sample();
        c.peers[0].party = None;
        c.peers[0].id = Some(1);
        let e = refused(c);
        assert!(
            e.contains("`peers`") && e.contains("no node is computing party P1"),
            "{e}"
        );
        // Two nodes with one id, and one node with no role at all.
        let mut c = sample();
        c.peers[1].id = Some(1);
        assert!(refused(c).contains("both have node id 1"));
        let mut c = sample();
        c.peers[0].party = None;
        c.peers[0].id = Some(1);
        c.peers[0].hospital = false;
        c.peers.push(PeerConfig {
            name: "node9".into(),
            id: Some(9),
            party: Some(1),
            hospital: true,
            public_key: "99".repeat(32),
            quic: "127.0.0.1:7009".parse().unwrap(),
        });
        let e = refused(c);
        assert!(
            e.contains("node1 is neither a hospital nor a computing party"),
            "{e}"
        );
        // One peer is not a cluster.
        let mut c = sample();
        c.peers.pop();
        assert!(refused(c).contains("every other node"));
    }

    #[test]
    fn a_config_describes_three_nodes_that_are_hospitals_and_parties() {
        let checked = sample()
            .check(Path::new("/x/node0.toml"), Path::new("/x"))
            .unwrap();
        let cluster = checked.consortium([0x77; 32]).unwrap();
        assert_eq!(cluster.party_keys(), [[0x77; 32], [0x11; 32], [0x22; 32]]);
        assert_eq!(cluster.hospitals().count(), 3);
        let names: Vec<String> = cluster.members().iter().map(|m| m.to_string()).collect();
        assert_eq!(names, ["node0 (P0)", "node1 (P1)", "node2 (P2)"]);
        // A peer pinned with this node's own key could answer in its place.
        let e = checked.consortium([0x22; 32]).unwrap_err().to_string();
        assert_eq!(e, "node0 and node2 have the same public key");
    }

    #[test]
    fn plain_http_only_on_loopback_and_a_ca_chain_comes_with_its_key() {
        let (file, base) = (Path::new("/x/node0.toml"), Path::new("/x"));
        let mut c = sample();
        c.insecure_http = true;
        assert!(c.clone().check(file, base).is_ok());
        c.http_listen = "0.0.0.0:7100".parse().unwrap();
        let e = c.check(file, base).unwrap_err().to_string();
        assert!(e.contains("insecure_http") && e.contains("loopback"), "{e}");
        let mut c = sample();
        c.api_certificate = Some("chain.pem".into());
        let e = c.clone().check(file, base).unwrap_err().to_string();
        assert!(e.contains("api_private_key"), "{e}");
        c.api_private_key = Some("key.pem".into());
        assert!(c.check(file, base).is_ok());
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let file = Path::new("/x/node0.toml");
        let mut c = sample();
        c.peers[1].public_key = "zz".into();
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(
            e.contains("/x/node0.toml") && e.contains("peers[1].public_key"),
            "{e}"
        );
        // A peer that names this node's party takes its id too, unless it gives its own.
        let mut c = sample();
        c.peers[0].party = Some(0);
        let e = c
            .clone()
            .check(file, Path::new("/x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`peers`") && e.contains("node0 and node1 both have node id 0"),
            "{e}"
        );
        c.peers[0].id = Some(1);
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(
            e.contains("`peers`") && e.contains("node0 and node1 are both computing party P0"),
            "{e}"
        );
        let mut c = sample();
        c.peers[1].party = Some(5);
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(
            e.contains("`peers[1].party`") && e.contains("0, 1 or 2"),
            "{e}"
        );
        let mut c = sample();
        c.min_cohort = 1;
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(
            e.contains("`min_cohort`") && e.contains("at least 2"),
            "{e}"
        );
        let mut c = sample();
        c.clock_skew_ms = 0;
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(e.contains("`clock_skew_ms`"), "{e}");
        let mut c = sample();
        c.passphrase_env = Some("HDG_PASSPHRASE".into());
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(e.contains("`key_file`") && e.contains("not both"), "{e}");
        let mut c = sample();
        c.key_file = None;
        let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
        assert!(e.contains("`key_file`") && e.contains("missing"), "{e}");
        // Exact answers only for synthetic data: refused with consent required.
        let mut c = sample();
        c.privacy = PrivacyMode::Exact;
        let e = c
            .clone()
            .check(file, Path::new("/x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`privacy`") && e.contains("synthetic"), "{e}");
        c.consent_required = false;
        assert!(c.check(file, Path::new("/x")).is_ok());
        for (field, set) in [
            (
                "dp_delta",
                (|c: &mut NodeConfig| c.dp_delta = 0.01) as fn(&mut NodeConfig),
            ),
            ("dp_max_epsilon", |c| c.dp_max_epsilon = 0.0),
            ("dp_budget_epsilon", |c| c.dp_budget_epsilon = 1.0),
            ("dp_budget_period_days", |c| c.dp_budget_period_days = 0),
        ] {
            let mut c = sample();
            set(&mut c);
            let e = c.check(file, Path::new("/x")).unwrap_err().to_string();
            assert!(e.contains(&format!("`{field}`")), "{e}");
        }
        let mut c = sample();
        c.party = Some(3);
        assert!(
            c.check(file, Path::new("/x"))
                .unwrap_err()
                .to_string()
                .contains("`party`")
        );

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("n.toml");
        let text = toml::to_string(&sample())
            .unwrap()
            .replace("http_listen", "http_lisen");
        std::fs::write(&f, text).unwrap();
        let e = NodeConfig::load(&f).unwrap_err().to_string();
        assert!(e.contains("n.toml") && e.contains("http_lisen"), "{e}");
    }
}
