//! Signed client requests at a node: the format and the signature check are the wire crate's
//! ([`hdg_wire::signed`], re-exported here); what a node adds is whether the signer is registered
//! with the role an endpoint needs, the clock-skew window and the replay cache ([`verify`]).

use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use hdg_schema::Timestamp;

pub use hdg_wire::signed::*;

use super::registry::{Registry, Role};
use super::replay::{NotAdmitted, ReplayCache};

impl From<NotAdmitted> for RequestError {
    fn from(e: NotAdmitted) -> RequestError {
        match e {
            NotAdmitted::Replayed => RequestError::Replayed,
            NotAdmitted::NotRecorded => RequestError::NotRecorded,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
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
            Kind::Enrolment,
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
