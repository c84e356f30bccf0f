//! In-memory channels between three threads, and [`run_three`], which runs one closure per party
//! on three threads with a fresh session. Used by tests, benches and the embedded demo.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use crate::PartyId;
use crate::channel::{Channel, ChannelError, ChannelStats};
use crate::party::{Party, SetupError};
use crate::prf::PrfKind;
use crate::session::{PartyKeys, SessionId, SessionSecret};
use crate::verdict::VerdictKeys;

/// How long `recv` waits by default before failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One party's end of the in-memory links (an mpsc queue per ordered pair of parties).
pub struct MemoryChannel {
    me: PartyId,
    to: [Option<Sender<Vec<u64>>>; 3],
    from: [Option<Receiver<Vec<u64>>>; 3],
    timeout: Duration,
    stats: ChannelStats,
}

/// Three connected channel ends, indexed by party; `recv` fails after `timeout`.
pub fn memory_channels(timeout: Duration) -> [MemoryChannel; 3] {
    let mut ends: [MemoryChannel; 3] = PartyId::ALL.map(|me| MemoryChannel {
        me,
        to: [None, None, None],
        from: [None, None, None],
        timeout,
        stats: ChannelStats::default(),
    });
    for s in 0..3 {
        for r in 0..3 {
            if s != r {
                let (tx, rx) = channel();
                ends[s].to[r] = Some(tx);
                ends[r].from[s] = Some(rx);
            }
        }
    }
    ends
}

impl Channel for MemoryChannel {
    fn send(&mut self, to: PartyId, msg: &[u64]) -> Result<(), ChannelError> {
        let tx = self.to[to.index()]
            .as_ref()
            .ok_or(ChannelError::SelfMessage { peer: self.me })?;
        tx.send(msg.to_vec())
            .map_err(|_| ChannelError::Closed { peer: to })?;
        self.stats.bytes_sent += 8 * msg.len() as u64;
        self.stats.messages_sent += 1;
        Ok(())
    }

    fn recv(&mut self, from: PartyId) -> Result<Vec<u64>, ChannelError> {
        let rx = self.from[from.index()]
            .as_ref()
            .ok_or(ChannelError::SelfMessage { peer: self.me })?;
        let msg = rx.recv_timeout(self.timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => ChannelError::Timeout { peer: from },
            RecvTimeoutError::Disconnected => ChannelError::Closed { peer: from },
        })?;
        self.stats.bytes_received += 8 * msg.len() as u64;
        self.stats.messages_received += 1;
        Ok(msg)
    }

    fn stats(&self) -> ChannelStats {
        self.stats
    }
}

/// Runs `f` once per party on three threads over in-memory channels, after a full session setup
/// (fresh X25519 keys, random session id, PRF `kind`, verdicts signed with fresh ed25519 keys),
/// and returns the three results in party order. A panic in any party is re-raised here.
pub fn run_three_with<T, F>(kind: PrfKind, f: F) -> [T; 3]
where
    T: Send,
    F: Fn(&mut Party) -> T + Sync,
{
    run_established(kind, Some(VerdictKeys::fresh_three()), f)
}

/// [`run_three`] without verdict keys: the parties' verdicts go unsigned, in one round (for
/// tests of that mode).
#[cfg(test)]
pub(crate) fn run_three_unsigned<T, F>(f: F) -> [T; 3]
where
    T: Send,
    F: Fn(&mut Party) -> T + Sync,
{
    run_established(PrfKind::DEFAULT, None, f)
}

/// Sets up a full session for three parties (signing their verdicts with `verdicts`, if any)
/// and runs `f` at each.
fn run_established<T, F>(kind: PrfKind, verdicts: Option<[VerdictKeys; 3]>, f: F) -> [T; 3]
where
    T: Send,
    F: Fn(&mut Party) -> T + Sync,
{
    let session = SessionId::random();
    let secrets = PartyId::ALL.map(|_| SessionSecret::random());
    let publics = [0, 1, 2].map(|i| secrets[i].public());
    run_threads(memory_channels(DEFAULT_TIMEOUT), |me, ch| {
        let mut party = Party::establish(
            me,
            &session,
            &secrets[me.index()],
            &publics,
            kind,
            Box::new(ch),
        )
        .unwrap_or_else(|e: SetupError| panic!("session setup failed for {me}: {e}"));
        if let Some(keys) = &verdicts {
            party
                .sign_verdicts(keys[me.index()].clone())
                .expect("each party's own key");
        }
        f(&mut party)
    })
}

/// [`run_three_with`] using the default PRF.
pub fn run_three<T, F>(f: F) -> [T; 3]
where
    T: Send,
    F: Fn(&mut Party) -> T + Sync,
{
    run_three_with(PrfKind::DEFAULT, f)
}

/// Runs `f` per party with the given fixed keys (tests that need reproducible randomness).
pub fn run_three_with_keys<T, F>(keys: [PartyKeys; 3], kind: PrfKind, f: F) -> [T; 3]
where
    T: Send,
    F: Fn(&mut Party) -> T + Sync,
{
    let channels = memory_channels(DEFAULT_TIMEOUT);
    let verdicts = VerdictKeys::fresh_three();
    let keys = std::sync::Mutex::new(keys.map(Some));
    run_threads(channels, |me, ch| {
        let k = keys.lock().expect("keys lock")[me.index()]
            .take()
            .expect("each party takes its keys once");
        let mut party = Party::from_keys(k, kind, Box::new(ch));
        party
            .sign_verdicts(verdicts[me.index()].clone())
            .expect("each party's own key");
        f(&mut party)
    })
}

fn run_threads<T, F>(channels: [MemoryChannel; 3], f: F) -> [T; 3]
where
    T: Send,
    F: Fn(PartyId, MemoryChannel) -> T + Sync,
{
    std::thread::scope(|s| {
        let f = &f;
        let handles = channels.map(|ch| {
            let me = ch.me;
            s.spawn(move || f(me, ch))
        });
        handles.map(|h| match h.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order_and_are_counted() {
        let [mut a, mut b, _c] = memory_channels(Duration::from_secs(5));
        a.send(PartyId::P1, &[1, 2, 3]).unwrap();
        a.send(PartyId::P1, &[4]).unwrap();
        assert_eq!(b.recv(PartyId::P0).unwrap(), vec![1, 2, 3]);
        assert_eq!(b.recv(PartyId::P0).unwrap(), vec![4]);
        assert_eq!(a.stats().bytes_sent, 32);
        assert_eq!(a.stats().messages_sent, 2);
        assert_eq!(b.stats().bytes_received, 32);
    }

    #[test]
    fn recv_times_out_instead_of_hanging() {
        let [mut a, _b, _c] = memory_channels(Duration::from_millis(20));
        assert_eq!(
            a.recv(PartyId::P2),
            Err(ChannelError::Timeout { peer: PartyId::P2 })
        );
        assert_eq!(
            a.send(PartyId::P0, &[1]),
            Err(ChannelError::SelfMessage { peer: PartyId::P0 })
        );
    }

    #[test]
    fn a_stopped_peer_is_reported_as_closed() {
        let [mut a, b, _c] = memory_channels(Duration::from_secs(5));
        drop(b);
        assert_eq!(
            a.recv(PartyId::P1),
            Err(ChannelError::Closed { peer: PartyId::P1 })
        );
    }
}
