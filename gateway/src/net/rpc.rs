//! Request/response between pinned nodes: one QUIC bidirectional stream per request.
//!
//! MPC session streams are unidirectional ([`super::sessions`]), so a bidirectional stream is
//! always a request. Its first byte says how the request is encoded: [`RPC_TAG`] for JSON,
//! [`SHARE_TAG`] for a share batch in its binary layout ([`super::share_batch`], the only
//! encoding of [`Request::ShareBatch`]). The opener then sends one bytes frame (`u32`
//! little-endian length, then that many bytes) holding the [`Request`] and finishes its side;
//! the responder answers with one frame holding a [`Response`] as JSON. Frames are refused
//! above the links' frame cap before anything is allocated. A malformed, oversized or unexpected request gets an
//! [`Response::Error`] naming the problem; the connection and the node stay up. The peer's
//! identity is the one its pinned TLS certificate proved, never a claim inside the message.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdg_mpc::SessionId;
use quinn::{Connection, RecvStream, SendStream};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use crate::node::approvals::ApprovedRequest;
use crate::node::erasure::ErasureRequest;
use crate::node::query::PartyAnswer;
use crate::node::signed::SignedRequest;

use super::peer::Peer;
use super::share_batch::{self, SHARE_TAG, WireShare};
use super::tap::{Reception, TapKind};

/// First byte of a request stream.
pub const RPC_TAG: u8 = b'R';
/// How long an answer's stream is kept open for the peer to read it.
const ANSWER_LINGER: Duration = Duration::from_secs(10);
/// Requests queued for the node before further ones are answered "busy".
pub const INBOX_DEPTH: usize = 64;

/// A request from one node to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Request {
    /// Store these share rows (all for the receiving party) and anchor their receipt. Sent in
    /// the binary layout of [`super::share_batch`] on its own stream tag, never as JSON.
    #[serde(skip)]
    ShareBatch {
        /// The sending node's id (must be the node its certificate proves).
        from_node: u16,
        /// The rows, one per shared observation.
        rows: Vec<WireShare>,
    },
    /// Run this researcher query as one party: the receiver checks the signature and the
    /// registration itself (the coordinator is not trusted) and derives the session id itself.
    Query {
        /// The researcher's signed request, as the coordinator received it.
        signed: SignedRequest,
        /// The query's MPC session id (must equal the one derived from `signed`).
        session: SessionId,
    },
    /// Store this patient's signed consent record (the receiver verifies it itself).
    Consent {
        /// The patient's signed request, as the receiving node got it.
        signed: SignedRequest,
    },
    /// A registry change approved by the node administrators: check, store, apply.
    RegistryChange {
        /// The approved request, as the asking node got it.
        request: ApprovedRequest,
    },
    /// Does the receiver hold anything of the patient of this erasure request (checked there)?
    /// Asked first, so an erasure of an unknown patient writes nothing anywhere.
    ErasureProbe {
        /// The patient's signed request or the administrators' approved one.
        request: ErasureRequest,
    },
    /// Erase a patient's data here (the receiver checks the request itself).
    Erasure {
        /// The patient's signed request or the administrators' approved one.
        request: ErasureRequest,
    },
    /// A patient's signed audit request: answer with this node's entries about them.
    Audit {
        /// The patient's signed request, as the asking node got it.
        signed: SignedRequest,
    },
    /// Cosign this signed head of the sender's ledger (c2sp.org/tlog-witness's add-checkpoint).
    AddCheckpoint {
        /// The size the sender believes the receiver last witnessed.
        old_size: u64,
        /// Consistency proof from `old_size` to the head's size, hex hashes.
        proof: Vec<String>,
        /// The signed head (C2SP signed note).
        checkpoint: String,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Response {
    /// This party's answer to a [`Request::Query`]: its sealed output shares.
    QueryAnswer {
        /// The answer (boxed: a private release's parameters make it the largest variant).
        answer: Box<PartyAnswer>,
    },
    /// This party refused or failed a [`Request::Query`]; `status` is the HTTP status the
    /// coordinator reports, `reason` names the rule or step (never a value).
    QueryRefused {
        /// HTTP status.
        status: u16,
        /// Why.
        reason: String,
    },
    /// The share rows are durably stored (or were already).
    ShareAck {
        /// Rows newly stored.
        stored: u64,
        /// Rows already held (a retry), skipped.
        duplicates: u64,
        /// Rows of patients erased at this party, dropped.
        #[serde(default)]
        dropped: u64,
        /// Ledger index of the receipt entry, when one was written.
        leaf_index: Option<u64>,
        /// The signed head closing that receipt, when one was written.
        signed_head: Option<String>,
    },
    /// The consent or registry change is stored and anchored (or was already held).
    Stored {
        /// Ledger index of its entry, when this request wrote it.
        leaf_index: Option<u64>,
    },
    /// What this node holds of the patient of an erasure probe: `nothing`, `data` or `erased`.
    Holding {
        /// The answer.
        holds: String,
    },
    /// What this node's erasure did: `erased` (with its ledger index) or `already erased`.
    Erasure {
        /// The outcome.
        outcome: String,
        /// Ledger index of the erasure entry, when this request wrote one.
        leaf_index: Option<u64>,
    },
    /// This node's audit report for the patient (entries with inclusion proofs).
    AuditReport {
        /// The report, as `POST /v1/audit` shows it per node.
        report: serde_json::Value,
    },
    /// The witness's cosignature line on the offered head.
    Cosigned {
        /// `— <witness name> base64(key id || time || signature)\n`.
        cosignature: String,
    },
    /// The witness last saw another size: offer again with a proof from it.
    WitnessConflict {
        /// The size the witness last cosigned.
        witnessed: u64,
    },
    /// The witness refuses: the head contradicts the one it cosigned (it kept both).
    WitnessFork {
        /// How (names sizes, never data).
        reason: String,
    },
    /// The request was refused or failed; `reason` names the problem (never a value).
    Error {
        /// What went wrong.
        reason: String,
    },
}

/// Why a request got no answer, naming the peer.
#[derive(Debug, Error)]
pub enum RpcError {
    /// No connection to the peer could be had.
    #[error("no link to {peer}: {reason}")]
    Link {
        /// The peer.
        peer: Peer,
        /// What the links reported.
        reason: String,
    },
    /// The stream failed or ended early.
    #[error("request to {peer} failed on the stream: {reason}")]
    Stream {
        /// The peer.
        peer: Peer,
        /// What QUIC reported.
        reason: String,
    },
    /// The message is larger than the frame cap.
    #[error("message to or from {peer} of {size} bytes exceeds the cap of {cap} bytes")]
    TooLarge {
        /// The peer.
        peer: Peer,
        /// Its size.
        size: u64,
        /// The cap.
        cap: usize,
    },
    /// The answer does not decode.
    #[error("malformed answer from {peer}: {reason}")]
    Malformed {
        /// The peer.
        peer: Peer,
        /// The decoding error.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("{peer} did not answer within {timeout:?}")]
    Timeout {
        /// The peer.
        peer: Peer,
        /// The timeout.
        timeout: Duration,
    },
    /// The peer answered with an error.
    #[error("{peer} refused the request: {reason}")]
    Refused {
        /// The peer.
        peer: Peer,
        /// Its reason.
        reason: String,
    },
}

/// A request received from a pinned peer, with the way to answer it.
#[derive(Debug)]
pub struct RpcCall {
    /// The peer, as its TLS certificate proved.
    pub from: Peer,
    /// What it asks.
    pub request: Request,
    /// Where the answer goes (dropping it answers with an error).
    pub reply: oneshot::Sender<Response>,
}

/// Sends `request` to `peer` over a new stream of `conn` and waits (at most `timeout`) for the
/// answer. A [`Response::Error`] becomes [`RpcError::Refused`].
pub async fn call(
    conn: &Connection,
    peer: &Peer,
    request: &Request,
    reception: &Reception,
    timeout: Duration,
) -> Result<Response, RpcError> {
    let cap = reception.cap;
    let exchange = async {
        let stream_err = |e: &dyn std::fmt::Display| RpcError::Stream {
            peer: peer.clone(),
            reason: e.to_string(),
        };
        let (mut send, mut recv) = conn.open_bi().await.map_err(|e| stream_err(&e))?;
        // The body may hold shares: wiped once sent.
        let (tag, body) = encode_request(request).map_err(|reason| RpcError::Malformed {
            peer: peer.clone(),
            reason,
        })?;
        if body.len() > cap {
            return Err(RpcError::TooLarge {
                peer: peer.clone(),
                size: body.len() as u64,
                cap,
            });
        }
        send.write_all(&[tag]).await.map_err(|e| stream_err(&e))?;
        write_bytes_frame(&mut send, &body)
            .await
            .map_err(|e| stream_err(&e))?;
        let _ = send.finish();
        let answer = match read_bytes_frame(&mut recv, cap).await {
            Ok(b) => b,
            Err(FrameFault::TooLarge(size)) => {
                return Err(RpcError::TooLarge {
                    peer: peer.clone(),
                    size,
                    cap,
                });
            }
            Err(e) => return Err(stream_err(&e)),
        };
        reception.record(TapKind::Response, peer.node, &answer);
        let response: Response =
            serde_json::from_slice(&answer).map_err(|e| RpcError::Malformed {
                peer: peer.clone(),
                reason: e.to_string(),
            })?;
        match response {
            Response::Error { reason } => Err(RpcError::Refused {
                peer: peer.clone(),
                reason,
            }),
            ok => Ok(ok),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| RpcError::Timeout {
            peer: peer.clone(),
            timeout,
        })?
}

/// Where a node's requests go, once it serves them ([`super::links::PeerLinks::serve_requests`]).
pub(super) type InboxSlot = Arc<Mutex<Option<mpsc::Sender<RpcCall>>>>;

/// Answers the request streams `peer` opens on `conn`, each through `inbox` (or with an error
/// when this node serves no requests), until the connection ends.
pub(super) async fn serve_requests(
    conn: Connection,
    peer: Peer,
    inbox: InboxSlot,
    reception: Reception,
) {
    while let Ok((send, recv)) = conn.accept_bi().await {
        let inbox = inbox.lock().unwrap_or_else(PoisonError::into_inner).clone();
        tokio::spawn(answer(send, recv, peer.clone(), inbox, reception.clone()));
    }
}

/// Reads one request from `recv`, has the node handle it and writes the answer to `send`.
async fn answer(
    mut send: SendStream,
    mut recv: RecvStream,
    peer: Peer,
    inbox: Option<mpsc::Sender<RpcCall>>,
    reception: Reception,
) {
    let response = match read_request(&mut recv, &peer, &reception).await {
        Err(reason) => {
            tracing::warn!(%peer, %reason, "bad request refused");
            Response::Error { reason }
        }
        Ok(request) => dispatch(request, peer, inbox).await,
    };
    let body = serde_json::to_vec(&response).unwrap_or_default();
    if write_bytes_frame(&mut send, &body).await.is_ok() {
        let _ = send.finish();
        // Lets the answer reach the peer before the stream is dropped.
        let _ = tokio::time::timeout(ANSWER_LINGER, send.stopped()).await;
    }
}

async fn dispatch(request: Request, peer: Peer, inbox: Option<mpsc::Sender<RpcCall>>) -> Response {
    let Some(inbox) = inbox else {
        return Response::Error {
            reason: "this node serves no requests".to_string(),
        };
    };
    let (reply, answer) = oneshot::channel();
    let call = RpcCall {
        from: peer,
        request,
        reply,
    };
    if inbox.try_send(call).is_err() {
        return Response::Error {
            reason: "node busy or stopping: retry later".to_string(),
        };
    }
    answer.await.unwrap_or_else(|_| Response::Error {
        reason: "the node dropped the request (stopping?)".to_string(),
    })
}

/// `request`'s stream tag and body: a share batch in its binary layout, anything else as JSON.
fn encode_request(request: &Request) -> Result<(u8, Zeroizing<Vec<u8>>), String> {
    match request {
        Request::ShareBatch { from_node, rows } => share_batch::encode(*from_node, rows)
            .map(|body| (SHARE_TAG, body))
            .ok_or_else(|| "a share row's indicator code cannot be sent".to_string()),
        other => serde_json::to_vec(other)
            .map(|body| (RPC_TAG, Zeroizing::new(body)))
            .map_err(|e| e.to_string()),
    }
}

/// The request a stream tagged `tag` carries in `body`; `Err` names the problem.
fn decode_request(tag: u8, body: &[u8]) -> Result<Request, String> {
    match tag {
        SHARE_TAG => share_batch::decode(body)
            .map(|(from_node, rows)| Request::ShareBatch { from_node, rows })
            .map_err(|e| format!("malformed share batch: {e}")),
        _ => serde_json::from_slice(body).map_err(|e| format!("malformed request: {e}")),
    }
}

/// The request from `peer` on `recv`: tag, then one frame; `Err` names the problem.
async fn read_request(
    recv: &mut RecvStream,
    peer: &Peer,
    reception: &Reception,
) -> Result<Request, String> {
    let mut tag = [0u8; 1];
    recv.read_exact(&mut tag)
        .await
        .map_err(|e| format!("no stream tag: {e}"))?;
    if tag[0] != RPC_TAG && tag[0] != SHARE_TAG {
        return Err(format!("unknown stream tag {:#04x}", tag[0]));
    }
    let body = read_bytes_frame(recv, reception.cap)
        .await
        .map_err(|e| format!("bad request frame: {e}"))?;
    reception.record(TapKind::Request, peer.node, &body);
    decode_request(tag[0], &body)
}

/// Why a bytes frame could not be read.
#[derive(Debug, Error)]
enum FrameFault {
    #[error("frame of {0} bytes exceeds the cap")]
    TooLarge(u64),
    #[error("stream failed: {0}")]
    Stream(String),
}

async fn write_bytes_frame(send: &mut SendStream, body: &[u8]) -> Result<(), String> {
    let len = u32::try_from(body.len()).map_err(|_| "message too large".to_string())?;
    let mut buf = Zeroizing::new(Vec::with_capacity(4 + body.len()));
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(body);
    send.write_all(&buf).await.map_err(|e| e.to_string())
}

/// One frame: the length is checked against `cap` before anything is read, and the body grows
/// with the bytes that arrive, never with what the header announced (each outgrown buffer is
/// zeroed as it is dropped: a body may hold shares).
async fn read_bytes_frame(
    recv: &mut RecvStream,
    cap: usize,
) -> Result<Zeroizing<Vec<u8>>, FrameFault> {
    let mut header = [0u8; 4];
    recv.read_exact(&mut header)
        .await
        .map_err(|e| FrameFault::Stream(e.to_string()))?;
    let size = u32::from_le_bytes(header) as usize;
    if size > cap {
        return Err(FrameFault::TooLarge(size as u64));
    }
    let mut body = Zeroizing::new(Vec::with_capacity(size.min(64 << 10)));
    while body.len() < size {
        let chunk = recv
            .read_chunk(size - body.len(), true)
            .await
            .map_err(|e| FrameFault::Stream(e.to_string()))?
            .ok_or_else(|| FrameFault::Stream("the stream ended inside a frame".into()))?;
        let need = body.len() + chunk.bytes.len();
        if need > body.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(need.max(2 * body.capacity())));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk.bytes);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::links::LinkConfig;
    use crate::net::loopback::LoopbackCluster;
    use ed25519_dalek::SigningKey;
    use hdg_mpc::PartyId;
    use hdg_schema::{Pseudonym, RecordHandle};
    use hdg_wire::consortium::NodeId;

    fn cluster(frame_cap: usize) -> LoopbackCluster {
        let keys = [0, 1, 2].map(|_| SigningKey::from_bytes(&rand::random::<[u8; 32]>()));
        let config = LinkConfig {
            frame_cap,
            ..LinkConfig::default()
        };
        LoopbackCluster::start(&keys, config).expect("loopback cluster starts")
    }

    fn batch(from_node: u16, n: usize) -> Request {
        let rows = (0..n)
            .map(|i| WireShare {
                handle: RecordHandle([i as u8; 32]),
                indicator: "8867-4".to_string(),
                day: i as i64 * 86_400_000,
                patient: Pseudonym([1; 32]),
                party: 1,
                pair: (i as u64, 2 * i as u64),
            })
            .collect();
        Request::ShareBatch { from_node, rows }
    }

    /// Party 1 answers every batch with its row count, recording who sent it.
    fn serve_counts(cluster: &LoopbackCluster) -> Arc<Mutex<Vec<NodeId>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut inbox = cluster.links(PartyId::P1).serve_requests();
        let log = seen.clone();
        cluster.runtime().spawn(async move {
            while let Some(call) = inbox.recv().await {
                let Request::ShareBatch { rows, .. } = &call.request else {
                    panic!("only share batches are sent here");
                };
                log.lock().unwrap().push(call.from.node);
                let _ = call.reply.send(Response::ShareAck {
                    stored: rows.len() as u64,
                    duplicates: 0,
                    dropped: 0,
                    leaf_index: Some(7),
                    signed_head: None,
                });
            }
        });
        seen
    }

    #[test]
    fn a_request_is_answered_and_the_sender_is_the_tls_identity() {
        let cluster = cluster(1 << 20);
        let seen = serve_counts(&cluster);
        let rt = cluster.runtime();
        let t = Duration::from_secs(10);
        let from0 = rt
            .block_on(
                cluster
                    .links(PartyId::P0)
                    .request(NodeId(1), &batch(0, 3), t),
            )
            .unwrap();
        assert_eq!(
            from0,
            Response::ShareAck {
                stored: 3,
                duplicates: 0,
                dropped: 0,
                leaf_index: Some(7),
                signed_head: None
            }
        );
        // Party 2 claims to be party 0 in the message: the handler still learns it is party 2.
        rt.block_on(
            cluster
                .links(PartyId::P2)
                .request(NodeId(1), &batch(0, 1), t),
        )
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![NodeId(0), NodeId(2)]);
        // A node that serves no requests answers with an error naming it.
        let e = rt
            .block_on(
                cluster
                    .links(PartyId::P1)
                    .request(NodeId(0), &batch(1, 1), t),
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                RpcError::Refused { ref peer, .. } if peer.node == NodeId(0)
            ),
            "{e}"
        );
        assert!(e.to_string().contains("serves no requests"), "{e}");
    }

    #[test]
    fn bad_requests_get_an_error_naming_the_problem_and_the_link_keeps_serving() {
        let cap = 4096;
        let cluster = cluster(cap);
        serve_counts(&cluster);
        let rt = cluster.runtime();
        let t = Duration::from_secs(10);
        // Too large for the cap: refused by the sender before anything is sent.
        let e = rt
            .block_on(
                cluster
                    .links(PartyId::P0)
                    .request(NodeId(1), &batch(0, 100), t),
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                RpcError::TooLarge { ref peer, .. } if peer.node == NodeId(1)
            ),
            "{e}"
        );
        let conn = cluster.links(PartyId::P0).connection(NodeId(1)).unwrap();
        let raw = |bytes: Vec<u8>| {
            let conn = conn.clone();
            rt.block_on(async move {
                let (mut send, mut recv) = conn.open_bi().await.unwrap();
                send.write_all(&bytes).await.unwrap();
                let _ = send.finish();
                let body = read_bytes_frame(&mut recv, 1 << 20).await.unwrap();
                match serde_json::from_slice::<Response>(&body).unwrap() {
                    Response::Error { reason } => reason,
                    other => panic!("expected an error, got {other:?}"),
                }
            })
        };
        let mut oversized = vec![RPC_TAG];
        oversized.extend_from_slice(&(cap as u32 + 1).to_le_bytes());
        assert!(raw(oversized).contains("exceeds the cap"));
        assert!(raw(vec![0x00, 1, 0, 0, 0]).contains("unknown stream tag"));
        let mut garbage = vec![RPC_TAG];
        garbage.extend_from_slice(&5u32.to_le_bytes());
        garbage.extend_from_slice(b"{nope");
        assert!(raw(garbage).contains("malformed request"));
        let mut truncated = vec![RPC_TAG];
        truncated.extend_from_slice(&50u32.to_le_bytes());
        truncated.extend_from_slice(b"{}");
        assert!(raw(truncated).contains("bad request frame"));
        // A share batch as JSON is not a request; a share-batch stream must hold the layout.
        let mut as_json = vec![RPC_TAG];
        let json = br#"{"kind":"ShareBatch","from_node":0,"rows":[]}"#;
        as_json.extend_from_slice(&(json.len() as u32).to_le_bytes());
        as_json.extend_from_slice(json);
        assert!(raw(as_json).contains("malformed request"));
        let mut bad_batch = vec![SHARE_TAG];
        bad_batch.extend_from_slice(&7u32.to_le_bytes());
        bad_batch.extend_from_slice(&[2, 0, 0, 9, 0, 0, 0]);
        let e = raw(bad_batch);
        assert!(e.contains("malformed share batch: 9 rows announced"), "{e}");
        // The link still serves good requests.
        let ok = rt
            .block_on(
                cluster
                    .links(PartyId::P0)
                    .request(NodeId(1), &batch(0, 2), t),
            )
            .unwrap();
        assert!(matches!(ok, Response::ShareAck { stored: 2, .. }));
    }

    #[test]
    fn share_batches_travel_in_their_layout_and_other_requests_as_json() {
        let row = WireShare {
            handle: RecordHandle([7; 32]),
            indicator: "8867-4".to_string(),
            day: 1_699_920_000_000,
            patient: Pseudonym([9; 32]),
            party: 2,
            pair: (u64::MAX, 3),
        };
        let request = Request::ShareBatch {
            from_node: 1,
            rows: vec![row.clone()],
        };
        let (tag, body) = encode_request(&request).unwrap();
        assert_eq!(tag, SHARE_TAG);
        assert_eq!(
            body,
            share_batch::encode(1, std::slice::from_ref(&row)).unwrap()
        );
        let Request::ShareBatch { from_node, rows } = decode_request(tag, &body).unwrap() else {
            panic!("a share batch decodes as a share batch");
        };
        assert_eq!((from_node, rows), (1, vec![row]));
        // Serde never writes one (there is one encoding of a batch).
        assert!(serde_json::to_vec(&request).is_err());
        let probe = Request::AddCheckpoint {
            old_size: 3,
            proof: vec![],
            checkpoint: "note".into(),
        };
        let (tag, body) = encode_request(&probe).unwrap();
        assert_eq!(tag, RPC_TAG);
        assert!(matches!(
            decode_request(tag, &body).unwrap(),
            Request::AddCheckpoint { old_size: 3, .. }
        ));
    }
}
