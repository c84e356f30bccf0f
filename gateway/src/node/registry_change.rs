//! Changes to the identity registry, approved by k of the cluster's node administrators
//! (`POST /v1/registry`; k is `registry_quorum` in the node config, default 2).
//!
//! A change adds or removes one identity, or sets the purposes a researcher may query for. It is an approved request ([`super::approvals`]):
//! every node checks the admins' signatures itself against its own registry, applies the change,
//! and keeps it with a `Registry` ledger entry; the node asked forwards it to both peers
//! ([`Request::RegistryChange`]). At start a node applies its stored changes again, in order, on
//! top of its registry file, so a restart keeps them. A change that would leave fewer admins than
//! the quorum is refused, so the registry can always be changed again.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use tracing::{info, warn};

pub use hdg_wire::registry::RegistryChange;

use super::api::ApiError;
use super::approvals::{ApprovedRequest, approvers, check_fresh, digest};
use super::registry::{Registry, Role};
use super::signed::Kind;
use super::state::{NodeState, with_store};
use crate::clock::now;
use crate::net::identity::parse_key;
use crate::net::rpc::{Request, Response};

/// Domain of a registry change's digest.
const DOMAIN: &str = "hdg registry change v1";
/// How long a peer may take to apply a change.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks `req`'s admin approvals against `registry` (at least `quorum` distinct registered
/// admins) and that the change applies; the change and its first approving admin.
pub fn check_change(
    req: &ApprovedRequest,
    registry: &Registry,
    quorum: usize,
) -> Result<(RegistryChange, [u8; 32]), String> {
    let change: RegistryChange =
        serde_json::from_str(&req.body).map_err(|e| format!("malformed change: {e}"))?;
    let approvers =
        approvers(req, Kind::Registry).map_err(|(i, e)| format!("approval {i}: {e}"))?;
    let admins: Vec<[u8; 32]> = approvers
        .into_iter()
        .filter(|k| registry.has(Role::Admin, k))
        .collect();
    if admins.len() < quorum {
        return Err(format!(
            "not enough approvals: {} registered administrator(s) approved, {quorum} needed",
            admins.len()
        ));
    }
    let mut after = registry.clone();
    apply(&mut after, &change)?;
    if after.count(Role::Admin) < quorum {
        return Err(format!(
            "the change would leave fewer than {quorum} administrators: the registry could not be changed again"
        ));
    }
    Ok((change, admins[0]))
}

/// Applies `change` to `registry`; `Err` names why it does not apply.
pub fn apply(registry: &mut Registry, change: &RegistryChange) -> Result<(), String> {
    let key = |hex_text: &str| {
        let k = parse_key(hex_text).ok_or("public_key: not 64 hex digits")?;
        VerifyingKey::from_bytes(&k).map_err(|_| "public_key: not an ed25519 key".to_string())
    };
    match change {
        RegistryChange::Add {
            name,
            role,
            public_key,
            purposes,
            hospital,
        } => {
            let k = key(public_key)?;
            if registry
                .identities
                .iter()
                .any(|(n, r, v)| (*v == k && r == role) || n == name)
            {
                return Err(format!("{name} or its key is already registered as that"));
            }
            registry.set_purposes(*role, k.as_bytes(), purposes)?;
            registry.set_hospital(*role, k.as_bytes(), hospital.as_deref())?;
            registry.identities.push((name.clone(), *role, k));
        }
        RegistryChange::Purposes {
            public_key,
            purposes,
        } => {
            let k = key(public_key)?;
            if !registry.has(Role::Researcher, k.as_bytes()) {
                return Err("no researcher has that key".into());
            }
            if purposes.is_empty() {
                return Err("purposes: name at least one".into());
            }
            registry.set_purposes(Role::Researcher, k.as_bytes(), purposes)?;
        }
        RegistryChange::Remove { public_key } => {
            let k = key(public_key)?;
            let before = registry.identities.len();
            registry.identities.retain(|(_, _, v)| *v != k);
            if registry.identities.len() == before {
                return Err("no identity has that key".into());
            }
            registry.purposes.remove(k.as_bytes());
            registry.hospitals.remove(k.as_bytes());
        }
    }
    Ok(())
}

/// Checks, stores, anchors and applies `req` at this node; the ledger index when written, or
/// the refusal's status and reason.
pub async fn apply_here(
    state: &Arc<NodeState>,
    req: &ApprovedRequest,
) -> Result<Option<u64>, (StatusCode, String)> {
    let skew = i64::try_from(state.clock_skew.as_millis()).unwrap_or(i64::MAX);
    // One change at a time, checked and applied to a copy before anything is stored: a change
    // that is stored always applies, here and when the node replays its changes at start.
    let _one_at_a_time = state.registry_changes.lock().await;
    let (admin, next, change) = {
        let registry = state
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (change, admin) = check_change(req, &registry, state.registry_quorum).map_err(|e| {
            let status = if e.starts_with("not enough approvals") {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, e)
        })?;
        let mut next = registry.clone();
        apply(&mut next, &change).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        (admin, next, change)
    };
    {
        let mut cache = state
            .replay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_fresh(req, digest(req, DOMAIN), now().0, skew, &mut cache)
            .and_then(|()| state.charge(Kind::Registry, &admin))
            .map_err(|e| {
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                (status, e.to_string())
            })?;
    }
    let bytes = serde_json::to_vec(req).expect("a request serialises");
    let subject = digest(req, DOMAIN);
    let worker = state.clone();
    with_store(state, move |store| {
        let written = store.record_registry_change(subject, &bytes, admin, now())?;
        worker.ledger_written(store, written.as_ref().map(|(_, head)| head.clone()));
        Ok(written.map(|(leaf, _)| leaf))
    })
    .await
    .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))
    .inspect(|leaf| {
        // A change this node had stored already (a peer's copy of it) is already applied.
        if leaf.is_some() {
            *state
                .registry
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
            info!(?change, "registry changed");
        }
    })
}

/// Applies the changes stored in `store`, in order, on top of the registry file's `registry`
/// (each checked again against the registry as it was then).
pub fn replay_changes(
    registry: &mut Registry,
    stored: &[Vec<u8>],
    quorum: usize,
) -> Result<(), String> {
    for (i, bytes) in stored.iter().enumerate() {
        let req: ApprovedRequest = serde_json::from_slice(bytes)
            .map_err(|e| format!("stored registry change {i}: {e}"))?;
        let (change, _) = check_change(&req, registry, quorum)
            .map_err(|e| format!("stored registry change {i} no longer checks out: {e}"))?;
        apply(registry, &change)?;
    }
    Ok(())
}

/// The handler of `POST /v1/registry`.
pub async fn post_registry(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "cannot read the request body"))?;
    let req: ApprovedRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "body is not an approved request"))?;
    let own = apply_here(&state, &req).await.map_err(|(status, e)| {
        warn!(reason = %e, "registry change refused");
        ApiError::new(status, format!("registry change refused: {e}"))
    })?;
    let request = Request::RegistryChange { request: req };
    let mut ledger: Vec<Option<u64>> = vec![None; state.consortium.members().len()];
    ledger[state.position()] = own;
    let mut missing = Vec::new();
    for (peer, reply) in state.ask_others(&request, PEER_TIMEOUT).await {
        match reply {
            Ok(Response::Stored { leaf_index }) => {
                ledger[state.position_of(peer.node)] = leaf_index
            }
            Ok(other) => missing.push(format!("{peer}: unexpected answer {other:?}")),
            Err(e) => missing.push(e.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "registry changed here but not at every node: {}",
                missing.join("; ")
            ),
        ));
    }
    Ok(Json(json!({ "ledger_index": ledger })))
}

/// A peer's [`Request::RegistryChange`], checked and applied here as if posted here.
pub async fn answer_registry_change(state: &Arc<NodeState>, req: &ApprovedRequest) -> Response {
    match apply_here(state, req).await {
        Ok(leaf_index) => Response::Stored { leaf_index },
        Err((_, reason)) => Response::Error { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use hdg_wire::Purpose;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    fn registry() -> Registry {
        Registry {
            identities: (1..=3)
                .map(|i| (format!("admin-{i}"), Role::Admin, key(i).verifying_key()))
                .collect(),
            ..Registry::default()
        }
    }

    fn request(change: &RegistryChange, approvers: &[u8]) -> ApprovedRequest {
        let mut req = ApprovedRequest {
            body: serde_json::to_string(change).unwrap(),
            nonce: hex::encode([5u8; 16]),
            time: 1_750_000_000_000,
            approvals: vec![],
        };
        for a in approvers {
            req.approve(&key(*a), Kind::Registry);
        }
        req
    }

    fn add_researcher() -> RegistryChange {
        RegistryChange::Add {
            name: "new-institute".into(),
            role: Role::Researcher,
            public_key: hex::encode(key(9).verifying_key().to_bytes()),
            purposes: vec![],
            hospital: None,
        }
    }

    #[test]
    fn admins_set_a_researchers_purposes_and_nobody_elses() {
        let mut r = registry();
        apply(&mut r, &add_researcher()).unwrap();
        let k9 = *key(9).verifying_key().as_bytes();
        // Registered without a list: research only.
        assert!(r.may_query_for(&k9, Purpose::Research));
        assert!(!r.may_query_for(&k9, Purpose::Treatment));
        let set = |b: u8, purposes: Vec<Purpose>| RegistryChange::Purposes {
            public_key: hex::encode(key(b).verifying_key().to_bytes()),
            purposes,
        };
        let (change, _) =
            check_change(&request(&set(9, vec![Purpose::Statistics]), &[1, 2]), &r, 2).unwrap();
        apply(&mut r, &change).unwrap();
        assert!(r.may_query_for(&k9, Purpose::Statistics));
        assert!(!r.may_query_for(&k9, Purpose::Research));
        // An admin is not a researcher; an empty or repeated list is refused.
        let e = check_change(&request(&set(1, vec![Purpose::Research]), &[1, 2]), &r, 2);
        assert!(e.unwrap_err().contains("no researcher"));
        let e = check_change(&request(&set(9, vec![]), &[1, 2]), &r, 2);
        assert!(e.unwrap_err().contains("at least one"));
        let twice = vec![Purpose::Research, Purpose::Research];
        let e = check_change(&request(&set(9, twice), &[1, 2]), &r, 2);
        assert!(e.unwrap_err().contains("twice"));
        // Adding a non-researcher with purposes is refused; removal forgets the purposes.
        let clinician = RegistryChange::Add {
            name: "dr".into(),
            role: Role::Clinician,
            public_key: hex::encode(key(8).verifying_key().to_bytes()),
            purposes: vec![Purpose::Treatment],
            hospital: None,
        };
        let e = check_change(&request(&clinician, &[1, 2]), &r, 2).unwrap_err();
        assert!(e.contains("only a researcher"), "{e}");
        let remove = RegistryChange::Remove {
            public_key: hex::encode(k9),
        };
        apply(&mut r, &remove).unwrap();
        assert!(r.purposes.is_empty());
        assert!(!r.may_query_for(&k9, Purpose::Statistics));
    }

    #[test]
    fn staff_belong_to_the_hospital_they_are_added_at_and_researchers_to_none() {
        let mut r = registry();
        let add = |b: u8, role: Role, hospital: Option<&str>| RegistryChange::Add {
            name: format!("id-{b}"),
            role,
            public_key: hex::encode(key(b).verifying_key().to_bytes()),
            purposes: vec![],
            hospital: hospital.map(str::to_owned),
        };
        let (change, _) = check_change(
            &request(&add(8, Role::Clinician, Some("node1")), &[1, 2]),
            &r,
            2,
        )
        .unwrap();
        apply(&mut r, &change).unwrap();
        let k8 = *key(8).verifying_key().as_bytes();
        assert!(r.is_staff_of(&k8, "node1"));
        assert!(!r.is_staff_of(&k8, "node0"));
        let e = check_change(
            &request(&add(7, Role::Researcher, Some("node1")), &[1, 2]),
            &r,
            2,
        )
        .unwrap_err();
        assert!(e.contains("belongs to a hospital"), "{e}");
        let e = check_change(&request(&add(7, Role::Admin, Some("")), &[1, 2]), &r, 2).unwrap_err();
        assert!(e.contains("hospital's node"), "{e}");
        // Removal forgets the hospital.
        let remove = RegistryChange::Remove {
            public_key: hex::encode(k8),
        };
        apply(&mut r, &remove).unwrap();
        assert!(r.hospitals.is_empty());
    }

    #[test]
    fn a_role_the_registry_does_not_know_is_refused_naming_the_roles() {
        let body = add_researcher();
        let mut req = request(&body, &[1, 2]);
        req.body = req.body.replace("\"researcher\"", "\"doctor\"");
        let e = check_change(&req, &registry(), 2).unwrap_err();
        assert!(
            e.contains("unknown variant `doctor`") && e.contains("clinician"),
            "{e}"
        );
    }

    #[test]
    fn k_admins_change_the_registry_and_fewer_or_non_admins_cannot() {
        let r = registry();
        let one = check_change(&request(&add_researcher(), &[1]), &r, 2).unwrap_err();
        assert!(
            one.contains("not enough approvals: 1 registered administrator(s) approved, 2 needed"),
            "{one}"
        );
        let outsiders = check_change(&request(&add_researcher(), &[1, 7, 8]), &r, 2).unwrap_err();
        assert!(outsiders.contains("not enough approvals"), "{outsiders}");
        let (change, _) = check_change(&request(&add_researcher(), &[1, 3]), &r, 2).unwrap();
        let mut after = r.clone();
        apply(&mut after, &change).unwrap();
        assert!(after.has(Role::Researcher, key(9).verifying_key().as_bytes()));
        // Replaying the stored change on the file's registry gives the same registry.
        let mut replayed = r.clone();
        let stored = serde_json::to_vec(&request(&add_researcher(), &[1, 3])).unwrap();
        replay_changes(&mut replayed, &[stored], 2).unwrap();
        assert_eq!(replayed.identities, after.identities);
    }

    #[test]
    fn a_change_that_leaves_too_few_admins_or_does_not_apply_is_refused() {
        let r = registry();
        let remove = |b: u8| RegistryChange::Remove {
            public_key: hex::encode(key(b).verifying_key().to_bytes()),
        };
        check_change(&request(&remove(3), &[1, 2]), &r, 2).unwrap();
        let e = check_change(&request(&remove(3), &[1, 2, 3]), &r, 3).unwrap_err();
        assert!(e.contains("fewer than 3 administrators"), "{e}");
        let e = check_change(&request(&remove(9), &[1, 2]), &r, 2).unwrap_err();
        assert!(e.contains("no identity has that key"), "{e}");
    }
}
