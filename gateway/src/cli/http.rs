//! How a command reaches a node: `--node URL` with the trust it is dialled with. The client
//! itself (pinning, requests, answers) is `hdg_client::http`, re-exported here for the commands.

use std::path::PathBuf;

pub use hdg_client::http::{NodeUrl, connect, get, post, post_with_headers};
use hdg_tls::ca::load_certificates;

/// How a command reaches a node: `--node URL`, with `--cluster FILE` for the keys it pins, or
/// `--insecure-http` for a node that serves plain HTTP.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node's API, `https://host:port` (`http://` only with --insecure-http).
    #[arg(long)]
    pub node: String,
    /// The cluster file (`cluster.toml` from `hdg init`, or its folder): the node keys an
    /// https node must present.
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Trust the node by a certificate authority instead (PEM roots): for a node that serves a
    /// chain from its hospital's CA (`api_certificate`); the URL's host must be in it.
    #[arg(long, value_name = "FILE", conflicts_with = "cluster")]
    pub ca: Option<PathBuf>,
    /// Allow plain HTTP (a node with `insecure_http = true`; local debugging only: everything,
    /// raw records included, crosses the network in the clear).
    #[arg(long)]
    pub insecure_http: bool,
}

impl NodeArgs {
    /// The node, trusted as the arguments say.
    pub fn open(&self) -> anyhow::Result<NodeUrl> {
        match &self.ca {
            Some(ca) => NodeUrl::open_with_ca(&self.node, &load_certificates(ca)?),
            None => connect(&self.node, self.cluster.as_deref(), self.insecure_http),
        }
    }
}
