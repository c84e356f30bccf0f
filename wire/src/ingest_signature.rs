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
//! The signature is a [`Kind::Ingest`] request signature ([`crate::signed`]) whose body is the
//! statement `content-type:<media type, lowercase, no parameters>\nsha256:<hex of the body>`:
//! a changed body, a body re-labelled as another format, or a replay is refused. The node
//! checks it like any signed request (registered key, clock-skew window, replay cache).

use ed25519_dalek::SigningKey;
use hdg_schema::Timestamp;
use sha2::{Digest, Sha256};

use crate::signed::{Kind, sign};

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
