//! What a node adds to the wire's k-of-n approved requests ([`hdg_wire::approvals`]): the
//! freshness and replay check, against its clock-skew window and its replay cache.

pub use hdg_wire::approvals::{Approval, ApprovedRequest, MAX_APPROVALS, approvers, digest};

use super::replay::ReplayCache;
use super::signed::{RequestError, decode_lower};

/// Refuses a request dated outside `skew_ms` of `at` (expired, or too far ahead), or whose nonce
/// was already used with the same request (replayed), or that the replay log could not record.
pub fn check_fresh(
    req: &ApprovedRequest,
    key: [u8; 32],
    at: i64,
    skew_ms: i64,
    cache: &mut ReplayCache,
) -> Result<(), RequestError> {
    let window_ms = skew_ms.unsigned_abs();
    if req.time.abs_diff(at) > window_ms {
        return Err(if req.time < at {
            RequestError::Expired { window_ms }
        } else {
            RequestError::OutsideClockSkew { window_ms }
        });
    }
    let nonce = decode_lower(&req.nonce).ok_or(RequestError::Malformed {
        field: "nonce",
        reason: "not lowercase hex",
    })?;
    cache.forget_before(at.saturating_sub(skew_ms));
    cache.admit(key, &nonce, req.time)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::signed::Kind;
    use ed25519_dalek::SigningKey;

    const T: i64 = 1_750_000_000_000;

    fn request(approvers_: &[u8]) -> ApprovedRequest {
        let mut req = ApprovedRequest {
            body: r#"{"why":"follow-up"}"#.into(),
            nonce: hex::encode([0xab; 16]),
            time: T,
            approvals: vec![],
        };
        for b in approvers_ {
            req.approve(&SigningKey::from_bytes(&[*b; 32]), Kind::Access);
        }
        req
    }

    #[test]
    fn a_request_re_spelled_in_uppercase_is_refused_not_replayed() {
        // Before: hex decoding ignored case and the digest hashed the nonce's text, so an
        // upper-cased nonce made a "new" request past the replay cache.
        let req = request(&[1, 2]);
        let mut cache = ReplayCache::default();
        check_fresh(&req, digest(&req, "d"), T, 60_000, &mut cache).unwrap();
        let mut twin = req.clone();
        twin.nonce = twin.nonce.to_uppercase();
        assert!(matches!(
            approvers(&twin, Kind::Access),
            Err((0, RequestError::Malformed { field: "nonce", .. }))
        ));
        assert!(check_fresh(&twin, digest(&twin, "d"), T, 60_000, &mut cache).is_err());
        // And the same approvals re-sent as they were are a replay.
        assert_eq!(
            check_fresh(&req, digest(&req, "d"), T, 60_000, &mut cache),
            Err(RequestError::Replayed)
        );
    }

    #[test]
    fn a_time_far_from_now_is_refused_without_overflow() {
        let mut req = request(&[1]);
        req.time = i64::MIN;
        let mut cache = ReplayCache::default();
        assert!(check_fresh(&req, [0; 32], i64::MAX, 60_000, &mut cache).is_err());
        req.time = i64::MAX;
        assert!(check_fresh(&req, [0; 32], i64::MIN, i64::MAX, &mut cache).is_err());
    }
}
