//! A small blocking HTTP/1.1 client over `std::net::TcpStream` for the commands that talk to a
//! node's JSON API (`http://host:port` only; one request per connection, `Connection: close`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// A node's base address, parsed from `http://host:port[/]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUrl {
    /// `host:port`.
    pub authority: String,
}

impl NodeUrl {
    /// Parses `http://host:port`; anything else (https, a path, no port) is refused.
    pub fn parse(url: &str) -> anyhow::Result<NodeUrl> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("node URL must start with http:// (https is not supported by this client)");
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
            bail!("node URL must be http://host:port");
        }
        Ok(NodeUrl {
            authority: authority.to_string(),
        })
    }
}

/// POSTs `body` to `path` with `content_type` and returns the status and the JSON answer;
/// `timeout` bounds connecting, each write and each read.
pub fn post(
    node: &NodeUrl,
    path: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> anyhow::Result<(u16, Value)> {
    exchange(node, "POST", path, &[], Some((content_type, body)), timeout)
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
    exchange(
        node,
        "POST",
        path,
        headers,
        Some((content_type, body)),
        timeout,
    )
}

/// GETs `path` and returns the status and the JSON answer; `timeout` as for [`post`].
pub fn get(node: &NodeUrl, path: &str, timeout: Duration) -> anyhow::Result<(u16, Value)> {
    exchange(node, "GET", path, &[], None, timeout)
}

fn exchange(
    node: &NodeUrl,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<(&str, &[u8])>,
    timeout: Duration,
) -> anyhow::Result<(u16, Value)> {
    let addr = node
        .authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", node.authority))?
        .next()
        .with_context(|| format!("{} has no address", node.authority))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {}", node.authority))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        node.authority
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .context("sending the request")?;
    if let Some((_, bytes)) = body {
        // The server may answer early (e.g. 413) and stop reading: its answer is still read
        // below.
        let _ = stream.write_all(bytes);
    }
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .context("reading the response (timed out or connection lost)")?;
    parse_response(&raw)
}

/// The status and JSON body of a raw HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> anyhow::Result<(u16, Value)> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("response has no header end")?;
    let head = std::str::from_utf8(&raw[..split]).context("response headers are not ASCII")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("response has no status code")?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    let json = serde_json::from_slice(&body)
        .with_context(|| format!("status {status}: the body is not JSON"))?;
    Ok((status, json))
}

fn dechunk(mut b: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size line")?;
        let size_text = std::str::from_utf8(&b[..end]).context("chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("chunk size is not hex")?;
        if size == 0 {
            return Ok(out);
        }
        let start = end + 2;
        let chunk = b.get(start..start + size).context("truncated chunk")?;
        out.extend_from_slice(chunk);
        b = b.get(start + size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_plain_http_with_a_port() {
        assert_eq!(
            NodeUrl::parse("http://127.0.0.1:8080/").unwrap().authority,
            "127.0.0.1:8080"
        );
        assert!(NodeUrl::parse("https://127.0.0.1:8080").is_err());
        assert!(NodeUrl::parse("http://127.0.0.1").is_err());
        assert!(NodeUrl::parse("http://127.0.0.1:80/v1").is_err());
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 13\r\n\r\n{\"error\":\"x\"}";
        let (status, json) = parse_response(plain).unwrap();
        assert_eq!(status, 403);
        assert_eq!(json["error"], "x");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let (status, json) = parse_response(chunked).unwrap();
        assert_eq!(status, 200);
        assert_eq!(json["a"], 1);
    }
}
