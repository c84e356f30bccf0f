//! A researcher query at this party: check the signed request (signature, registered
//! researcher, clock-skew window, this node's own replay cache), check the session id is the
//! one the request implies, open the MPC session over the QUIC links, agree fresh per-session
//! X25519 keys with the two peers over that session, select the query's rows (consented ones,
//! when the cluster requires consent) and log the query with the patients it selected under the
//! store lock, then run the statistic on those rows without it ([`run_selected`]).
//!
//! The coordinator's node runs the same function for its own party (it verified the request
//! already, so `verify_here` is false there); a peer always verifies, never trusting the
//! coordinator. Refusals carry the HTTP status the coordinator reports and a reason naming the
//! rule or the step, never a value.

use std::sync::Arc;

use hdg_mpc::dp::accounting::Draws;
use hdg_mpc::session::public_commitment;
use hdg_mpc::{Channel, PartyId, PublicKey, SessionId, SessionSecret, VerdictKeys};

use tracing::warn;

use hdg_ledger::EntryKind;
use hdg_storage::PrivacySpend;

use super::consent::Use;
use super::query::limits;
use super::query::privacy::{self, Privacy};
use super::query::run::{Charge, PartySetup, run_selected};
use super::query::select::select_rows;
use super::query::{PartyAnswer, Query, QueryError};
use super::registry::Role;
use super::signed::{Kind, SignedRequest, VerifiedRequest};
use super::state::NodeState;
use crate::clock::now;
use hdg_wire::answer::{query_digest, sign_answer};

/// Why this party refused or failed a query: an HTTP status and a reason (never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status the coordinator answers with.
    pub status: u16,
    /// What is wrong.
    pub reason: String,
}

impl Refusal {
    /// A refusal with `status` and `reason`.
    pub fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }
}

pub use hdg_wire::query::session_of;

/// Verifies `signed` as a researcher's request against this node's registry and replay cache;
/// the refusal is logged (the reason only).
pub fn verify_researcher(
    state: &NodeState,
    signed: &SignedRequest,
) -> Result<VerifiedRequest, Refusal> {
    state
        .admit(signed, Kind::Query, Role::Researcher)
        .map_err(|e| {
            warn!(reason = %e, "query refused");
            Refusal::new(e.status(), e.to_string())
        })
}

/// The query in a verified request's body; 400 when it does not parse.
pub fn parse_query(body: &str) -> Result<Query, Refusal> {
    serde_json::from_str(body).map_err(|e| {
        let reason = format!("bad query: {}", e.classify_kind());
        warn!(%reason, "query refused");
        Refusal::new(400, reason)
    })
}

trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "cannot be read",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "fields missing or of the wrong type",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// The query a verified researcher's request asks, if this node's registry lets that researcher
/// ask for its purpose (403 otherwise: the purpose is matched against the patients' consents,
/// so it is the registry's, never the researcher's own word).
pub fn authorise_query(state: &NodeState, signed: &SignedRequest) -> Result<Query, Refusal> {
    let query = parse_query(&signed.body)?;
    let refuse = |e: QueryError| Refusal::new(query_status(&e), e.to_string());
    limits::check_shape(&query).map_err(refuse)?;
    if let Privacy::Exact = state.policy.privacy {
        privacy::check_exact(&query).map_err(refuse)?;
    }
    if let Privacy::Dp(rules) = state.policy.privacy {
        // Everything the private path could refuse on the query alone is refused here, before
        // any party charges the researcher's budget for it.
        let epsilon = rules.epsilon(&query).map_err(refuse)?;
        let (release, _) = privacy::release(&query).map_err(refuse)?;
        release
            .plan(
                rules.charge(epsilon) as f64 / privacy::NANO,
                Draws::for_security(state.policy.security),
            )
            .map_err(|e| refuse(e.into()))?;
    }
    let researcher = signer_key(signed)?;
    let allowed = state
        .registry
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .may_query_for(&researcher, query.purpose);
    if !allowed {
        let purpose = serde_json::to_value(query.purpose).unwrap_or_default();
        warn!(%purpose, "query refused: purpose not registered for this researcher");
        return Err(Refusal::new(
            403,
            format!(
                "query refused: this researcher is not registered for the purpose {purpose} (an administrator sets a researcher's purposes)"
            ),
        ));
    }
    Ok(query)
}

/// How long a query waits for a free slot at a party before it is refused.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the signed query at this party (see the module doc).
/// One of the party's query slots: a query waits up to `wait` for one, then is refused (503)
/// rather than queued without bound.
async fn query_slot(
    slots: &tokio::sync::Semaphore,
    wait: std::time::Duration,
) -> Result<tokio::sync::SemaphorePermit<'_>, Refusal> {
    tokio::time::timeout(wait, slots.acquire())
        .await
        .map_err(|_| {
            warn!("query refused: every query slot at this party is busy");
            Refusal::new(
                503,
                "busy: this party is running as many queries as it may; retry shortly",
            )
        })?
        .map_err(|_| Refusal::new(503, "the node is shutting down"))
}

pub async fn answer_query(
    state: &Arc<NodeState>,
    signed: &SignedRequest,
    session: SessionId,
    verify_here: bool,
) -> Result<PartyAnswer, Refusal> {
    if verify_here {
        verify_researcher(state, signed)?;
    }
    // Held until this party's answer is made.
    let _slot = query_slot(&state.query_slots, SLOT_WAIT).await?;
    if session != session_of(signed) {
        warn!("query refused: session id does not match the request");
        return Err(Refusal::new(
            400,
            "session id does not match the signed request",
        ));
    }
    let me = state
        .computing_party()
        .map_err(|reason| Refusal::new(409, reason))?;
    let query = authorise_query(state, signed)?;
    let query_text = signed.body.clone();
    let researcher = signer_key(signed)?;
    let channel = state
        .links
        .open_session(&session)
        .await
        .map_err(|e| Refusal::new(502, format!("cannot open the MPC session: {e}")))?;
    let worker = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut channel: Box<dyn Channel> = Box::new(channel);
        let secret = SessionSecret::random();
        let publics = exchange_publics(channel.as_mut(), me, &session, secret.public())?;
        let mut guard = worker
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let store = guard
            .as_mut()
            .ok_or_else(|| Refusal::new(503, "the node is shutting down"))?;
        let private = matches!(worker.policy.privacy, Privacy::Dp(_));
        let selection = if worker.policy.consent_required {
            let consents = worker
                .consents
                .get(store)
                .map_err(|e| Refusal::new(500, format!("cannot read the consents: {e}")))?;
            // Judged at this node's own time, never the request's (which the researcher
            // chose, and could backdate within the clock-skew window to use a lapsed grant).
            let use_ = Use {
                purpose: query.purpose,
                institution: &researcher,
                at: now().0,
            };
            select_rows(
                store,
                me,
                &query,
                &|row| consents.covers(&row.patient, &row.indicator, row.day, use_),
                private,
            )
        } else {
            select_rows(store, me, &query, &|_| true, private)
        }
        .map_err(|e| Refusal::new(query_status(&e), e.to_string()))?;
        // A private query is charged to its researcher here, by this party's own store and
        // clock, and refused when it would exceed the budget: no coordinator can spend for it.
        let charge = charge_here(store, &worker.policy.privacy, &query, &researcher)?;
        // Every party logs the query in its own ledger before computing: hashes only (the
        // session id, unique per signed request, and the query text), the researcher as actor;
        // beside it the query text and which patients' rows it selected, for their audit.
        let (ledger_index, head) = store
            .anchor_use(
                EntryKind::Query,
                session.0,
                &query_text,
                researcher,
                &selection.patients,
                charge.map(|(spend, _)| spend).as_ref(),
                now(),
            )
            .map_err(|e| Refusal::new(500, format!("cannot log the query in the ledger: {e}")))?;
        worker.ledger_written(store, Some(head));
        // The MPC needs only the selected rows: ingest and other queries go on meanwhile.
        drop(guard);
        let digest = query_digest(&query_text);
        let setup = PartySetup {
            me,
            session: &session,
            secret: &secret,
            publics: &publics,
            query: &digest,
            verdicts: &verdict_keys(&worker)?,
        };
        let charge = charge.map(|(_, c)| c);
        let mut answer = run_selected(&selection, &setup, channel, &query, &worker.policy, charge)
            .map_err(|e| {
                if e.is_abort() {
                    record_abort(&worker, &session, researcher, &e);
                }
                Refusal::new(query_status(&e), e.to_string())
            })?;
        answer.ledger_index = Some(ledger_index);
        // Signed last, over every field: the coordinator relays it and cannot change it.
        sign_answer(&worker.node_key, &digest, &mut answer);
        Ok::<PartyAnswer, Refusal>(answer)
    })
    .await
    .map_err(|e| Refusal::new(500, format!("query task failed: {e}")))?;
    if let Err(r) = &outcome {
        warn!(status = r.status, reason = %r.reason, "query failed at this party");
    }
    outcome
}

/// The keys this party signs its verdicts with and checks its peers' under: the node keys the
/// cluster pins (its own signs).
fn verdict_keys(state: &NodeState) -> Result<VerdictKeys, Refusal> {
    let mut parties = Vec::with_capacity(3);
    for pin in &state.pins {
        let key = ed25519_dalek::VerifyingKey::from_bytes(pin)
            .map_err(|_| Refusal::new(500, "a pinned node key is not an ed25519 key"))?;
        parties.push(key);
    }
    let parties: [ed25519_dalek::VerifyingKey; 3] =
        parties.try_into().expect("three pinned node keys");
    Ok(VerdictKeys {
        signer: state.node_key.clone(),
        parties,
    })
}

/// Anchors the abort of `session` in this party's ledger, with the reason (which names the
/// parties concerned and the step, never a value). A failure to write is logged: the refusal
/// goes out either way.
fn record_abort(state: &NodeState, session: &SessionId, researcher: [u8; 32], e: &QueryError) {
    let mut guard = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(store) = guard.as_mut() else {
        return;
    };
    match store.anchor_abort(session.0, &e.to_string(), researcher, now()) {
        Ok((_, head)) => state.ledger_written(store, Some(head)),
        Err(err) => warn!(%err, "cannot record the query's abort in the ledger"),
    }
    warn!(reason = %e, "query aborted: a party deviated from the protocol");
}

/// A private query's charge at this party: the spend to write with its ledger entry and what
/// the MPC compares; refused (403) when this party's own record of the researcher's spend in
/// the period leaves no room for it. `None` in an exact cluster.
fn charge_here(
    store: &hdg_storage::Store,
    privacy: &Privacy,
    query: &Query,
    researcher: &[u8; 32],
) -> Result<Option<(PrivacySpend, Charge)>, Refusal> {
    let Privacy::Dp(rules) = privacy else {
        return Ok(None);
    };
    let refuse = |e: QueryError| Refusal::new(query_status(&e), e.to_string());
    let cost = rules.charge(rules.epsilon(query).map_err(refuse)?);
    let period = rules.period(now().0);
    let spent_before = store
        .privacy_spent(researcher, period)
        .map_err(|e| Refusal::new(500, format!("cannot read the privacy budget: {e}")))?;
    rules.check_budget(spent_before, cost).map_err(|e| {
        warn!("query refused: privacy budget exhausted");
        refuse(e)
    })?;
    Ok(Some((
        PrivacySpend {
            researcher: *researcher,
            period,
            nano_rho: cost,
        },
        Charge { cost, spent_before },
    )))
}

/// The researcher's public key from the signed request (already verified at this or the
/// coordinating node; a malformed one is refused, never guessed).
fn signer_key(signed: &SignedRequest) -> Result<[u8; 32], Refusal> {
    hex::decode(&signed.signer)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| Refusal::new(400, "the request's signer is not a 32-byte hex key"))
}

/// Sends this party's session public key to both peers and collects theirs (the links are
/// mutually authenticated, so each key is the pinned peer's), committed first: each party
/// sends a commitment to its key ([`public_commitment`]), and opens it only once it holds
/// both peers' commitments. A key that does not open its commitment stops the query naming
/// the peer that sent it.
pub(crate) fn exchange_publics(
    channel: &mut dyn Channel,
    me: PartyId,
    session: &SessionId,
    own: PublicKey,
) -> Result<[PublicKey; 3], Refusal> {
    use hdg_mpc::words::{from_32_bytes, to_32_bytes};
    let link =
        |e: hdg_mpc::ChannelError| Refusal::new(502, format!("exchanging session keys: {e}"));
    let malformed =
        |peer: PartyId| Refusal::new(502, format!("{peer} sent a malformed session key"));
    let mut round = |words: &[u64]| -> Result<[[u8; 32]; 3], Refusal> {
        for peer in [me.next(), me.prev()] {
            channel.send(peer, words).map_err(link)?;
        }
        let mut got = [[0u8; 32]; 3];
        for peer in [me.prev(), me.next()] {
            let words = channel.recv(peer).map_err(link)?;
            got[peer.index()] = to_32_bytes(&words).ok_or_else(|| malformed(peer))?;
        }
        Ok(got)
    };
    let commitments = round(&from_32_bytes(&public_commitment(session, me, &own)))?;
    let opened = round(&from_32_bytes(own.as_bytes()))?;
    let mut publics = [own; 3];
    for peer in [me.prev(), me.next()] {
        let key = PublicKey::from(opened[peer.index()]);
        if public_commitment(session, peer, &key) != commitments[peer.index()] {
            return Err(Refusal::new(
                409,
                format!("{peer} deviated: its session key does not open its commitment"),
            ));
        }
        publics[peer.index()] = key;
    }
    Ok(publics)
}

/// The HTTP status of a query failure: 400 for a query the catalog or the rules refuse as
/// asked, 409 when the parties' row sets differ or a party deviated (an abort), 422 for a cohort below the minimum, 502 for
/// a failure of the links or the protocol, 500 for the store.
pub fn query_status(e: &QueryError) -> u16 {
    match e {
        QueryError::UnknownIndicator { .. }
        | QueryError::EmptyWindow
        | QueryError::WindowNotWholeDays
        | QueryError::Filter { .. }
        | QueryError::Value(_) => 400,
        e if e.is_abort() => 409,
        QueryError::RowSetMismatch { .. } | QueryError::InconsistentShares { .. } => 409,
        QueryError::EpsilonRequired
        | QueryError::EpsilonOutOfRange { .. }
        | QueryError::Clip { .. }
        | QueryError::Quantile { .. }
        | QueryError::Predictors { .. } => 400,
        QueryError::BudgetExhausted { .. } => 403,
        QueryError::CohortTooSmall { .. }
        | QueryError::TooFewConsented { .. }
        | QueryError::TooManyEdges { .. }
        | QueryError::TooMuchWork { .. }
        | QueryError::PrivateOnly { .. }
        | QueryError::Noise(_) => 422,
        QueryError::Store(_)
        | QueryError::WrongParty { .. }
        | QueryError::PolicyMismatch { .. } => 500,
        QueryError::Channel(_) | QueryError::Setup(_) | QueryError::Stats(_) => 502,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every slot taken, the next query waits its time and is refused as busy; a slot
    /// given back lets the next one in.
    #[tokio::test]
    async fn a_query_beyond_the_slots_is_refused_busy() {
        let slots = tokio::sync::Semaphore::new(2);
        let wait = std::time::Duration::from_millis(50);
        let first = query_slot(&slots, wait).await.unwrap();
        let _second = query_slot(&slots, wait).await.unwrap();
        let busy = query_slot(&slots, wait).await.unwrap_err();
        assert_eq!(busy.status, 503);
        assert!(busy.reason.contains("busy"), "{}", busy.reason);
        drop(first);
        assert!(query_slot(&slots, wait).await.is_ok());
    }

    fn request(signature: &str) -> SignedRequest {
        SignedRequest {
            body: "{}".to_string(),
            signer: "00".repeat(32),
            nonce: "00".repeat(16),
            time: 0,
            signature: signature.to_string(),
        }
    }

    /// Honest parties agree on the three keys; a party that opens a key other than the one it
    /// committed to (it chose its key after seeing the others') is refused by both peers,
    /// named, with the status of a deviation.
    #[test]
    fn session_keys_are_committed_before_they_are_opened() {
        use hdg_mpc::memory::{DEFAULT_TIMEOUT, memory_channels};
        let session = SessionId([7; 32]);
        for cheat in [None, Some(0), Some(1), Some(2)] {
            let secrets = [0, 1, 2].map(|_| SessionSecret::random());
            let channels = memory_channels(DEFAULT_TIMEOUT);
            let out: Vec<Result<[PublicKey; 3], Refusal>> = std::thread::scope(|s| {
                let handles: Vec<_> = channels
                    .into_iter()
                    .zip(&secrets)
                    .enumerate()
                    .map(|(i, (mut ch, secret))| {
                        s.spawn(move || {
                            let me = PartyId::ALL[i];
                            if cheat == Some(i) {
                                // Commits to one key, then opens another.
                                let other = SessionSecret::random().public();
                                let c = public_commitment(&session, me, &secret.public());
                                for key in [c, *other.as_bytes()] {
                                    let words = hdg_mpc::words::from_32_bytes(&key);
                                    ch.send(me.next(), &words).unwrap();
                                    ch.send(me.prev(), &words).unwrap();
                                    let _ = ch.recv(me.prev());
                                    let _ = ch.recv(me.next());
                                }
                                return Err(Refusal::new(0, "the cheat"));
                            }
                            exchange_publics(&mut ch, me, &session, secret.public())
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let publics = [0, 1, 2].map(|i| secrets[i].public());
            for (i, o) in out.iter().enumerate() {
                match cheat {
                    None => assert_eq!(o.as_ref().unwrap(), &publics, "party {i}"),
                    Some(c) if c == i => {}
                    Some(c) => {
                        let refusal = o.as_ref().unwrap_err();
                        assert_eq!(refusal.status, 409, "party {i}: {}", refusal.reason);
                        assert!(
                            refusal.reason.contains(&format!("P{c} deviated")),
                            "party {i}: {}",
                            refusal.reason
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_session_id_follows_the_signature() {
        let a = request(&"ab".repeat(64));
        let b = request(&"cd".repeat(64));
        assert_eq!(session_of(&a), session_of(&a.clone()));
        assert_ne!(session_of(&a), session_of(&b));
    }

    #[test]
    fn refusals_map_to_the_status_of_whose_fault_it_is() {
        assert_eq!(query_status(&QueryError::EmptyWindow), 400);
        assert_eq!(
            query_status(&QueryError::CohortTooSmall { min_cohort: 10 }),
            422
        );
        assert_eq!(
            query_status(&QueryError::RowSetMismatch {
                me: PartyId::P0,
                peer: PartyId::P1
            }),
            409
        );
        // A deviation the checks found is an abort (409), a failing link is not (502).
        let deviation = QueryError::Stats(hdg_mpc::stats::StatsError::Protocol(
            hdg_mpc::ProtocolError::Deviation {
                step: "reveal bits",
                sender: PartyId::P0,
                witness: PartyId::P2,
                reporter: PartyId::P1,
            },
        ));
        assert!(deviation.is_abort());
        assert_eq!(query_status(&deviation), 409);
        let link = QueryError::Stats(hdg_mpc::stats::StatsError::Protocol(
            hdg_mpc::ProtocolError::Channel(hdg_mpc::ChannelError::Closed { peer: PartyId::P2 }),
        ));
        assert!(!link.is_abort());
        assert_eq!(query_status(&link), 502);
    }

    #[test]
    fn a_body_that_is_not_a_query_is_a_bad_request() {
        let refusal = parse_query(r#"{"statistic":{"kind":"mean"}}"#).unwrap_err();
        assert_eq!(refusal.status, 400);
        assert!(refusal.reason.contains("bad query"));
    }
}
