//! Who may write records: an ingest is a signed request of a registered **source** (a hospital's
//! EHR feed, role `source` in the registry), its signature in four headers over a statement of
//! the body ([`hdg_wire::ingest_signature`]). The node reads the headers back into a signed
//! request and checks it like any other (registered key, clock-skew window, replay cache), and
//! records the source as the actor of every record it writes.

use axum::http::HeaderMap;

pub use hdg_wire::ingest_signature::{
    NONCE, SIGNATURE, SIGNER, TIME, media_type, sign_ingest, statement,
};

use super::signed::{RequestError, SignedRequest};

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
    use crate::node::signed::{Kind, verify};
    use axum::http::HeaderValue;
    use ed25519_dalek::SigningKey;
    use hdg_schema::Timestamp;
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
