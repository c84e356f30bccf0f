//! A party of the three-party computation: its index, its PRF streams and its channel.
//! Every protocol runs on a `&mut Party`; all three parties must call the same protocols with
//! the same public arguments in the same order (that keeps their operation counters, and so
//! their correlated randomness, in step).

use thiserror::Error;

use crate::PartyId;
use crate::Security;
use crate::channel::{Channel, ChannelError, ChannelStats};
use crate::fault::{Armed, Point};
use crate::kernels::{self, Kernels};
use crate::prf::{Prf, PrfKind, StreamRng};
use crate::session::{KeyAgreementError, PartyKeys, SessionId, SessionSecret, derive_pairwise};
use crate::verdict::VerdictKeys;
use crate::verify::and_proof::AndWord;
use crate::verify::product_proof::Record;
use crate::words;
use x25519_dalek::PublicKey;
use zeroize::Zeroize;

/// Why a party could not be set up.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SetupError {
    /// The X25519 key agreement failed.
    #[error("key agreement: {0}")]
    KeyAgreement(#[from] KeyAgreementError),
    /// The common-key round failed.
    #[error("common key round: {0}")]
    Channel(#[from] ChannelError),
    /// A peer's contribution to the common key had the wrong size.
    #[error("common key contribution from {peer} has the wrong size")]
    BadContribution {
        /// The peer that sent it.
        peer: PartyId,
    },
}

/// Why a protocol step failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The link to a peer failed.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A peer's message did not have the length the protocol expects.
    #[error("message from {peer} in {step} has {got} elements, expected {expected}")]
    MessageLength {
        /// The sender.
        peer: PartyId,
        /// The protocol step.
        step: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements received.
        got: usize,
    },
    /// A party's message disagrees with the copy another party holds: one of the two deviated
    /// from the protocol. The computation stops here, before anything uses the message.
    #[error(
        "{step}: {reporter} found that what {sender} sent disagrees with the copy {witness} holds; one of the two deviated from the protocol, and the computation is aborted"
    )]
    Deviation {
        /// The protocol step.
        step: &'static str,
        /// The party whose message was checked.
        sender: PartyId,
        /// The party whose copy it was checked against.
        witness: PartyId,
        /// The party that found the difference (this party, or a peer that told it so).
        reporter: PartyId,
    },
    /// A peer's verdict on a check is not one the protocol allows: that peer deviated.
    #[error(
        "{step}: {peer} sent a malformed verdict; it deviated from the protocol, and the computation is aborted"
    )]
    MalformedVerdict {
        /// The protocol step.
        step: &'static str,
        /// The peer.
        peer: PartyId,
    },
    /// The caller passed inconsistent arguments.
    #[error("invalid argument to {step}: {reason}")]
    InvalidArgument {
        /// The protocol step.
        step: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One of the three parties, ready to run protocols.
pub struct Party {
    id: PartyId,
    session: SessionId,
    prf_prev: Prf,
    prf_next: Prf,
    prf_all: Prf,
    channel: Box<dyn Channel>,
    op: u64,
    kernels: &'static dyn Kernels,
    security: Security,
    fault: Option<Armed>,
    pending_ands: Vec<AndWord>,
    pending_products: Vec<Record>,
    part_values: usize,
    verdict_keys: Option<VerdictKeys>,
    verdicts: u64,
}

impl Party {
    /// Sets up party `me` for a session: derives the pairwise keys by X25519 with the other
    /// parties' public keys, then agrees on the common key with one message to each neighbour.
    pub fn establish(
        me: PartyId,
        session: &SessionId,
        secret: &SessionSecret,
        publics: &[PublicKey; 3],
        kind: PrfKind,
        mut channel: Box<dyn Channel>,
    ) -> Result<Party, SetupError> {
        let pairwise = derive_pairwise(me, session, secret, publics)?;
        let contribution = pairwise.contribution_for_next();
        channel.send(me.next(), &words::from_32_bytes(&contribution))?;
        let got = channel.recv(me.prev())?;
        let from_prev =
            words::to_32_bytes(&got).ok_or(SetupError::BadContribution { peer: me.prev() })?;
        Ok(Party::from_keys(
            pairwise.complete(from_prev),
            kind,
            channel,
        ))
    }

    /// A party from already agreed keys (tests, or keys agreed elsewhere).
    pub fn from_keys(keys: PartyKeys, kind: PrfKind, channel: Box<dyn Channel>) -> Party {
        Party {
            id: keys.me,
            session: keys.session,
            prf_prev: Prf::new(kind, &keys.prev),
            prf_next: Prf::new(kind, &keys.next),
            prf_all: Prf::new(kind, &keys.all),
            channel,
            op: 0,
            kernels: kernels::best(),
            security: Security::default(),
            fault: None,
            pending_ands: Vec::new(),
            pending_products: Vec::new(),
            part_values: crate::stream::PART_VALUES,
            verdict_keys: None,
            verdicts: 0,
        }
    }

    /// Signs this party's verdicts on checks with `keys.signer` and accepts a peer's only under
    /// its key in `keys.parties` (the identities the parties already pin, such as a cluster's
    /// node keys): with them, an abort is unanimous among the honest parties (see
    /// [`crate::verdict`]). All three parties must set keys, or none. `Err` when the signer is
    /// not this party's key in the list.
    pub fn sign_verdicts(&mut self, keys: VerdictKeys) -> Result<(), ProtocolError> {
        if keys.parties[self.id.index()] != keys.signer.verifying_key() {
            return Err(ProtocolError::InvalidArgument {
                step: "verdict keys",
                reason: "the signing key is not this party's key in the list",
            });
        }
        self.verdict_keys = Some(keys);
        Ok(())
    }

    /// The keys verdicts are signed with, if set, and the number of the next verdict.
    pub(crate) fn next_verdict(&mut self) -> (Option<VerdictKeys>, u64) {
        let n = self.verdicts;
        self.verdicts += 1;
        (self.verdict_keys.clone(), n)
    }

    /// Values per part when this party computes in parts ([`crate::stream`]).
    pub fn part_values(&self) -> usize {
        self.part_values
    }

    /// Sets the values per part ([`crate::stream::PART_VALUES`] unless set; tests set a few
    /// values to run many parts). All three parties must use the same.
    pub fn set_part_values(&mut self, values: usize) {
        assert!(values > 0, "a part holds at least one value");
        self.part_values = values;
    }

    /// This party's index.
    pub fn id(&self) -> PartyId {
        self.id
    }

    /// The session this party computes in.
    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// The adversary this party defends against ([`Security::Malicious`] unless set).
    pub fn security(&self) -> Security {
        self.security
    }

    /// Sets the adversary this party defends against; all three parties must set the same.
    pub fn set_security(&mut self, security: Security) {
        self.security = security;
    }

    /// Makes this party deviate from the protocol once, as `fault` says (tests only).
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn inject(&mut self, fault: crate::fault::Fault) {
        self.fault = Some(Armed::new(fault));
    }

    /// Makes this party deviate as [`crate::fault::FAULT_ENV`] says, in a build with the
    /// `fault-injection` feature (tests that run real node processes); does nothing in any
    /// other build, and panics on a malformed value (a test's mistake, never a user's).
    pub fn inject_from_env(&mut self) {
        #[cfg(feature = "fault-injection")]
        if let Ok(text) = std::env::var(crate::fault::FAULT_ENV) {
            let fault = text
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e}", crate::fault::FAULT_ENV));
            self.inject(fault);
        }
    }

    /// Whether an injected fault has happened yet (tests only).
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn fault_fired(&self) -> bool {
        self.fault.as_ref().is_some_and(Armed::fired)
    }

    /// Communication counters of this party's channel.
    pub fn stats(&self) -> ChannelStats {
        self.channel.stats()
    }

    /// The share-arithmetic kernels in use.
    pub(crate) fn kernels(&self) -> &'static dyn Kernels {
        self.kernels
    }

    /// A fresh operation counter; every protocol step draws one, in the same order everywhere.
    pub(crate) fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// Fills `out` with F(k_i, op)[start..]: the stream shared with the previous party.
    pub(crate) fn fill_prev_at(&self, op: u64, start: usize, out: &mut [u64]) {
        self.prf_prev.fill_at(op, start as u64, out);
    }

    /// Fills `out` with F(k_{i+1}, op)[start..]: the stream shared with the next party.
    pub(crate) fn fill_next_at(&self, op: u64, start: usize, out: &mut [u64]) {
        self.prf_next.fill_at(op, start as u64, out);
    }

    /// Fills `out` with F(k_all, op)[start..]: the stream all three parties share.
    pub(crate) fn fill_all_at(&self, op: u64, start: usize, out: &mut [u64]) {
        self.prf_all.fill_at(op, start as u64, out);
    }

    /// F(k_i, op) as a generator: draws the previous party makes alike.
    pub(crate) fn rng_prev(&self, op: u64) -> StreamRng<'_> {
        StreamRng::new(&self.prf_prev, op)
    }

    /// F(k_{i+1}, op) as a generator: draws the next party makes alike.
    pub(crate) fn rng_next(&self, op: u64) -> StreamRng<'_> {
        StreamRng::new(&self.prf_next, op)
    }

    /// F(k_i, op)[0..n]: the stream shared with the previous party.
    pub(crate) fn stream_prev(&self, op: u64, n: usize) -> Vec<u64> {
        self.prf_prev.stream(op, n)
    }

    /// F(k_{i+1}, op)[0..n]: the stream shared with the next party.
    pub(crate) fn stream_next(&self, op: u64, n: usize) -> Vec<u64> {
        self.prf_next.stream(op, n)
    }

    /// F(k_all, op)[0..n]: the stream all three parties share.
    pub(crate) fn stream_all(&self, op: u64, n: usize) -> Vec<u64> {
        self.prf_all.stream(op, n)
    }

    /// Records AND words for the next verification ([`crate::verify`]).
    pub(crate) fn record_ands(&mut self, words: impl IntoIterator<Item = AndWord>) {
        self.pending_ands.extend(words);
    }

    /// AND words recorded and not verified yet.
    pub(crate) fn pending_ands(&self) -> usize {
        self.pending_ands.len()
    }

    /// Takes the AND words recorded since the last verification.
    pub(crate) fn take_pending_ands(&mut self) -> Vec<AndWord> {
        std::mem::take(&mut self.pending_ands)
    }

    /// Records a product operation (or an input check) for the next verification
    /// ([`crate::verify`]), when this party checks its peers.
    pub(crate) fn record_product(&mut self, record: impl FnOnce() -> Record) {
        if self.security.checks() {
            self.pending_products.push(record());
        }
    }

    /// Takes the product operations recorded since the last verification.
    pub(crate) fn take_pending_products(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.pending_products)
    }

    /// Sends one message of kind `point` to `to` (a party with an injected fault may alter it).
    pub(crate) fn send(
        &mut self,
        to: PartyId,
        msg: &[u64],
        point: Point,
    ) -> Result<(), ProtocolError> {
        match self.tampered(point, msg) {
            Some(altered) => Ok(self.channel.send(to, &altered)?),
            None => Ok(self.channel.send(to, msg)?),
        }
    }

    /// What a party with an injected fault puts in place of `msg` at `point`; `None` for
    /// `msg` itself (always, unless a test injected a fault).
    pub(crate) fn tampered(&self, point: Point, msg: &[u64]) -> Option<Vec<u64>> {
        self.fault.as_ref().and_then(|f| f.apply(point, msg))
    }

    /// Sends `msg` as it is, never altered by an injected fault (a message whose deviation the
    /// caller already made, such as a signed verdict).
    pub(crate) fn send_as_is(&mut self, to: PartyId, msg: &[u64]) -> Result<(), ProtocolError> {
        Ok(self.channel.send(to, msg)?)
    }

    /// Receives one message from `from`, of any length (a caller that ignores a message of the
    /// wrong length rather than stopping).
    pub(crate) fn recv_any(&mut self, from: PartyId) -> Result<Vec<u64>, ProtocolError> {
        Ok(self.channel.recv(from)?)
    }

    /// Receives one message of exactly `expected` elements from `from`.
    pub(crate) fn recv(
        &mut self,
        from: PartyId,
        expected: usize,
        step: &'static str,
    ) -> Result<Vec<u64>, ProtocolError> {
        let msg = self.channel.recv(from)?;
        if msg.len() != expected {
            return Err(ProtocolError::MessageLength {
                peer: from,
                step,
                expected,
                got: msg.len(),
            });
        }
        Ok(msg)
    }
}

impl Drop for Party {
    /// The AND words recorded and not verified hold this party's shares: wiped.
    fn drop(&mut self) {
        self.pending_ands.zeroize();
    }
}
