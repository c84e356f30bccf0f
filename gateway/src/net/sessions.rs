//! The per-session streams of a party's links: the queues that pair each incoming stream
//! with the local channel of its session (whichever comes first), and the tasks that move
//! frames between the streams and the channels.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hdg_mpc::{ChannelError, PartyId};
use hdg_wire::consortium::NodeId;
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::frame::{FrameError, read_frame, write_frame};
use super::quic_channel::{Incoming, IncomingSender, incoming_queue};
use super::tap::Reception;

/// Application error code with which a receiver stops a stream that sent a bad frame.
pub(super) const BAD_FRAME: VarInt = VarInt::from_u32(1);

/// Both ends of the queue carrying one session's messages from one peer, until the stream's
/// reader and the local channel have each taken theirs.
struct Pending {
    tx: Option<IncomingSender>,
    rx: Option<Incoming>,
    created: Instant,
}

/// The queues of the sessions in progress, by (session id, peer index).
pub(super) struct SessionQueues {
    ttl: Duration,
    pending: Mutex<HashMap<([u8; 32], usize), Pending>>,
}

impl SessionQueues {
    /// Queues whose unclaimed ends are dropped after `ttl`.
    pub(super) fn new(ttl: Duration) -> SessionQueues {
        SessionQueues {
            ttl,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// The queue end `f` takes from the session's entry, removing the entry once both are taken.
    /// Entries one side never claimed (a session opened on one party only) are dropped after
    /// `ttl`, which ends their streams.
    fn take_end<T>(&self, session: [u8; 32], peer: PartyId, f: impl Fn(&mut Pending) -> T) -> T {
        let mut sessions = lock(&self.pending);
        let now = Instant::now();
        sessions.retain(|_, p| now.duration_since(p.created) < self.ttl);
        let key = (session, peer.index());
        let entry = sessions.entry(key).or_insert_with(|| {
            let (tx, rx) = incoming_queue();
            Pending {
                tx: Some(tx),
                rx: Some(rx),
                created: now,
            }
        });
        let end = f(entry);
        if entry.tx.is_none() && entry.rx.is_none() {
            sessions.remove(&key);
        }
        end
    }

    /// The local channel's end of `peer`'s queue for `session` (a closed queue if taken twice).
    pub(super) fn take_receiver(&self, session: [u8; 32], peer: PartyId) -> Incoming {
        self.take_end(session, peer, |p| p.rx.take())
            .unwrap_or_else(|| incoming_queue().1)
    }

    /// The stream reader's end of `peer`'s queue for `session`; `None` if already taken.
    pub(super) fn take_sender(&self, session: [u8; 32], peer: PartyId) -> Option<IncomingSender> {
        self.take_end(session, peer, |p| p.tx.take())
    }
}

/// Locks `m`, recovering from a poisoned lock (the guarded state stays consistent).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Moves frames from `stream` to `tx` until the stream ends, fails or sends a bad frame; waits
/// (reading nothing more) while the queue is full.
pub(super) async fn read_session(
    mut stream: RecvStream,
    tx: IncomingSender,
    peer: PartyId,
    node: NodeId,
    reception: &Reception,
) {
    loop {
        match read_frame(&mut stream, reception.cap).await {
            Ok(Some(frame)) => {
                reception.record_words(node, &frame.words);
                if tx.send(Ok(frame)).await.is_err() {
                    let _ = stream.stop(VarInt::from_u32(0));
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                if !matches!(e, FrameError::Stream(_)) {
                    let _ = stream.stop(BAD_FRAME);
                }
                let reason = e.to_string();
                let _ = tx.send(Err(ChannelError::Transport { peer, reason })).await;
                return;
            }
        }
    }
}

/// Writes the session id, then every frame queued by the channel; finishes the stream when
/// the channel is dropped.
pub(super) async fn write_session(
    mut stream: SendStream,
    session: [u8; 32],
    mut frames: mpsc::UnboundedReceiver<Bytes>,
) {
    if stream.write_all(&session).await.is_err() {
        return;
    }
    while let Some(frame) = frames.recv().await {
        if write_frame(&mut stream, frame).await.is_err() {
            return;
        }
    }
    let _ = stream.finish();
}
