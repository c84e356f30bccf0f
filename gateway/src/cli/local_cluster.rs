//! A cluster on this machine for `hdg demo` and `hdg bench cluster`: the folder `hdg init`
//! writes (three nodes, or a consortium of hospitals of which three compute), and one `hdg
//! node` process of this very binary per node on it (logs in
//! `DIR/node{i}.log`). Waited for through the nodes' health API, stopped with SIGTERM (a
//! clean shutdown that closes RocksDB), killed if dropped while still running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::http::{NodeUrl, get, post_with_headers};
use super::ingest::content_type_of;
use super::init::{ClusterLayout, ClusterRules, DemoPatients, node_roles, write_cluster};
use crate::clock::now;
use crate::node::config::PrivacyMode;
use hdg_client::key::read_seed;
use hdg_mpc::Security;
use hdg_wire::ingest_signature::sign_ingest;

/// How long one health request may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between two health polls.
const POLL: Duration = Duration::from_millis(100);

/// The cohort `files` dealt to the hospitals of a cluster of `hospitals` hospitals
/// ([`super::init::node_roles`]): the k-th hospital is the home node of files k, k+H, ...;
/// entry i is node i's (empty for a node that keeps no records).
pub fn deal_files(files: &[PathBuf], hospitals: usize) -> anyhow::Result<Vec<Vec<PathBuf>>> {
    let roles = node_roles(hospitals)?;
    let homes: Vec<usize> = (0..roles.len()).filter(|i| roles[*i].hospital).collect();
    let mut dealt = vec![Vec::new(); roles.len()];
    for (k, file) in files.iter().enumerate() {
        dealt[homes[k % homes.len()]].push(file.clone());
    }
    Ok(dealt)
}

/// Running node processes, one per node, and their cluster folder.
pub struct LocalCluster {
    /// Where `init` put the configs and identities.
    pub layout: ClusterLayout,
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl LocalCluster {
    /// Writes a cluster for a synthetic cohort into `dir` (request bodies up to
    /// `max_body_bytes`; no consent rule, as synthetic patients cannot be asked; answers exact
    /// or private by `privacy`, checking each other by `security`); nothing runs yet.
    pub fn write(
        dir: &Path,
        max_body_bytes: usize,
        privacy: PrivacyMode,
        security: Security,
        hospitals: usize,
    ) -> anyhow::Result<ClusterLayout> {
        let rules = ClusterRules {
            consent_required: false,
            privacy,
            security,
        };
        write_cluster(
            dir,
            None,
            max_body_bytes,
            rules,
            None,
            DemoPatients::default(),
            hospitals,
        )
    }

    /// Writes a cluster into `dir` whose `patients` demo patients are enrolled at every node as
    /// the patients `hdg synth` makes with `synth_seed`, and must consent before their values
    /// are used (private answers, malicious security: as `hdg init` writes it).
    pub fn write_enrolled(
        dir: &Path,
        max_body_bytes: usize,
        patients: usize,
        synth_seed: u64,
        hospitals: usize,
    ) -> anyhow::Result<ClusterLayout> {
        let rules = ClusterRules {
            consent_required: true,
            privacy: PrivacyMode::Dp,
            security: Security::Malicious,
        };
        let patients = DemoPatients {
            count: patients,
            enrol_synth_seed: Some(synth_seed),
        };
        write_cluster(dir, None, max_body_bytes, rules, None, patients, hospitals)
    }

    /// Starts every node of the cluster `layout` in `dir`.
    pub fn start(dir: &Path, layout: ClusterLayout) -> anyhow::Result<LocalCluster> {
        let exe = std::env::current_exe().context("cannot find the hdg binary to start nodes")?;
        let mut cluster = LocalCluster {
            layout,
            dir: dir.to_path_buf(),
            children: Vec::new(),
        };
        for i in 0..cluster.layout.configs.len() {
            let log_path = cluster.log(i);
            let log = std::fs::File::create(&log_path)
                .with_context(|| format!("cannot create {}", log_path.display()))?;
            let child = Command::new(&exe)
                .arg("node")
                .arg("--config")
                .arg(&cluster.layout.configs[i])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start node{i}"))?;
            cluster.children.push(Some(child));
        }
        Ok(cluster)
    }

    /// How many nodes the cluster has.
    pub fn nodes(&self) -> usize {
        self.layout.configs.len()
    }

    /// Node `i`'s API (https, pinned to the cluster's node keys).
    pub fn url(&self, i: usize) -> anyhow::Result<NodeUrl> {
        NodeUrl::open(
            &format!("https://{}", self.layout.http[i]),
            Some(&self.layout.node_keys()?),
            false,
        )
    }

    /// Posts `homes[i]`'s files to node i, signed by node i's demo source, the nodes in parallel
    /// (a node with no files, which may hold no records, is not asked), with a progress bar; returns the records stored. A refused file is an error naming the
    /// file and the reason.
    pub fn post_files(&self, homes: &[Vec<PathBuf>]) -> anyhow::Result<u64> {
        let total: usize = homes.iter().map(Vec::len).sum();
        let bar = ProgressBar::new(total as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let results: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
            let handles: Vec<_> = homes
                .iter()
                .enumerate()
                .filter(|(_, files)| !files.is_empty())
                .map(|(i, files)| {
                    let (node, bar) = (self.url(i), bar.clone());
                    let source = self.layout.source_key(i);
                    s.spawn(move || -> anyhow::Result<u64> {
                        let node = node?;
                        let source = read_seed(&source)?;
                        let mut stored = 0;
                        for file in files {
                            let body = std::fs::read(file)
                                .with_context(|| format!("cannot read {}", file.display()))?;
                            let content_type = content_type_of(file);
                            let (status, receipt) = post_with_headers(
                                &node,
                                "/v1/observations",
                                content_type,
                                &sign_ingest(&source, content_type, &body, now()),
                                &body,
                                Duration::from_secs(300),
                            )
                            .with_context(|| format!("posting {} to node{i}", file.display()))?;
                            if status != 200 {
                                bail!(
                                    "node{i} refused {} ({status}): {}",
                                    file.display(),
                                    receipt["error"].as_str().unwrap_or("no reason given")
                                );
                            }
                            stored += receipt["records"].as_array().map_or(0, Vec::len) as u64;
                            bar.inc(1);
                        }
                        Ok(stored)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        bar.finish_and_clear();
        results.into_iter().sum()
    }

    /// Node `i`'s log file.
    pub fn log(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{i}.log"))
    }

    /// Node `i`'s health report.
    pub fn health(&self, i: usize) -> anyhow::Result<Value> {
        let (status, health) = get(&self.url(i)?, "/v1/health", HEALTH_TIMEOUT)?;
        if status != 200 {
            bail!("node{i} health answered {status}");
        }
        Ok(health)
    }

    /// Waits until every node answers health linked to every other node.
    pub fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let others = self.nodes() as u64 - 1;
        self.wait_until(within, "linked to every other node", |health| {
            health["peers_connected"].as_u64() >= Some(others)
        })
    }

    /// Waits until every node's outbox is empty (every value shared to the three parties);
    /// `progress` gets the total still queued after each poll.
    pub fn wait_shared(
        &mut self,
        within: Duration,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let mut queued = 0;
            for i in 0..self.nodes() {
                self.check_running(i)?;
                queued += self.health(i)?["outbox"]
                    .as_u64()
                    .context("health does not report the outbox")?;
            }
            progress(queued);
            if queued == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{queued} observations still not shared after {within:?}");
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait_until(
        &mut self,
        within: Duration,
        what: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        for i in 0..self.nodes() {
            loop {
                self.check_running(i)?;
                if self.health(i).is_ok_and(|h| ready(&h)) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "node{i} not {what} within {within:?} (log: {})",
                        self.log(i).display()
                    );
                }
                std::thread::sleep(POLL);
            }
        }
        Ok(())
    }

    /// An error naming node `i`'s exit and its log when it is no longer running.
    fn check_running(&mut self, i: usize) -> anyhow::Result<()> {
        let child = self.children[i]
            .as_mut()
            .with_context(|| format!("node{i} was stopped"))?;
        if let Some(status) = child.try_wait()? {
            bail!(
                "node{i} exited ({status}); its log: {}",
                self.log(i).display()
            );
        }
        Ok(())
    }

    /// Stops every node with SIGTERM and waits (up to `within` each) for a clean exit.
    pub fn stop(&mut self, within: Duration) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        for i in 0..self.nodes() {
            let Some(mut child) = self.children[i].take() else {
                continue;
            };
            let sent = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            if !sent.is_ok_and(|s| s.success()) {
                let _ = child.kill();
            }
            let deadline = Instant::now() + within;
            let status = loop {
                if let Some(status) = child.try_wait()? {
                    break Some(status);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            match status {
                Some(s) if s.success() => {}
                Some(s) => failures.push(format!("node{i} exited with {s}")),
                None => failures.push(format!("node{i} did not stop within {within:?}: killed")),
            }
        }
        if !failures.is_empty() {
            bail!("{}", failures.join("; "));
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
