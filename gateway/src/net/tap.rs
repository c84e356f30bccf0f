//! A wire tap: every message this node receives from its peers — requests, answers, MPC frames —
//! appended to a file after TLS has been removed. It exists for one purpose: to show what a
//! party receives (SECURITY.md's curious-peer test reads it). It holds this party's shares in
//! the clear, so it is off unless a node's config names a file, and the node warns at start.
//!
//! Record layout: `kind (1) | peer node id (u16 BE) | length (u32 BE) | bytes`; kinds are
//! [`TapKind`]. MPC frames are written as their u64 words, little-endian.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hdg_wire::consortium::NodeId;

/// What a tapped message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TapKind {
    /// A request a peer sent (JSON).
    Request = 1,
    /// A peer's answer to this node's request (JSON).
    Response = 2,
    /// A frame of an MPC session.
    Session = 3,
}

/// The tap's file.
#[derive(Debug)]
pub struct WireTap {
    file: Mutex<File>,
}

impl WireTap {
    /// Appends to `path` (created with mode 0600 when missing).
    pub fn open(path: &Path) -> std::io::Result<Arc<WireTap>> {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        Ok(Arc::new(WireTap {
            file: Mutex::new(opts.open(path)?),
        }))
    }

    fn record(&self, kind: TapKind, peer: NodeId, bytes: &[u8]) {
        let mut head = [0u8; 7];
        head[0] = kind as u8;
        head[1..3].copy_from_slice(&peer.0.to_be_bytes());
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        head[3..].copy_from_slice(&len.to_be_bytes());
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A tap that cannot write loses records; it never stops the node.
        let _ = file.write_all(&head).and_then(|_| file.write_all(bytes));
    }
}

/// How this node takes in what its peers send: frames above `cap` are refused before anything
/// is allocated, and, when a tap is set, every message is recorded.
#[derive(Debug, Clone)]
pub struct Reception {
    /// Largest frame payload accepted, bytes.
    pub cap: usize,
    /// Where messages are recorded, if anywhere.
    pub tap: Option<Arc<WireTap>>,
}

impl Reception {
    /// Records `bytes` received from `peer`, when tapped.
    pub fn record(&self, kind: TapKind, peer: NodeId, bytes: &[u8]) {
        if let Some(tap) = &self.tap {
            tap.record(kind, peer, bytes);
        }
    }

    /// Records the words of an MPC frame received from `peer`, when tapped.
    pub fn record_words(&self, peer: NodeId, words: &[u64]) {
        if let Some(tap) = &self.tap {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            tap.record(TapKind::Session, peer, &bytes);
        }
    }
}

/// Reads a tap file back: (kind, peer, bytes) per record.
#[cfg(test)]
fn read_tap(bytes: &[u8]) -> Vec<(u8, u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 7 {
        let peer = u16::from_be_bytes([rest[1], rest[2]]);
        let len = u32::from_be_bytes(rest[3..7].try_into().expect("4 bytes")) as usize;
        if rest.len() < 7 + len {
            break;
        }
        out.push((rest[0], peer, rest[7..7 + len].to_vec()));
        rest = &rest[7 + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tap");
        let rx = Reception {
            cap: 1 << 20,
            tap: Some(WireTap::open(&path).unwrap()),
        };
        rx.record(TapKind::Request, NodeId(2), b"{\"kind\":\"Audit\"}");
        rx.record_words(NodeId(300), &[1, u64::MAX]);
        let records = read_tap(&std::fs::read(&path).unwrap());
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], (1, 2, b"{\"kind\":\"Audit\"}".to_vec()));
        let mut words = 1u64.to_le_bytes().to_vec();
        words.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(records[1], (3, 300, words));
        // Without a tap nothing is written anywhere.
        Reception { cap: 1, tap: None }.record(TapKind::Response, NodeId(1), b"x");
    }
}
