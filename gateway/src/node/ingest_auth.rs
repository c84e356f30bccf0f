//! Who may write records: an ingest is a signed request of a registered **source** (a hospital's
//! EHR feed, role `source` in the registry). The body stays as it is (FHIR JSON, NDJSON, CSV);
//! the signature travels in four headers and covers a statement of the body, not its bytes
//! twice over:
//!
//! ```text
//! Hdg-Signer: <source key, 64 lowercase hex>   Hdg-Nonce: <16-64 bytes, lowercase hex>
//! Hdg-Time: <unix ms>                          Hdg-Signature: <128 lowercase hex>
//! ```
//!
//! The signature is a [`Kind::Ingest`] request signature ([`super::signed`]) whose body is the
//! statement `content-type:<media type, lowercase, no parameters>\nsha256:<hex of the body>`:
//! a changed body, a body re-labelled as another format, or a replay is refused. The node
//! checks it like any signed request (registered key, clock-skew window, replay cache) and
//! records the source as the actor of every record it writes.

use axum::http::HeaderMap;
use ed25519_dalek::SigningKey;
use hdg_schema::Timestamp;
use sha2::{Digest, Sha256};

use super::signed::{Kind, RequestError, SignedRequest, sign};

/// The header carrying the source's key.
pub const SIGNER: &str = "hdg-signer";
/// The header carrying the nonce.
pub const NONCE: &str = "hdg-nonce";
/// The header carrying the time.
pub const TIME: &str = "hdg-time";
/// The header carrying the signature.
pub const SIGNATURE: &str = "hdg-signature";

/// The media type of a Content-Type value: lowercase, parameters dropped ("" when absent).
pub fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|c| c.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// What a source signs for `body` sent as `content_type` (see the module doc).
pub fn statement(content_type: Option<&str>, body: &[u8]) -> String {
    format!(
        "content-type:{}\nsha256:{}",
        media_type(content_type),
        hex::encode(Sha256::digest(body))
    )
}

/// The headers that sign `body`, sent as `content_type`, by the source `key` at `now`.
pub fn sign_ingest(
    key: &SigningKey,
    content_type: &str,
    body: &[u8],
    now: Timestamp,
) -> Vec<(&'static str, String)> {
    let signed = sign(key, Kind::Ingest, &statement(Some(content_type), body), now);
    vec![
        (SIGNER, signed.signer),
        (NONCE, signed.nonce),
        (TIME, signed.time.to_string()),
        (SIGNATURE, signed.signature),
    ]
}

/// The signed request the headers of an ingest carry, for [`super::signed::verify`]; unsigned
/// when any header is missing, malformed when one is not text or the time not a number.
pub fn from_headers(headers: &HeaderMap, body: &[u8]) -> Result<SignedRequest, RequestError> {
    let text = |name: &'static str| -> Result<Option<String>, RequestError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| RequestError::Malformed {
                        field: name,
                        reason: "not visible ASCII",
                    })
            })
            .transpose()
    };
    let (Some(signer), Some(nonce), Some(time), Some(signature)) =
        (text(SIGNER)?, text(NONCE)?, text(TIME)?, text(SIGNATURE)?)
    else {
        return Err(RequestError::Unsigned);
    };
    let time = time.parse().map_err(|_| RequestError::Malformed {
        field: TIME,
        reason: "not unix milliseconds",
    })?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Ok(SignedRequest {
        body: statement(content_type, body),
        signer,
        nonce,
        time,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::replay::ReplayCache;
    use crate::node::signed::verify;
    use axum::http::HeaderValue;
    use std::time::Duration;

    const NOW: Timestamp = Timestamp(1_750_000_000_000);

    fn headers(signed: &[(&'static str, String)], content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in signed {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h.insert("content-type", HeaderValue::from_str(content_type).unwrap());
        h
    }

    fn check(h: &HeaderMap, body: &[u8], source: &SigningKey) -> Result<(), RequestError> {
        let signed = from_headers(h, body)?;
        let key = source.verifying_key();
        verify(
            &signed,
            Kind::Ingest,
            NOW,
            Duration::from_secs(60),
            |k| *k == key,
            &mut ReplayCache::default(),
        )
        .map(|_| ())
    }

    #[test]
    fn a_signed_body_passes_and_a_changed_or_relabelled_one_does_not() {
        let source = SigningKey::from_bytes(&[3; 32]);
        let body = b"patient,indicator,value,unit,effective\n";
        let signed = sign_ingest(&source, "text/csv; charset=utf-8", body, NOW);
        check(&headers(&signed, "text/csv; charset=utf-8"), body, &source).unwrap();
        // Parameters and case of the media type do not matter; the type itself does.
        check(&headers(&signed, "Text/CSV"), body, &source).unwrap();
        assert_eq!(
            check(&headers(&signed, "application/fhir+json"), body, &source),
            Err(RequestError::BadSignature)
        );
        assert_eq!(
            check(&headers(&signed, "text/csv"), b"another body", &source),
            Err(RequestError::BadSignature)
        );
        let stranger = SigningKey::from_bytes(&[4; 32]);
        assert_eq!(
            check(&headers(&signed, "text/csv"), body, &stranger),
            Err(RequestError::UnknownKey)
        );
    }

    #[test]
    fn missing_headers_are_unsigned_and_a_bad_time_is_malformed() {
        let source = SigningKey::from_bytes(&[3; 32]);
        let mut signed = sign_ingest(&source, "text/csv", b"x", NOW);
        signed.pop();
        assert_eq!(
            from_headers(&headers(&signed, "text/csv"), b"x"),
            Err(RequestError::Unsigned)
        );
        let mut signed = sign_ingest(&source, "text/csv", b"x", NOW);
        signed[2].1 = "yesterday".into();
        assert!(matches!(
            from_headers(&headers(&signed, "text/csv"), b"x"),
            Err(RequestError::Malformed { field: TIME, .. })
        ));
    }
}
