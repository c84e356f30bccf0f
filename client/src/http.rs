//! The client of a node's JSON API, on reqwest (blocking, rustls with the ring provider).
//!
//! A node serves its API over TLS 1.3 with the certificate of its node key, the key the
//! cluster file (`cluster.toml`) pins. A client connects to `https://host:port` and accepts only
//! a certificate whose key is one of the cluster's node keys: no CA, no name or date checks,
//! as between the nodes themselves ([`hdg_tls::pinning`]). A hospital that runs a CA may give
//! a node a chain from it instead; its clients say `--ca FILE` and get WebPKI checks (chain,
//! dates, the host name) against those roots ([`hdg_tls::ca`]). Plain `http://` is refused unless
//! the caller says `--insecure-http` (a node started with `insecure_http = true`, for local
//! debugging only).

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use hdg_tls::ca::api_client_config_with_roots;
use hdg_tls::identity::NodeKey;
use hdg_tls::pinning::api_client_config;
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;

use crate::cluster_file::ClusterFile;

/// A node's API, ready to be asked: its base URL and a client that trusts what it must.
#[derive(Debug, Clone)]
pub struct NodeUrl {
    base: String,
    client: Client,
}

/// The node at `url`, pinned to its own node key from the cluster file at `cluster` (for
/// https; the file must list `url` as a node's API), or plain with `insecure_http`.
pub fn connect(url: &str, cluster: Option<&Path>, insecure_http: bool) -> anyhow::Result<NodeUrl> {
    let pin = match cluster {
        Some(path) if url.starts_with("https://") => {
            Some(ClusterFile::load(path)?.key_of_api(url)?)
        }
        _ => None,
    };
    NodeUrl::open(url, pin.as_ref().map(std::slice::from_ref), insecure_http)
}

/// `(scheme is https, host:port)` of `url`; anything but a bare scheme://host:port is refused.
fn split_url(url: &str) -> anyhow::Result<(bool, &str)> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        bail!("node URL must start with https:// (or http:// with --insecure-http)");
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty()
        || !authority.contains(':')
        || authority.contains(['/', '@', '?', '#', '\\'])
    {
        bail!("node URL must be https://host:port");
    }
    Ok((tls, authority))
}

impl NodeUrl {
    /// `url` trusted as follows: `https://` accepts only a node presenting one of `pins` (and
    /// needs them); `http://` only with `insecure_http`.
    pub fn open(
        url: &str,
        pins: Option<&[NodeKey]>,
        insecure_http: bool,
    ) -> anyhow::Result<NodeUrl> {
        let (tls, authority) = split_url(url)?;
        let config = if tls {
            let pins = pins.context(
                "an https node is trusted by its key: give --cluster FILE (the cluster.toml its operator handed out), or --ca FILE for a node with a certificate from its hospital's CA",
            )?;
            api_client_config(pins).context("TLS client configuration")?
        } else {
            if !insecure_http {
                bail!(
                    "{url} is plain HTTP: records and signed requests would cross the network in the clear; use https:// (or --insecure-http to debug a local node)"
                );
            }
            // Plain HTTP never handshakes, but the client still wants a TLS configuration
            // of its own: one that trusts no key at all.
            api_client_config(&[]).context("TLS client configuration")?
        };
        NodeUrl::with_tls(tls, authority, config)
    }

    /// `url` (https only) trusted by a certificate authority: its chain must lead to one of
    /// `roots` and name the URL's host.
    pub fn open_with_ca(url: &str, roots: &[CertificateDer<'static>]) -> anyhow::Result<NodeUrl> {
        let (tls, authority) = split_url(url)?;
        if !tls {
            bail!("--ca is for https:// nodes");
        }
        NodeUrl::with_tls(tls, authority, api_client_config_with_roots(roots)?)
    }

    fn with_tls(tls: bool, authority: &str, config: ClientConfig) -> anyhow::Result<NodeUrl> {
        // No redirects: a node never sends one, and following one could carry a signed
        // request or records to another host, or down to plain HTTP.
        let client = Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(tls)
            .tls_backend_preconfigured(config)
            .build()
            .context("cannot set up the HTTP client")?;
        let scheme = if tls { "https" } else { "http" };
        Ok(NodeUrl {
            base: format!("{scheme}://{authority}"),
            client,
        })
    }

    /// The base URL, `scheme://host:port`.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// POSTs `body` to `path` with `content_type` and returns the status and the JSON answer;
/// `timeout` bounds the whole exchange.
pub fn post(
    node: &NodeUrl,
    path: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> anyhow::Result<(u16, Value)> {
    post_with_headers(node, path, content_type, &[], body, timeout)
}

/// [`post`] with extra request `headers` (a source's signature of an ingest).
pub fn post_with_headers(
    node: &NodeUrl,
    path: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
) -> anyhow::Result<(u16, Value)> {
    let mut request = node
        .client
        .post(format!("{}{path}", node.base))
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    exchange(node, request, timeout)
}

/// GETs `path` and returns the status and the JSON answer; `timeout` as for [`post`].
pub fn get(node: &NodeUrl, path: &str, timeout: Duration) -> anyhow::Result<(u16, Value)> {
    let request = node.client.get(format!("{}{path}", node.base));
    exchange(node, request, timeout)
}

/// The largest answer a client reads (a patient's raw records fit many times over).
const MAX_ANSWER_BYTES: u64 = 256 << 20;

fn exchange(
    node: &NodeUrl,
    request: RequestBuilder,
    timeout: Duration,
) -> anyhow::Result<(u16, Value)> {
    let response = request
        .timeout(timeout)
        .send()
        .map_err(|e| anyhow::anyhow!("{}: {}", node.base, describe(&e)))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    response
        .take(MAX_ANSWER_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| anyhow::anyhow!("{}: reading the answer: {e}", node.base))?;
    if body.len() as u64 > MAX_ANSWER_BYTES {
        bail!(
            "{}: the answer is larger than {MAX_ANSWER_BYTES} bytes",
            node.base
        );
    }
    let json = serde_json::from_slice(&body)
        .with_context(|| format!("status {status}: the body is not JSON"))?;
    Ok((status, json))
}

/// The error and its causes on one line (a refused certificate names the unpinned key there).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_a_scheme_host_and_port_and_http_needs_saying_so() {
        assert_eq!(
            split_url("https://127.0.0.1:8080/").unwrap(),
            (true, "127.0.0.1:8080")
        );
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            (false, "127.0.0.1:8080")
        );
        assert!(split_url("ftp://127.0.0.1:8080").is_err());
        assert!(split_url("https://127.0.0.1").is_err());
        assert!(split_url("https://127.0.0.1:80/v1").is_err());
        for odd in [
            "https://user@127.0.0.1:80",
            "https://127.0.0.1:80?x",
            "https://127.0.0.1:80#x",
        ] {
            assert!(split_url(odd).is_err(), "{odd}");
        }
        let e = NodeUrl::open("http://127.0.0.1:1", None, false).unwrap_err();
        assert!(e.to_string().contains("in the clear"), "{e}");
        assert!(NodeUrl::open("http://127.0.0.1:1", None, true).is_ok());
        let e = NodeUrl::open("https://127.0.0.1:1", None, false).unwrap_err();
        assert!(e.to_string().contains("--cluster"), "{e}");
        assert!(NodeUrl::open("https://127.0.0.1:1", Some(&[[1; 32]]), false).is_ok());
    }
}
