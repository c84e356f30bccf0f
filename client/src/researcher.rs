//! A researcher at a cluster: the cluster file's pins, the coordinator's pinned HTTP client and
//! the researcher's signing key, loaded once; then one call per question, from the request in
//! words to the checked, opened answer in units.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;

use crate::cluster_file::ClusterFile;
use crate::http::{NodeUrl, get};
use crate::key::read_seed;
use crate::query::{Question, Refused, ask};
use crate::report::Report;
use crate::request::Request;

/// A researcher's connection to a cluster.
pub struct Researcher {
    node: NodeUrl,
    pins: [[u8; 32]; 3],
    key: SigningKey,
}

impl Researcher {
    /// Loads the cluster file at `cluster` (which makes the cluster's catalog this process's
    /// catalog) and the key at `key`, and dials `node` (default: party 0's API), pinned to that
    /// node's key from the cluster file; a plain-HTTP node only with `insecure_http`.
    pub fn open(
        cluster: &Path,
        key: &Path,
        node: Option<&str>,
        insecure_http: bool,
    ) -> anyhow::Result<Researcher> {
        let file = ClusterFile::load(cluster)?;
        let pins = file.pins()?;
        let url = match node {
            Some(url) => url.to_owned(),
            None => file
                .api(0)
                .context("the cluster file names no API for node 0")?
                .to_owned(),
        };
        let pin = if url.starts_with("https://") {
            Some([file.key_of_api(&url)?])
        } else {
            None
        };
        let node = NodeUrl::open(&url, pin.as_ref().map(|p| p.as_slice()), insecure_http)?;
        Ok(Researcher {
            node,
            pins,
            key: read_seed(key)?,
        })
    }

    /// The coordinator's base URL.
    pub fn node(&self) -> &str {
        self.node.base()
    }

    /// The coordinator's health report (`GET /v1/health`: its peers, its outbox of shares not
    /// yet delivered), over the pinned connection; `Err` when it cannot be reached or answers
    /// with another status than 200.
    pub fn health(&self, timeout: Duration) -> anyhow::Result<serde_json::Value> {
        let (status, body) = get(&self.node, "/v1/health", timeout)?;
        if status != 200 {
            anyhow::bail!("{}: health answered {status}: {body}", self.node.base());
        }
        Ok(body)
    }

    /// Asks `request` and waits at most `timeout`; with `save_request`, also writes the signed
    /// request as posted there. `Ok(Err(_))` is the cluster's refusal; `Err` a request that does
    /// not read, a failure to ask, or an answer refused by a check.
    pub fn ask(
        &self,
        request: &Request,
        timeout: Duration,
        save_request: Option<&Path>,
    ) -> anyhow::Result<Result<Report, Refused>> {
        self.ask_question(request, request.question()?, timeout, save_request)
    }

    /// [`Researcher::ask`] of `question`, which `request` reads as ([`Request::question`]):
    /// for a caller that read it already, to tell a request that does not read from a failure
    /// to ask.
    pub fn ask_question(
        &self,
        request: &Request,
        question: Question,
        timeout: Duration,
        save_request: Option<&Path>,
    ) -> anyhow::Result<Result<Report, Refused>> {
        let statistic = question.statistic.clone();
        match ask(
            &self.node,
            &self.pins,
            &self.key,
            question,
            timeout,
            save_request,
        )? {
            Ok(answer) => Ok(Ok(Report::new(request, &statistic, &answer)?)),
            Err(refused) => Ok(Err(refused)),
        }
    }
}
