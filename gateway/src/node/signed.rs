//! Signed client requests: every request that acts for someone carries the signer's ed25519
//! public key, a random nonce, the time it was made and a signature over all of them and the
//! body, so a node can check who asks, refuse a stale request and refuse a replayed one.
//!
//! The signature covers `domain || signer (32) || len(nonce) (u64 BE) || nonce || time (i64 BE,
//! unix ms) || len(body) (u64 BE) || body`. The domain is the request's [`Kind`] (`"hdg query
//! request v2\n"`, ...): a signature made for one kind of request is never valid for another, nor
//! for anything else the key signs; the lengths keep the fields from sliding into each other.
//!
//! Every hex field has exactly one spelling: lowercase, decoded once here at the edge and refused
//! otherwise, so no id, digest or replay-cache key derived from a request can be varied by
//! re-spelling it. Errors name the reason only, never a value of the request.

use std::time::Duration;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hdg_schema::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::registry::{Registry, Role};
use super::replay::{NotAdmitted, ReplayCache};

/// What a signed request is for: each kind has a signing domain of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A researcher's query.
    Query,
    /// A patient's consent (grant, revocation, access policy).
    Consent,
    /// A patient's audit.
    Audit,
    /// An approval of a raw access.
    Access,
    /// An administrator's approval of a registry change.
    Registry,
    /// A source's ingest.
    Ingest,
    /// A patient's erasure request, or an administrator's approval of one.
    Erase,
    /// A researcher asking what is left of their privacy budget.
    Budget,
}

impl Kind {
    /// The signing domain of this kind of request.
    pub fn domain(self) -> &'static [u8] {
        match self {
            Kind::Query => b"hdg query request v2\n",
            Kind::Consent => b"hdg consent request v2\n",
            Kind::Audit => b"hdg audit request v2\n",
            Kind::Access => b"hdg access request v2\n",
            Kind::Registry => b"hdg registry request v2\n",
            Kind::Ingest => b"hdg ingest request v2\n",
            Kind::Erase => b"hdg erasure request v2\n",
            Kind::Budget => b"hdg budget request v2\n",
        }
    }
}

/// Bytes of nonce [`sign`] draws.
pub const NONCE_BYTES: usize = 16;

/// Fewest nonce bytes [`verify`] accepts.
pub const MIN_NONCE_BYTES: usize = 16;

/// Most nonce bytes [`verify`] accepts (keeps the replay cache's entries small).
pub const MAX_NONCE_BYTES: usize = 64;

/// A client request as sent over the wire: the body and who signed it, when, with what nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    /// The request itself (canonical JSON of the request type).
    pub body: String,
    /// The signer's ed25519 public key, 64 hex digits.
    pub signer: String,
    /// A fresh random nonce, at least 16 bytes, in hex.
    pub nonce: String,
    /// When the request was made, unix milliseconds.
    pub time: i64,
    /// The ed25519 signature, 128 hex digits (empty when unsigned).
    #[serde(default)]
    pub signature: String,
}

/// A request whose signature, signer, time and nonce have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// Who signed it (a registered key).
    pub signer: VerifyingKey,
    /// Its nonce.
    pub nonce: Vec<u8>,
    /// When it was made.
    pub time: Timestamp,
    /// The request body.
    pub body: String,
}

/// Why a request was refused. Names the reason, never a value of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The request carries no signature.
    #[error("request refused: unsigned")]
    Unsigned,
    /// A field does not decode.
    #[error("request refused: malformed {field} ({reason})")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signer is not a registered identity (of the role the endpoint needs).
    #[error("request refused: unknown key (not registered with the cluster)")]
    UnknownKey,
    /// The signature does not verify for this signer and content.
    #[error("request refused: bad signature")]
    BadSignature,
    /// The request is older than the clock-skew window allows.
    #[error("request refused: expired (older than the {window_ms} ms clock-skew window)")]
    Expired {
        /// The window, milliseconds.
        window_ms: u64,
    },
    /// The request is dated further ahead than the clock-skew window allows.
    #[error("request refused: dated in the future beyond the {window_ms} ms clock-skew window")]
    OutsideClockSkew {
        /// The window, milliseconds.
        window_ms: u64,
    },
    /// The same signer already sent this nonce within the window.
    #[error("request refused: replayed (nonce already used by this signer)")]
    Replayed,
    /// The node could not write the request's nonce to its replay log, so it does not act on
    /// it (a request it acted on must stay refused as a replay after a restart).
    #[error("request refused for now: this node could not record it against replays; retry")]
    NotRecorded,
    /// The signer made more requests of this kind than its rate allows.
    #[error("request refused: too many requests from this key; retry in {retry_ms} ms")]
    TooMany {
        /// Milliseconds until the next request is allowed.
        retry_ms: u64,
    },
}

impl From<NotAdmitted> for RequestError {
    fn from(e: NotAdmitted) -> RequestError {
        match e {
            NotAdmitted::Replayed => RequestError::Replayed,
            NotAdmitted::NotRecorded => RequestError::NotRecorded,
        }
    }
}

impl RequestError {
    /// The HTTP status of this refusal: 401 when the request does not authenticate (unsigned,
    /// malformed, bad signature, stale), 403 when its signer may not make it or it was already
    /// used, 503 when the node could not record it.
    pub fn status(self) -> u16 {
        match self {
            RequestError::UnknownKey | RequestError::Replayed => 403,
            RequestError::NotRecorded => 503,
            RequestError::TooMany { .. } => 429,
            RequestError::Unsigned
            | RequestError::Malformed { .. }
            | RequestError::BadSignature
            | RequestError::Expired { .. }
            | RequestError::OutsideClockSkew { .. } => 401,
        }
    }
}

/// The bytes a request signature covers (see the module doc).
pub fn signed_message(
    kind: Kind,
    signer: &[u8; 32],
    nonce: &[u8],
    time: i64,
    body: &[u8],
) -> Vec<u8> {
    let domain = kind.domain();
    let mut m = Vec::with_capacity(domain.len() + 32 + 8 + nonce.len() + 8 + 8 + body.len());
    m.extend_from_slice(domain);
    m.extend_from_slice(signer);
    m.extend_from_slice(&(nonce.len() as u64).to_be_bytes());
    m.extend_from_slice(nonce);
    m.extend_from_slice(&time.to_be_bytes());
    m.extend_from_slice(&(body.len() as u64).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// SHA-256 of the message `request`'s signature covers as a request of `kind` (its fields
/// decoded, so one digest however it is spelled): what a sealed reply to it is bound to. `None`
/// when its signer or nonce is not lowercase hex (such a request never verifies).
pub fn request_digest(kind: Kind, request: &SignedRequest) -> Option<[u8; 32]> {
    let signer = decode_fixed::<32>(&request.signer, "signer", "").ok()?;
    let nonce = decode_lower(&request.nonce)?;
    let message = signed_message(kind, &signer, &nonce, request.time, request.body.as_bytes());
    Some(Sha256::digest(&message).into())
}

/// Signs `body`, a request of `kind`, as made at `now` with a fresh random nonce.
pub fn sign(key: &SigningKey, kind: Kind, body: &str, now: Timestamp) -> SignedRequest {
    sign_with_nonce(key, kind, body, now, &rand::random::<[u8; NONCE_BYTES]>())
}

/// Signs `body`, a request of `kind`, as made at `now` with the given nonce (approvals share
/// one nonce; otherwise use [`sign`]).
pub fn sign_with_nonce(
    key: &SigningKey,
    kind: Kind,
    body: &str,
    now: Timestamp,
    nonce: &[u8],
) -> SignedRequest {
    let signer = key.verifying_key().to_bytes();
    let signature = key.sign(&signed_message(
        kind,
        &signer,
        nonce,
        now.0,
        body.as_bytes(),
    ));
    SignedRequest {
        body: body.to_string(),
        signer: hex::encode(signer),
        nonce: hex::encode(nonce),
        time: now.0,
        signature: hex::encode(signature.to_bytes()),
    }
}

/// A lookup for [`verify`]: is `key` registered in `registry` with `role`?
pub fn registered(registry: &Registry, role: Role) -> impl Fn(&VerifyingKey) -> bool + '_ {
    move |key| registry.has(role, key.as_bytes())
}

/// Checks a request of `kind`: it decodes, is signed, by a key `is_known` accepts, the signature
/// verifies, its time is within `skew` of `now`, and its (signer, nonce) was not seen in the
/// window. Only an accepted request enters `cache`.
pub fn verify(
    request: &SignedRequest,
    kind: Kind,
    now: Timestamp,
    skew: Duration,
    is_known: impl Fn(&VerifyingKey) -> bool,
    cache: &mut ReplayCache,
) -> Result<VerifiedRequest, RequestError> {
    let verified = check_signature(request, kind, is_known)?;
    let window_ms = u64::try_from(skew.as_millis()).unwrap_or(u64::MAX);
    let window = i64::try_from(window_ms).unwrap_or(i64::MAX);
    let oldest = now.0.saturating_sub(window);
    if request.time < oldest {
        return Err(RequestError::Expired { window_ms });
    }
    if request.time > now.0.saturating_add(window) {
        return Err(RequestError::OutsideClockSkew { window_ms });
    }
    cache.forget_before(oldest);
    cache.admit(verified.signer.to_bytes(), &verified.nonce, request.time)?;
    Ok(verified)
}

/// Checks a request of `kind`: its form and signature only (by a key `is_known` accepts), not
/// its time or nonce: for records kept and re-checked later, such as a patient's consent.
pub fn check_signature(
    request: &SignedRequest,
    kind: Kind,
    is_known: impl Fn(&VerifyingKey) -> bool,
) -> Result<VerifiedRequest, RequestError> {
    if request.signature.is_empty() {
        return Err(RequestError::Unsigned);
    }
    let signer_bytes: [u8; 32] =
        decode_fixed(&request.signer, "signer", "must be 64 lowercase hex digits")?;
    let signer = VerifyingKey::from_bytes(&signer_bytes).map_err(|_| RequestError::Malformed {
        field: "signer",
        reason: "not an ed25519 public key",
    })?;
    let nonce = decode_lower(&request.nonce).ok_or(RequestError::Malformed {
        field: "nonce",
        reason: "not lowercase hex",
    })?;
    if !(MIN_NONCE_BYTES..=MAX_NONCE_BYTES).contains(&nonce.len()) {
        return Err(RequestError::Malformed {
            field: "nonce",
            reason: "must be 16 to 64 bytes",
        });
    }
    let sig_bytes: [u8; 64] = decode_fixed(
        &request.signature,
        "signature",
        "must be 128 lowercase hex digits",
    )?;
    if !is_known(&signer) {
        return Err(RequestError::UnknownKey);
    }
    let message = signed_message(
        kind,
        &signer_bytes,
        &nonce,
        request.time,
        request.body.as_bytes(),
    );
    signer
        .verify_strict(&message, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| RequestError::BadSignature)?;
    Ok(VerifiedRequest {
        signer,
        nonce,
        time: Timestamp(request.time),
        body: request.body.clone(),
    })
}

/// Lowercase hex, the one spelling every hex field has; `None` for anything else (uppercase
/// digits included).
pub fn decode_lower(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

/// Exactly `N` bytes of lowercase hex.
pub fn decode_fixed<const N: usize>(
    text: &str,
    field: &'static str,
    reason: &'static str,
) -> Result<[u8; N], RequestError> {
    decode_lower(text)
        .and_then(|b| <[u8; N]>::try_from(b.as_slice()).ok())
        .ok_or(RequestError::Malformed { field, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SKEW: Duration = Duration::from_secs(60);
    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn known(k: &SigningKey) -> impl Fn(&VerifyingKey) -> bool {
        let vk = k.verifying_key();
        move |x| *x == vk
    }

    fn check(
        req: &SignedRequest,
        k: &SigningKey,
        now: Timestamp,
    ) -> Result<VerifiedRequest, RequestError> {
        verify(
            req,
            Kind::Query,
            now,
            SKEW,
            known(k),
            &mut ReplayCache::default(),
        )
    }

    #[test]
    fn refusals_map_to_the_status_of_whose_fault_it_is() {
        assert_eq!(RequestError::UnknownKey.status(), 403);
        assert_eq!(RequestError::Replayed.status(), 403);
        assert_eq!(RequestError::BadSignature.status(), 401);
        assert_eq!(RequestError::Unsigned.status(), 401);
        assert_eq!(RequestError::Expired { window_ms: 1 }.status(), 401);
        assert_eq!(RequestError::NotRecorded.status(), 503);
    }

    #[test]
    fn accepts_a_fresh_signed_request() {
        let k = key(1);
        let req = sign(&k, Kind::Query, r#"{"q":1}"#, NOW);
        let v = check(&req, &k, Timestamp(NOW.0 + 5_000)).unwrap();
        assert_eq!(v.body, r#"{"q":1}"#);
        assert_eq!(v.signer, k.verifying_key());
        assert_eq!(v.time, NOW);
        assert_eq!(v.nonce.len(), NONCE_BYTES);
    }

    #[test]
    fn a_signature_made_for_one_kind_of_request_is_refused_for_another() {
        let k = key(1);
        let req = sign(&k, Kind::Consent, "{}", NOW);
        assert!(check_signature(&req, Kind::Consent, known(&k)).is_ok());
        for other in [
            Kind::Query,
            Kind::Audit,
            Kind::Access,
            Kind::Registry,
            Kind::Ingest,
            Kind::Erase,
            Kind::Budget,
        ] {
            assert_eq!(
                check_signature(&req, other, known(&k)),
                Err(RequestError::BadSignature),
                "{other:?}"
            );
        }
    }

    #[test]
    fn every_hex_field_has_one_spelling_and_uppercase_is_refused() {
        let k = key(1);
        let good = sign(&k, Kind::Query, "{}", NOW);
        type Upper = fn(&mut SignedRequest);
        let cases: [(Upper, &str); 3] = [
            (|r| r.signer = r.signer.to_uppercase(), "signer"),
            (|r| r.nonce = r.nonce.to_uppercase(), "nonce"),
            (|r| r.signature = r.signature.to_uppercase(), "signature"),
        ];
        for (upper, field) in cases {
            let mut req = good.clone();
            upper(&mut req);
            // Only a request whose spelling really changed is a test of the rule.
            assert_ne!(req, good, "{field}");
            match check(&req, &k, NOW) {
                Err(RequestError::Malformed { field: f, reason }) => {
                    assert_eq!(f, field);
                    assert!(reason.contains("lowercase"), "{reason}");
                }
                other => panic!("expected {field} refused as malformed, got {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_unsigned() {
        let k = key(1);
        let mut req = sign(&k, Kind::Query, "{}", NOW);
        req.signature.clear();
        assert_eq!(check(&req, &k, NOW), Err(RequestError::Unsigned));
    }

    /// Damages one field of a request.
    type Spoil = fn(&mut SignedRequest);

    #[test]
    fn refuses_malformed_fields() {
        let k = key(1);
        let good = sign(&k, Kind::Query, "{}", NOW);
        let cases: [(Spoil, &str); 5] = [
            (|r| r.signer.truncate(10), "signer"),
            (|r| r.nonce = "zz".repeat(16), "nonce"),
            (|r| r.nonce = "00".repeat(8), "nonce"),
            (|r| r.nonce = "00".repeat(65), "nonce"),
            (|r| r.signature.push_str("00"), "signature"),
        ];
        for (spoil, field) in cases {
            let mut req = good.clone();
            spoil(&mut req);
            match check(&req, &k, NOW) {
                Err(RequestError::Malformed { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected malformed {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_unknown_key() {
        let (k, other) = (key(1), key(2));
        let req = sign(&k, Kind::Query, "{}", NOW);
        assert_eq!(check(&req, &other, NOW), Err(RequestError::UnknownKey));
    }

    #[test]
    fn registry_lookup_checks_the_role() {
        let k = key(1);
        let registry = Registry {
            identities: vec![("p".to_string(), Role::Patient, k.verifying_key())],
            ..Registry::default()
        };
        let req = sign(&k, Kind::Query, "{}", NOW);
        let mut cache = ReplayCache::default();
        let as_researcher = verify(
            &req,
            Kind::Query,
            NOW,
            SKEW,
            registered(&registry, Role::Researcher),
            &mut cache,
        );
        assert_eq!(as_researcher, Err(RequestError::UnknownKey));
        assert!(
            verify(
                &req,
                Kind::Query,
                NOW,
                SKEW,
                registered(&registry, Role::Patient),
                &mut cache
            )
            .is_ok()
        );
    }

    #[test]
    fn refuses_a_signature_by_another_key() {
        let (k, other) = (key(1), key(2));
        let mut req = sign(&other, Kind::Query, "{}", NOW);
        req.signer = hex::encode(k.verifying_key().to_bytes());
        assert_eq!(check(&req, &k, NOW), Err(RequestError::BadSignature));
    }

    #[test]
    fn refuses_expired_and_future_requests_at_the_window_edges() {
        let k = key(1);
        let req = sign(&k, Kind::Query, "{}", NOW);
        let window_ms = 60_000;
        assert!(check(&req, &k, Timestamp(NOW.0 + 60_000)).is_ok());
        assert_eq!(
            check(&req, &k, Timestamp(NOW.0 + 60_001)),
            Err(RequestError::Expired { window_ms })
        );
        assert!(check(&req, &k, Timestamp(NOW.0 - 60_000)).is_ok());
        assert_eq!(
            check(&req, &k, Timestamp(NOW.0 - 60_001)),
            Err(RequestError::OutsideClockSkew { window_ms })
        );
    }

    #[test]
    fn refuses_a_replay_and_forgets_after_the_window() {
        let k = key(1);
        let mut cache = ReplayCache::default();
        let req = sign(&k, Kind::Query, "{}", NOW);
        assert!(verify(&req, Kind::Query, NOW, SKEW, known(&k), &mut cache).is_ok());
        let again = verify(
            &req,
            Kind::Query,
            Timestamp(NOW.0 + 1),
            SKEW,
            known(&k),
            &mut cache,
        );
        assert_eq!(again, Err(RequestError::Replayed));
        // Same nonce, other signer: not a replay.
        let k2 = key(2);
        let nonce = hex::decode(&req.nonce).unwrap();
        let other = sign_with_nonce(&k2, Kind::Query, "{}", NOW, &nonce);
        assert!(verify(&other, Kind::Query, NOW, SKEW, known(&k2), &mut cache).is_ok());
        assert_eq!(cache.len(), 2);
        // After the window the old entries are forgotten (a replay is now expired instead).
        let later = Timestamp(NOW.0 + 120_000);
        let fresh = sign(&k, Kind::Query, "{}", later);
        assert!(verify(&fresh, Kind::Query, later, SKEW, known(&k), &mut cache).is_ok());
        assert_eq!(cache.len(), 1);
        assert_eq!(
            verify(&req, Kind::Query, later, SKEW, known(&k), &mut cache),
            Err(RequestError::Expired { window_ms: 60_000 })
        );
    }

    #[test]
    fn a_refused_request_does_not_burn_its_nonce() {
        let k = key(1);
        let mut cache = ReplayCache::default();
        let req = sign(&k, Kind::Query, "{}", NOW);
        let mut bad = req.clone();
        bad.body = "{ }".to_string();
        assert_eq!(
            verify(&bad, Kind::Query, NOW, SKEW, known(&k), &mut cache),
            Err(RequestError::BadSignature)
        );
        assert!(verify(&req, Kind::Query, NOW, SKEW, known(&k), &mut cache).is_ok());
    }

    #[test]
    fn errors_never_echo_request_values() {
        let k = key(1);
        let mut req = sign(&k, Kind::Query, "{\"secret\":\"HBA1C-7.3\"}", NOW);
        req.body.push(' ');
        let msg = check(&req, &k, NOW).unwrap_err().to_string();
        assert!(!msg.contains("HBA1C") && !msg.contains(&req.nonce[..8]));
    }

    #[derive(Debug, Clone, Copy)]
    enum Field {
        Body,
        Nonce,
        Time,
        Signer,
        Signature,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any one-byte change to any signed field, or to the signature, is refused.
        #[test]
        fn any_one_byte_change_is_refused(
            body in "[ -~]{1,64}",
            field in prop_oneof![
                Just(Field::Body), Just(Field::Nonce), Just(Field::Time),
                Just(Field::Signer), Just(Field::Signature)
            ],
            pos in any::<usize>(),
            flip in 1u8..=255,
        ) {
            let k = key(7);
            let req = sign(&k, Kind::Query, &body, NOW);
            let mut bad = req.clone();
            let change = |bytes: &mut Vec<u8>| {
                let i = pos % bytes.len();
                bytes[i] ^= flip;
            };
            match field {
                Field::Body => {
                    let mut b = bad.body.clone().into_bytes();
                    change(&mut b);
                    // A non-UTF-8 body could not be sent as a string at all.
                    prop_assume!(String::from_utf8(b.clone()).is_ok());
                    bad.body = String::from_utf8(b).unwrap();
                }
                Field::Nonce => {
                    let mut b = hex::decode(&bad.nonce).unwrap();
                    change(&mut b);
                    bad.nonce = hex::encode(b);
                }
                Field::Time => {
                    let mut b = bad.time.to_be_bytes().to_vec();
                    change(&mut b);
                    bad.time = i64::from_be_bytes(b.try_into().unwrap());
                }
                Field::Signer => {
                    let mut b = hex::decode(&bad.signer).unwrap();
                    change(&mut b);
                    bad.signer = hex::encode(b);
                }
                Field::Signature => {
                    let mut b = hex::decode(&bad.signature).unwrap();
                    change(&mut b);
                    bad.signature = hex::encode(b);
                }
            }
            // The registry knows both the real key and whatever key a changed signer names, so
            // the refusal must come from the signature or the clock, never from the lookup.
            let result = verify(&bad, Kind::Query, NOW, SKEW, |_| true, &mut ReplayCache::default());
            prop_assert!(result.is_err());
            prop_assert!(verify(&req, Kind::Query, NOW, SKEW, known(&k), &mut ReplayCache::default()).is_ok());
        }
    }
}
