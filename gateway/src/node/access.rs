//! Raw access to a patient's records with k-of-n approval (`POST /v1/access` at the patient's
//! home node).
//!
//! A request names the patient (their public key), the requesting clinician, the indicators (or
//! all), why, and until when it is valid; it carries one nonce and time and the signatures of
//! its approvers, each over the same bytes (the signed-request message of [`super::signed`] with
//! the approver as signer). The policy is the patient's own (`AccessPolicy` in
//! [`super::consent`], e.g. 2 of 3 with a second clinician) or by default 2 of 2 — the patient's
//! own key and the requesting clinician; the requester is a registered clinician either way. With fewer valid approvals it
//! is refused, naming who is missing. A granted access is anchored (`Access` entry: subject the
//! request digest, actor the clinician, its text with the approvers beside it, indexed for the
//! patient's audit) before any record leaves the node. The records leave sealed to the X25519
//! key the request names (`reply_to`, approved with the rest), bound to the request's digest.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_ledger::EntryKind;
use hdg_schema::{Catalog, Pseudonym, to_fhir};
use serde_json::{Value, json};
use thiserror::Error;
use tracing::{info, warn};
use zeroize::Zeroizing;

pub use hdg_wire::access::{ACCESS_DOMAIN, AccessRequest, records_context};

use super::api::ApiError;
use super::approvals::{ApprovedRequest, approvers, check_fresh, digest};
use super::registry::{Registry, Role};
use super::replay::ReplayCache;
use super::sealed_reply;
use super::signed::{Kind, RequestError, decode_fixed};
use super::state::{NodeState, with_store};
use crate::clock::now;
use crate::net::identity::parse_key;

/// Why a raw access is refused (never a health value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccessError {
    /// An approval does not check out.
    #[error("access refused: approval {index}: {error}")]
    Approval {
        /// Which approval.
        index: usize,
        /// Why.
        error: RequestError,
    },
    /// The body is not an access request.
    #[error("access refused: malformed request ({0})")]
    Body(String),
    /// Past its `until`.
    #[error("access refused: {0}")]
    Stale(String),
    /// Outside the clock-skew window, replayed, or not recorded against replays.
    #[error("access refused: {0}")]
    Fresh(RequestError),
    /// The policy's approvers are not all there.
    #[error("access refused: not enough approvals: {0}")]
    NotEnoughApprovals(String),
}

/// A patient's own access policy: the clinicians' keys and how many approvals it needs.
pub type Policy = (Vec<[u8; 32]>, usize);

fn key(hex_text: &str, what: &str) -> Result<[u8; 32], AccessError> {
    parse_key(hex_text)
        .ok_or_else(|| AccessError::Body(format!("{what} is not a 64-hex-digit key")))
}

/// The requester's key, when it is a registered clinician's and among the `approvers`: the
/// part of the policy that holds whatever the patient chose.
fn check_requester(
    access: &AccessRequest,
    approvers: &BTreeSet<[u8; 32]>,
    registry: &Registry,
) -> Result<[u8; 32], AccessError> {
    let requester = key(&access.requester, "requester")?;
    if !registry.has(Role::Clinician, &requester) {
        return Err(AccessError::NotEnoughApprovals(
            "the requester is not a registered treating clinician".into(),
        ));
    }
    if !approvers.contains(&requester) {
        return Err(AccessError::NotEnoughApprovals(
            "missing the requesting clinician's own approval".into(),
        ));
    }
    Ok(requester)
}

/// The patient's policy, or without one the default (2 of 2: the patient and the requesting
/// clinician); the requester must be a registered clinician either way.
fn check_policy(
    access: &AccessRequest,
    approvers: &BTreeSet<[u8; 32]>,
    registry: &Registry,
    policy: Option<&Policy>,
) -> Result<[u8; 32], AccessError> {
    let patient = key(&access.patient, "patient")?;
    let requester = check_requester(access, approvers, registry)?;
    let not_enough = |m: String| Err(AccessError::NotEnoughApprovals(m));
    match policy {
        None => {
            if !approvers.contains(&patient) {
                return not_enough(format!(
                    "the policy is 2 of 2 (the patient and the requesting clinician); missing the patient ({} valid approval(s))",
                    approvers.len()
                ));
            }
        }
        Some((clinicians, required)) => {
            if !clinicians.contains(&requester) {
                return not_enough("the requester is not one of the patient's clinicians".into());
            }
            let counted = approvers
                .iter()
                .filter(|k| **k == patient || clinicians.contains(k))
                .count();
            if counted < *required {
                return not_enough(format!(
                    "the patient's policy is {required} of {} (the patient and their clinicians); {counted} of them approved",
                    clinicians.len() + 1
                ));
            }
        }
    }
    Ok(requester)
}

/// A request that passed every check.
#[derive(Debug)]
pub struct Granted {
    /// What it asks for.
    pub access: AccessRequest,
    /// Its distinct approvers' keys.
    pub approvers: BTreeSet<[u8; 32]>,
    /// The requesting clinician's key.
    pub requester: [u8; 32],
    /// The key the records are sealed to.
    pub reply_to: [u8; 32],
}

/// The request's body and its distinct approvers, every approval's signature checked.
pub fn read_signed(
    req: &ApprovedRequest,
) -> Result<(AccessRequest, BTreeSet<[u8; 32]>), AccessError> {
    let approvers = approvers(req, Kind::Access)
        .map_err(|(index, error)| AccessError::Approval { index, error })?;
    let access: AccessRequest =
        serde_json::from_str(&req.body).map_err(|e| AccessError::Body(e.to_string()))?;
    Ok((access, approvers))
}

/// Checks a request against the clock, the replay cache, the signatures and the policy.
pub fn check(
    req: &ApprovedRequest,
    at: i64,
    skew_ms: i64,
    registry: &Registry,
    policy: Option<&Policy>,
    cache: &mut ReplayCache,
) -> Result<Granted, AccessError> {
    let (access, approvers) = read_signed(req)?;
    check_read(req, access, approvers, at, skew_ms, registry, policy, cache)
}

/// [`check`] of a request [`read_signed`] already read: its body, the policy, the clock and
/// the replay cache.
#[allow(
    clippy::too_many_arguments,
    reason = "the pieces of one check, kept apart for the handler"
)]
fn check_read(
    req: &ApprovedRequest,
    access: AccessRequest,
    approvers: BTreeSet<[u8; 32]>,
    at: i64,
    skew_ms: i64,
    registry: &Registry,
    policy: Option<&Policy>,
    cache: &mut ReplayCache,
) -> Result<Granted, AccessError> {
    if let Some(code) = access
        .indicators
        .iter()
        .find(|c| Catalog::active().get(c).is_none())
    {
        return Err(AccessError::Body(format!(
            "indicator {code} is not in the catalog"
        )));
    }
    let reply_to = decode_fixed::<32>(&access.reply_to, "reply_to", "")
        .map_err(|_| AccessError::Body("reply_to is not 64 lowercase hex digits".into()))?;
    sealed_reply::check_recipient(&reply_to).map_err(|e| AccessError::Body(e.to_string()))?;
    let requester = check_policy(&access, &approvers, registry, policy)?;
    if at > access.until {
        return Err(AccessError::Stale("the request is past its `until`".into()));
    }
    check_fresh(req, digest(req, ACCESS_DOMAIN), at, skew_ms, cache).map_err(AccessError::Fresh)?;
    Ok(Granted {
        access,
        approvers,
        requester,
        reply_to,
    })
}

/// The access policy the request's patient signed last, if any (from the consent records here).
async fn patient_policy(
    state: &Arc<NodeState>,
    access: &AccessRequest,
) -> Result<Option<Policy>, ApiError> {
    let key = key(&access.patient, "patient").map_err(refusal)?;
    let cache = state.clone();
    let set = with_store(state, move |s| cache.consents.get(s))
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(set.access_policy(&Pseudonym::from_public_key(&key)))
}

/// A refused access as the API's answer (logged with its reason, never a value).
fn refusal(e: AccessError) -> ApiError {
    warn!(reason = %e, "raw access refused");
    let status = match e {
        AccessError::NotEnoughApprovals(_) | AccessError::Approval { .. } => StatusCode::FORBIDDEN,
        AccessError::Fresh(e) => {
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
        }
        AccessError::Body(_) | AccessError::Stale(_) => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, e.to_string())
}

/// The handler of `POST /v1/access`.
pub async fn post_access(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "cannot read the request body"))?;
    let req: ApprovedRequest = serde_json::from_slice(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "body is not an approved access request",
        )
    })?;
    let skew = i64::try_from(state.clock_skew.as_millis()).unwrap_or(i64::MAX);
    // The signatures and the requester first: nothing is read from the store for a request
    // that no registered clinician approved.
    let (access, signers) = read_signed(&req).map_err(refusal)?;
    check_requester(
        &access,
        &signers,
        &state
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .map_err(refusal)?;
    let policy = patient_policy(&state, &access).await?;
    let checked = {
        let mut cache = state
            .replay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let registry = state
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_read(
            &req,
            access,
            signers,
            now().0,
            skew,
            &registry,
            policy.as_ref(),
            &mut cache,
        )
        .and_then(|granted| {
            state
                .charge(Kind::Access, &granted.requester)
                .map_err(AccessError::Fresh)?;
            Ok(granted)
        })
    };
    let Granted {
        access,
        approvers,
        requester,
        reply_to,
    } = checked.map_err(refusal)?;
    let patient_key = parse_key(&access.patient).expect("checked by the policy");
    let patient = Pseudonym::from_public_key(&patient_key);
    let mut names: Vec<String> = approvers
        .iter()
        .map(|k| {
            if *k == patient_key {
                return "the patient".to_string();
            }
            state
                .registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .name_of(k)
                .map_or_else(|| hex::encode(k), str::to_string)
        })
        .collect();
    names.sort();
    let text = json!({
        "why": access.why,
        "indicators": access.indicators,
        "approvers": names,
        "requester": access.requester,
    })
    .to_string();
    let subject = digest(&req, ACCESS_DOMAIN);
    let cached = state.clone();
    let (records, leaf) = with_store(&state, move |store| {
        let mut ids = Vec::new();
        if access.indicators.is_empty() {
            ids = store.scan_patient(&patient, None)?;
        } else {
            for code in &access.indicators {
                ids.extend(store.scan_patient(&patient, Some(code))?);
            }
        }
        // Anchored before any record leaves the node.
        let (leaf, head) = store.anchor_use(
            EntryKind::Access,
            subject,
            &text,
            requester,
            &BTreeSet::from([patient]),
            None,
            now(),
        )?;
        cached.ledger_written(store, Some(head));
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            records.push(to_fhir(&store.get_handle(&id)?, Catalog::active()));
        }
        Ok((records, leaf))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    info!(
        records = records.len(),
        ledger_index = leaf,
        "raw access granted"
    );
    let plain = Zeroizing::new(json!({ "records": records }).to_string().into_bytes());
    drop(records);
    let sealed = sealed_reply::seal(&reply_to, &records_context(&subject), &plain)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("access refused: {e}")))?;
    Ok(Json(json!({
        "sealed": sealed,
        "ledger_index": leaf,
        "approvers": approvers.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::sealed_reply::ReplyKey;
    use ed25519_dalek::SigningKey;

    const T: i64 = 1_750_000_000_000;

    fn setup() -> (SigningKey, SigningKey, Registry, ApprovedRequest) {
        let (patient, clinician) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let registry = Registry {
            identities: vec![(
                "clinician-1".into(),
                Role::Clinician,
                clinician.verifying_key(),
            )],
            ..Registry::default()
        };
        let body = serde_json::to_string(&AccessRequest {
            patient: hex::encode(patient.verifying_key().to_bytes()),
            requester: hex::encode(clinician.verifying_key().to_bytes()),
            indicators: vec!["8867-4".into()],
            why: "follow-up".into(),
            until: T + 60_000,
            reply_to: hex::encode(ReplyKey::new().public()),
        })
        .unwrap();
        let req = ApprovedRequest {
            body,
            nonce: hex::encode([7u8; 16]),
            time: T,
            approvals: vec![],
        };
        (patient, clinician, registry, req)
    }

    #[test]
    fn two_of_two_is_granted_and_fewer_or_other_approvers_are_refused() {
        let (patient, clinician, registry, req) = setup();
        let mut only_clinician = req.clone();
        only_clinician.approve(&clinician, Kind::Access);
        let e = check(
            &only_clinician,
            T,
            60_000,
            &registry,
            None,
            &mut ReplayCache::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, AccessError::NotEnoughApprovals(m) if m.contains("the patient")),
            "{e}"
        );
        let mut only_patient = req.clone();
        only_patient.approve(&patient, Kind::Access);
        let e = check(
            &only_patient,
            T,
            60_000,
            &registry,
            None,
            &mut ReplayCache::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("the requesting clinician"), "{e}");
        // The patient approving twice is still one approver.
        only_patient.approve(&patient, Kind::Access);
        assert!(
            check(
                &only_patient,
                T,
                60_000,
                &registry,
                None,
                &mut ReplayCache::default()
            )
            .is_err()
        );

        let mut both = req.clone();
        both.approve(&patient, Kind::Access);
        both.approve(&clinician, Kind::Access);
        let mut cache = ReplayCache::default();
        let granted = check(&both, T, 60_000, &registry, None, &mut cache).unwrap();
        assert_eq!(granted.approvers.len(), 2);
        assert_eq!(granted.requester, clinician.verifying_key().to_bytes());
        let e = check(&both, T + 1, 60_000, &registry, None, &mut cache).unwrap_err();
        assert!(e.to_string().contains("replayed"), "{e}");
        let e = check(
            &both,
            T + 61_000,
            60_000,
            &registry,
            None,
            &mut ReplayCache::default(),
        )
        .unwrap_err();
        assert!(matches!(e, AccessError::Stale(_)), "{e}");
    }

    #[test]
    fn a_patients_own_policy_of_two_of_three_lets_a_second_clinician_approve_instead() {
        let (_, clinician, registry, req) = setup();
        let second = SigningKey::from_bytes(&[3; 32]);
        let policy: Policy = (
            vec![
                clinician.verifying_key().to_bytes(),
                second.verifying_key().to_bytes(),
            ],
            2,
        );
        let mut with_second = req.clone();
        with_second.approve(&clinician, Kind::Access);
        with_second.approve(&second, Kind::Access);
        let check_with = |r: &ApprovedRequest, p: Option<&Policy>| {
            check(r, T, 60_000, &registry, p, &mut ReplayCache::default())
        };
        check_with(&with_second, Some(&policy)).expect("2 of 3 without the patient");
        // Without the policy, the default needs the patient.
        assert!(check_with(&with_second, None).is_err());
        let mut alone = req.clone();
        alone.approve(&clinician, Kind::Access);
        let e = check_with(&alone, Some(&policy)).unwrap_err();
        assert!(e.to_string().contains("policy is 2 of 3"), "{e}");
        // An approver outside the policy does not count.
        let mut outsider = req.clone();
        outsider.approve(&clinician, Kind::Access);
        outsider.approve(&SigningKey::from_bytes(&[4; 32]), Kind::Access);
        assert!(check_with(&outsider, Some(&policy)).is_err());
    }

    #[test]
    fn a_tampered_body_or_an_unregistered_requester_is_refused() {
        let (patient, clinician, registry, req) = setup();
        let mut both = req.clone();
        both.approve(&patient, Kind::Access);
        both.approve(&clinician, Kind::Access);
        let mut tampered = both.clone();
        tampered.body = tampered.body.replace("8867-4", "39156-5");
        let e = check(
            &tampered,
            T,
            60_000,
            &registry,
            None,
            &mut ReplayCache::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                AccessError::Approval {
                    error: RequestError::BadSignature,
                    ..
                }
            ),
            "{e}"
        );
        let e = check(
            &both,
            T,
            60_000,
            &Registry::default(),
            None,
            &mut ReplayCache::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("registered treating clinician"),
            "{e}"
        );
    }
}
