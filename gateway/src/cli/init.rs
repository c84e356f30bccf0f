//! `hdg init --cluster DIR [--hospitals N]`: everything a cluster on one machine needs: three
//! nodes that are hospitals and computing parties (the default), or N hospitals of which nodes
//! 0-2 compute ([`node_roles`]).
//!
//! For each node i: `DIR/node{i}/`, its data folder, whose keyring (master key and node identity)
//! the store seals under `DIR/keys/node{i}.key` — a key file outside the data folder, as an
//! operator keeps it (mode 0600) — and `DIR/node{i}.toml` (data folder, key file, QUIC and HTTP
//! addresses on 127.0.0.1, its id and roles, the other nodes pinned by ed25519 key with theirs).
//! `DIR/cluster.toml` is what clients pin: every node's name, id, roles, public key and API
//! address. Plus demo
//! identities in `DIR/identities/`: a research institution and a few patients, each seed in a
//! 0600 file, the public keys in `registry.toml`, which the nodes load. With `--patients N`, N
//! demo patients enrolled at every node (`identities/enrolments.toml`) as the patients of
//! `hdg synth --patients N`, so their records carry the pseudonyms of their keys and they can
//! consent and audit.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail, ensure};
use hdg_storage::{KeySource, Store};

use hdg_client::cluster_file::{CLUSTER_FILE, ClusterFile, ClusterNode};
use hdg_client::key::write_new_seed;
use hdg_mpc::{PartyId, Security};
use hdg_wire::consortium::Roles;

use crate::node::config::{DEFAULT_MAX_BODY_BYTES, NodeConfig, PeerConfig, PrivacyMode};
use crate::node::registry::{EnrolmentEntry, EnrolmentsFile, IdentityEntry, RegistryFile, Role};
use hdg_wire::Purpose;

/// The identities folder inside the cluster folder.
const IDENTITIES: &str = "identities";
/// The folder of the nodes' key files inside the cluster folder.
const KEYS: &str = "keys";
/// The registry file inside the identities folder.
const REGISTRY: &str = "registry.toml";
/// The enrolments file inside the identities folder (with `--patients`).
const ENROLMENTS: &str = "enrolments.toml";
/// Demo patients written by `init` without `--patients`.
const DEMO_PATIENTS: usize = 3;
/// Most demo patients `--patients` writes (a key file each).
const MAX_DEMO_PATIENTS: usize = 10_000;

/// The demo patients `init` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoPatients {
    /// How many (`identities/patient-{i}.key`, registered as patients).
    pub count: usize,
    /// Enrol patient i at every node as patient i - 1 of `hdg synth` with this seed.
    pub enrol_synth_seed: Option<u64>,
}

impl Default for DemoPatients {
    /// Three patients, registered but not enrolled.
    fn default() -> DemoPatients {
        DemoPatients {
            count: DEMO_PATIENTS,
            enrol_synth_seed: None,
        }
    }
}

/// Arguments of `hdg init`.
#[derive(clap::Args)]
pub struct Args {
    /// The cluster folder to create (must not hold a cluster already).
    #[arg(long, value_name = "DIR")]
    cluster: PathBuf,
    /// Number of nodes: the hospitals and the three computing parties together, so 3 (the
    /// default) or the number of `--hospitals` when there are more than three.
    #[arg(long)]
    nodes: Option<usize>,
    /// Number of hospitals (nodes that hold records and share their values): nodes 0-2 are
    /// the computing parties and hospitals too, nodes 3 and up hospitals only; with fewer than
    /// three, the remaining parties keep no records.
    #[arg(long, default_value_t = 3, value_name = "N")]
    hospitals: usize,
    /// First port: node i's QUIC port is BASE+i and its HTTP port BASE+NODES+i. Default: free
    /// ports at random below the kernel's ephemeral range, so no outgoing connection takes one
    /// before its node starts.
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Largest request body the nodes accept, bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Queries use every shared row, consented or not: only for synthetic data, whose patients
    /// cannot be asked (the default requires a patient's consent for each row).
    #[arg(long)]
    without_consent: bool,
    /// `dp`: differentially private answers charged to each researcher's budget (the
    /// default); `exact`: exact answers, for synthetic data only (needs --without-consent).
    #[arg(long, default_value = "dp", value_parser = privacy_mode)]
    privacy: PrivacyMode,
    /// `malicious`: the parties check each other and abort when one deviates (the default);
    /// `semi-honest`: no checks, for benchmarks.
    #[arg(long, default_value = "malicious")]
    security: Security,
    /// A catalog extension file (TOML in the catalog's format) with the cluster's local codes:
    /// checked, copied into the cluster folder and named by every node's config and the cluster
    /// file.
    #[arg(long, value_name = "FILE")]
    catalog_extension: Option<PathBuf>,
    /// Write N demo patients (`identities/patient-{i}.key`), registered as patients and
    /// enrolled at every node as the patients of `hdg synth --patients N` (same seed), so they
    /// can consent to a query over their records (default: 3 patients, not enrolled).
    #[arg(long, value_name = "N")]
    patients: Option<usize>,
    /// The `hdg synth --seed` whose patients `--patients` enrols.
    #[arg(long, default_value_t = 1, requires = "patients")]
    synth_seed: u64,
}

/// The rules a cluster's nodes share (and compare before every query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterRules {
    /// Queries use only rows a patient's consent covers.
    pub consent_required: bool,
    /// Exact or differentially private answers.
    pub privacy: PrivacyMode,
    /// Whether the parties check each other.
    pub security: Security,
}

/// Parses `--privacy`.
fn privacy_mode(text: &str) -> Result<PrivacyMode, String> {
    match text {
        "dp" => Ok(PrivacyMode::Dp),
        "exact" => Ok(PrivacyMode::Exact),
        other => Err(format!("{other}: expected dp or exact")),
    }
}

/// Where `init` put a cluster's files.
#[derive(Debug, Clone)]
pub struct ClusterLayout {
    /// Node i's config file.
    pub configs: Vec<PathBuf>,
    /// Node i's HTTP API address.
    pub http: Vec<SocketAddr>,
    /// Node i's QUIC address.
    pub quic: Vec<SocketAddr>,
    /// Node i's data folder (store and sealed keyring).
    pub data: Vec<PathBuf>,
    /// Node i's key file, which unlocks its data folder's keyring.
    pub keys: Vec<PathBuf>,
    /// The demo identities' folder (seed files and the registry).
    pub identities: PathBuf,
    /// The cluster file clients pin (`cluster.toml`).
    pub cluster_file: PathBuf,
}

impl ClusterLayout {
    /// Opens node i's store (the node must be stopped).
    pub fn open_store(&self, i: usize) -> anyhow::Result<Store> {
        Store::open(&self.data[i], false, &KeySource::File(self.keys[i].clone()))
            .with_context(|| format!("cannot open node{i}'s store"))
    }

    /// The three computing parties' public keys, as clients pin them (from the cluster file).
    pub fn pins(&self) -> anyhow::Result<[[u8; 32]; 3]> {
        ClusterFile::load(&self.cluster_file)?.pins()
    }

    /// Every node's public key, in node order (node i's is entry i), from the cluster file.
    pub fn node_keys(&self) -> anyhow::Result<Vec<[u8; 32]>> {
        ClusterFile::load(&self.cluster_file)?.node_keys()
    }

    /// The demo patients' enrolments (written with `--patients`), as every node loads them.
    pub fn enrolments(&self) -> PathBuf {
        self.identities.join(ENROLMENTS)
    }

    /// The seed file of node i's demo source (its EHR feed).
    pub fn source_key(&self, i: usize) -> PathBuf {
        self.identities.join(format!("{}.key", source_name(i)))
    }

    /// The seed file of the demo research institution.
    pub fn researcher_key(&self) -> PathBuf {
        self.identities.join("research-institute.key")
    }
}

/// Writes the cluster and prints where everything is.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let nodes = node_roles(args.hospitals)?.len();
    if let Some(asked) = args.nodes {
        ensure!(
            asked == nodes,
            "--nodes {asked}: {} hospitals and three computing parties make {nodes} nodes (three compute; give --hospitals for more nodes)",
            args.hospitals
        );
    }
    let patients = match args.patients {
        Some(count) => DemoPatients {
            count,
            enrol_synth_seed: Some(args.synth_seed),
        },
        None => DemoPatients::default(),
    };
    let layout = write_cluster(
        &args.cluster,
        args.base_port,
        args.max_body_bytes,
        ClusterRules {
            consent_required: !args.without_consent,
            privacy: args.privacy,
            security: args.security,
        },
        args.catalog_extension.as_deref(),
        patients,
        args.hospitals,
    )?;
    println!(
        "cluster of {nodes} nodes ({} hospitals, three computing parties) in {}",
        args.hospitals,
        args.cluster.display()
    );
    for (i, roles) in node_roles(args.hospitals)?.into_iter().enumerate() {
        println!(
            "  node{i} ({}): hdg node --config {}   (HTTP {}, QUIC {})",
            describe(roles),
            layout.configs[i].display(),
            layout.http[i],
            layout.quic[i]
        );
    }
    println!("  identities: {}", layout.identities.display());
    if let Some(seed) = patients.enrol_synth_seed {
        println!(
            "  patients: patient-1 to patient-{n} (keys in identities/), enrolled at every node as the patients of `hdg synth --patients {n} --seed {seed}`",
            n = patients.count
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a cluster of `hospitals` hospitals into `dir` (see the module doc and
/// [`node_roles`]): ports from `base_port` or
/// free ones, request bodies capped at `max_body_bytes`, queries restricted to consented rows
/// when `rules.consent_required`, answers exact or private by `rules.privacy` (exact is refused
/// with consent), checks by `rules.security`, the built-in catalog with `catalog_extension`
/// (checked and copied into the cluster) if given, and `patients`. Refuses to overwrite a
/// cluster.
pub fn write_cluster(
    dir: &Path,
    base_port: Option<u16>,
    max_body_bytes: usize,
    rules: ClusterRules,
    catalog_extension: Option<&Path>,
    patients: DemoPatients,
    hospitals: usize,
) -> anyhow::Result<ClusterLayout> {
    let roles = node_roles(hospitals)?;
    let nodes = roles.len();
    let ClusterRules {
        consent_required,
        privacy,
        security,
    } = rules;
    ensure!(
        !(consent_required && privacy == PrivacyMode::Exact),
        "--privacy exact is for synthetic data only: it needs --without-consent"
    );
    ensure!(max_body_bytes > 0, "--max-body-bytes must be positive");
    ensure!(
        (1..=MAX_DEMO_PATIENTS).contains(&patients.count),
        "--patients {}: from 1 to {MAX_DEMO_PATIENTS} (a key file each)",
        patients.count
    );
    for i in 0..nodes {
        let existing = config_path(dir, i);
        if existing.exists() || dir.join(format!("node{i}")).exists() {
            bail!(
                "{} already holds a cluster (node{i}); refusing to overwrite it",
                dir.display()
            );
        }
    }
    let extension = catalog_extension
        .map(|path| -> anyhow::Result<PathBuf> {
            hdg_client::catalog_extension::load(path)?;
            Ok(PathBuf::from(hdg_client::catalog_extension::FILE_NAME))
        })
        .transpose()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let (Some(from), Some(to)) = (catalog_extension, &extension) {
        std::fs::copy(from, dir.join(to))
            .with_context(|| format!("cannot copy {} into the cluster", from.display()))?;
    }
    private_dir(&dir.join(KEYS))?;
    let (quic, http) = ports(base_port, nodes)?;
    let mut keys = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let data = dir.join(format!("node{i}"));
        // The store makes its keyring and database; the key file that seals the keyring is
        // made (mode 0600) outside the data folder.
        let unlock = KeySource::File(dir.join(key_file(i)));
        let store = Store::open(&data, true, &unlock)
            .with_context(|| format!("cannot create the store in {}", data.display()))?;
        keys.push(store.node_signing_key().verifying_key().to_bytes());
    }
    let enrolments = write_identities(&dir.join(IDENTITIES), patients, &roles)?;
    for i in 0..nodes {
        let config = NodeConfig {
            name: format!("node{i}"),
            id: node_id(i, roles[i]),
            party: roles[i].party.map(|p| p.index()),
            hospital: roles[i].hospital,
            data: PathBuf::from(format!("node{i}")),
            key_file: Some(key_file(i)),
            passphrase_env: None,
            quic_listen: quic[i],
            http_listen: http[i],
            identities: Path::new(IDENTITIES).join(REGISTRY),
            max_body_bytes,
            query_timeout_ms: crate::node::config::DEFAULT_QUERY_TIMEOUT_MS,
            max_concurrent_queries: crate::node::config::DEFAULT_MAX_CONCURRENT_QUERIES,
            insecure_http: false,
            api_certificate: None,
            api_private_key: None,
            min_cohort: crate::node::config::DEFAULT_MIN_COHORT,
            clock_skew_ms: crate::node::config::DEFAULT_CLOCK_SKEW_MS,
            consent_required,
            privacy,
            security,
            dp_delta: crate::node::config::DEFAULT_DP_DELTA,
            dp_max_epsilon: crate::node::config::DEFAULT_DP_MAX_EPSILON,
            dp_budget_epsilon: crate::node::config::DEFAULT_DP_BUDGET_EPSILON,
            dp_budget_period_days: crate::node::config::DEFAULT_DP_PERIOD_DAYS,
            registry_quorum: 2,
            enrolments: enrolments.clone(),
            catalog_extension: extension.clone(),
            wire_tap: None,
            peers: (0..nodes)
                .filter(|j| *j != i)
                .map(|j| PeerConfig {
                    name: format!("node{j}"),
                    id: node_id(j, roles[j]),
                    party: roles[j].party.map(|p| p.index()),
                    hospital: roles[j].hospital,
                    public_key: hex::encode(keys[j]),
                    quic: quic[j],
                })
                .collect(),
        };
        let text = toml::to_string(&config).context("cannot write a node config")?;
        std::fs::write(config_path(dir, i), text)
            .with_context(|| format!("cannot write {}", config_path(dir, i).display()))?;
    }
    let cluster = ClusterFile {
        nodes: (0..nodes)
            .map(|i| ClusterNode {
                name: format!("node{i}"),
                id: node_id(i, roles[i]),
                party: roles[i].party.map(|p| p.index()),
                hospital: roles[i].hospital,
                public_key: hex::encode(keys[i]),
                api: format!("https://{}", http[i]),
            })
            .collect(),
        catalog_extension: extension,
    };
    let text = toml::to_string(&cluster).context("cannot write the cluster file")?;
    let path = dir.join(CLUSTER_FILE);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ClusterLayout {
        configs: (0..nodes).map(|i| config_path(dir, i)).collect(),
        http,
        quic,
        data: (0..nodes).map(|i| dir.join(format!("node{i}"))).collect(),
        keys: (0..nodes).map(|i| dir.join(key_file(i))).collect(),
        identities: dir.join(IDENTITIES),
        cluster_file: path,
    })
}

/// Most hospitals `init` writes on one machine.
pub const MAX_HOSPITALS: usize = 64;

/// The roles of the nodes of a cluster of `hospitals` hospitals on one machine: nodes 0-2 are
/// the computing parties P0-P2, each also a hospital while there are hospitals left, and nodes
/// 3 and up are hospitals that do not compute. So 3 is the three-node layout, 5 adds two
/// hospitals, and 1 leaves P1 and P2 to institutions that keep no records.
pub fn node_roles(hospitals: usize) -> anyhow::Result<Vec<Roles>> {
    ensure!(
        (1..=MAX_HOSPITALS).contains(&hospitals),
        "--hospitals {hospitals}: from 1 to {MAX_HOSPITALS}"
    );
    Ok((0..hospitals.max(3))
        .map(|i| Roles {
            hospital: i < hospitals,
            party: PartyId::ALL.get(i).copied(),
        })
        .collect())
}

/// What a node with `roles` does, as `init` and the demo print it: `hospital, P0`,
/// `hospital`, or `P1, no records`.
pub fn describe(roles: Roles) -> String {
    match (roles.hospital, roles.party) {
        (true, Some(p)) => format!("hospital, {p}"),
        (true, None) => "hospital".to_string(),
        (false, Some(p)) => format!("{p}, no records"),
        (false, None) => "no role".to_string(),
    }
}

/// The id a config writes for node i: none for a computing party (its party index is its id,
/// as in the three-node layout), i for a hospital that does not compute.
fn node_id(i: usize, roles: Roles) -> Option<u16> {
    match roles.party {
        Some(_) => None,
        None => Some(i as u16),
    }
}

/// Node i's key file, relative to the cluster folder (outside its data folder).
fn key_file(i: usize) -> PathBuf {
    Path::new(KEYS).join(format!("node{i}.key"))
}

/// Node i's config file in a cluster folder.
pub fn config_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}.toml"))
}

/// QUIC and HTTP addresses of every node on 127.0.0.1.
fn ports(base: Option<u16>, nodes: usize) -> anyhow::Result<(Vec<SocketAddr>, Vec<SocketAddr>)> {
    let at = |port: u16| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match base {
        Some(base) => {
            let last = usize::from(base) + 2 * nodes - 1;
            ensure!(
                base > 0 && last <= usize::from(u16::MAX),
                "--base-port {base}: the ports BASE..BASE+{} must fit in 1..65535",
                2 * nodes - 1
            );
            let n = nodes as u16;
            Ok((
                (0..n).map(|i| at(base + i)).collect(),
                (0..n).map(|i| at(base + n + i)).collect(),
            ))
        }
        None => super::ports::cluster_ports(nodes),
    }
}

/// Writes the demo identities: seeds in 0600 files, public keys in the registry; with
/// `patients.enrol_synth_seed`, the patients' enrolments too, whose path (relative to the
/// cluster folder, as a node config names it) is returned.
fn write_identities(
    dir: &Path,
    patients: DemoPatients,
    roles: &[Roles],
) -> anyhow::Result<Option<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Each identity's name and role, and for a patient whom `hdg synth` makes, their reference.
    let synth_reference = |i: usize| {
        patients
            .enrol_synth_seed
            .map(|seed| format!("Patient/{}", hdg_schema::synth::patient_id(seed, i as u64)))
    };
    // Staff and feeds belong to a node (node i's name): clinician-1 works at the first hospital,
    // admin-i administers node i, and each hospital's feed signs its records. Researchers and
    // patients belong to none.
    let node = |i: usize| Some(format!("node{i}"));
    let mut names = vec![(
        "research-institute".to_string(),
        Role::Researcher,
        None,
        None,
    )];
    names.extend((0..patients.count).map(|i| {
        (
            format!("patient-{}", i + 1),
            Role::Patient,
            synth_reference(i),
            None,
        )
    }));
    let hospitals: Vec<usize> = (0..roles.len()).filter(|i| roles[*i].hospital).collect();
    names.push((
        "clinician-1".to_string(),
        Role::Clinician,
        None,
        node(hospitals[0]),
    ));
    names.extend((0..roles.len()).map(|i| (format!("admin-{i}"), Role::Admin, None, node(i))));
    names.extend(
        hospitals
            .iter()
            .map(|&i| (source_name(i), Role::Source, None, node(i))),
    );
    let mut registry = RegistryFile::default();
    let mut enrolled = EnrolmentsFile::default();
    for (name, role, reference, hospital) in names {
        let key = write_new_seed(&dir.join(format!("{name}.key")))?;
        let public_key = hex::encode(key.verifying_key().to_bytes());
        if let Some(reference) = reference {
            enrolled.patients.push(EnrolmentEntry {
                reference,
                public_key: public_key.clone(),
            });
        }
        registry.identities.push(IdentityEntry {
            name,
            role,
            public_key,
            // The demo institute does research and aggregate statistics, never treatment.
            purposes: if role == Role::Researcher {
                vec![Purpose::Research, Purpose::Statistics]
            } else {
                Vec::new()
            },
            hospital,
        });
    }
    let text = toml::to_string(&registry).context("cannot write the identity registry")?;
    let path = dir.join(REGISTRY);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if patients.enrol_synth_seed.is_none() {
        return Ok(None);
    }
    let text = toml::to_string(&enrolled).context("cannot write the enrolments")?;
    let path = dir.join(ENROLMENTS);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(Path::new(IDENTITIES).join(ENROLMENTS)))
}

/// The demo source (EHR feed) of node i.
pub fn source_name(i: usize) -> String {
    format!("source-node{i}")
}

/// Makes a folder only its owner may enter (mode 0700).
fn private_dir(path: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_compute_and_the_hospitals_fill_them_first() {
        let described = |h| -> Vec<(bool, Option<usize>)> {
            node_roles(h)
                .unwrap()
                .iter()
                .map(|r| (r.hospital, r.party.map(|p| p.index())))
                .collect()
        };
        assert_eq!(
            described(3),
            [(true, Some(0)), (true, Some(1)), (true, Some(2))]
        );
        assert_eq!(
            described(5),
            [
                (true, Some(0)),
                (true, Some(1)),
                (true, Some(2)),
                (true, None),
                (true, None)
            ]
        );
        assert_eq!(
            described(1),
            [(true, Some(0)), (false, Some(1)), (false, Some(2))]
        );
        for bad in [0, MAX_HOSPITALS + 1] {
            let e = node_roles(bad).unwrap_err().to_string();
            assert!(e.contains("--hospitals"), "{e}");
        }
        // Node ids: a party's is its index (none written), a hospital's its position.
        let roles = node_roles(5).unwrap();
        let ids: Vec<Option<u16>> = (0..5).map(|i| node_id(i, roles[i])).collect();
        assert_eq!(ids, [None, None, None, Some(3), Some(4)]);
    }
}
