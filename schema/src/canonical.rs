//! Canonical bytes of an observation: the deterministic, versioned binary encoding that the record
//! id hashes and that storage keeps as the record body.
//!
//! Layout, version 1 (integers big-endian; `str` = `u32` byte length then that many UTF-8 bytes):
//!
//! ```text
//! u8        version = 1
//! [u8; 32]  patient pseudonym
//! str       indicator code
//! u8        value tag: 0 = Absent, 1 = Quantity, 2 = Coded, 3 = Text
//!             Quantity: i64 fixed-point value
//!             Coded:    str system, str code, str display
//!             Text:     str text
//! i64       effective, ms since the Unix epoch
//! str       source
//! i64       recorded, ms since the Unix epoch
//! str       status, the FHIR code (e.g. "final")
//! u8        supersedes present: 0 or 1, then [u8; 32] record id when 1
//! ```
//!
//! The id is `SHA-256` of these bytes. Decoding is strict (no trailing bytes, no unknown tags or
//! statuses), so every accepted byte string is the encoding of exactly one observation.
//! Invariant: this layout never changes without a new version byte. The meaning of a `Quantity`
//! depends on the indicator's canonical unit and precision in the catalog, so those never change
//! for an existing indicator either.

use sha2::{Digest, Sha256};

use crate::ids::{Pseudonym, RecordId};
use crate::observation::ObservationData;
use crate::status::Status;
use crate::time::Timestamp;
use crate::value::Value;

/// The version byte written first.
pub const CANONICAL_VERSION: u8 = 1;

const TAG_ABSENT: u8 = 0;
const TAG_QUANTITY: u8 = 1;
const TAG_CODED: u8 = 2;
const TAG_TEXT: u8 = 3;

/// Why bytes are not a valid canonical observation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The first byte is not a known version.
    #[error("unknown canonical encoding version {0}")]
    UnknownVersion(u8),
    /// The bytes end inside a field.
    #[error("canonical bytes truncated in field {0}")]
    Truncated(&'static str),
    /// A text field is not UTF-8.
    #[error("field {0} is not UTF-8")]
    NotUtf8(&'static str),
    /// A tag or flag byte has no meaning.
    #[error("invalid tag in field {0}")]
    BadTag(&'static str),
    /// The status text is not a FHIR status code.
    #[error("unknown status code")]
    BadStatus,
    /// Bytes remain after the last field.
    #[error("trailing bytes after the observation")]
    TrailingBytes,
}

/// Encodes every field except the id (layout in the module doc).
pub fn encode(obs: &ObservationData) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + obs.indicator.len() + obs.source.len());
    out.push(CANONICAL_VERSION);
    out.extend_from_slice(obs.patient.as_bytes());
    put_str(&mut out, &obs.indicator);
    match &obs.value {
        Value::Absent => out.push(TAG_ABSENT),
        Value::Quantity(q) => {
            out.push(TAG_QUANTITY);
            out.extend_from_slice(&q.to_be_bytes());
        }
        Value::Coded {
            system,
            code,
            display,
        } => {
            out.push(TAG_CODED);
            put_str(&mut out, system);
            put_str(&mut out, code);
            put_str(&mut out, display);
        }
        Value::Text(text) => {
            out.push(TAG_TEXT);
            put_str(&mut out, text);
        }
    }
    out.extend_from_slice(&obs.effective.0.to_be_bytes());
    put_str(&mut out, &obs.source);
    out.extend_from_slice(&obs.recorded.0.to_be_bytes());
    put_str(&mut out, obs.status.as_fhir_code());
    match &obs.supersedes {
        None => out.push(0),
        Some(id) => {
            out.push(1);
            out.extend_from_slice(id.as_bytes());
        }
    }
    out
}

/// The record id of canonical bytes: their SHA-256.
pub fn record_id(canonical: &[u8]) -> RecordId {
    RecordId(Sha256::digest(canonical).into())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).expect("field longer than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Decodes canonical bytes back into observation content (strict; see the module doc).
pub fn decode(bytes: &[u8]) -> Result<ObservationData, DecodeError> {
    let mut r = Reader { rest: bytes };
    let version = r.u8("version")?;
    if version != CANONICAL_VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let patient = Pseudonym(r.array("patient")?);
    let indicator = r.string("indicator")?;
    let value = match r.u8("value")? {
        TAG_ABSENT => Value::Absent,
        TAG_QUANTITY => Value::Quantity(r.i64("value")?),
        TAG_CODED => Value::Coded {
            system: r.string("value.system")?,
            code: r.string("value.code")?,
            display: r.string("value.display")?,
        },
        TAG_TEXT => Value::Text(r.string("value")?),
        _ => return Err(DecodeError::BadTag("value")),
    };
    let effective = Timestamp(r.i64("effective")?);
    let source = r.string("source")?;
    let recorded = Timestamp(r.i64("recorded")?);
    let status = r
        .string("status")?
        .parse::<Status>()
        .map_err(|_| DecodeError::BadStatus)?;
    let supersedes = match r.u8("supersedes")? {
        0 => None,
        1 => Some(RecordId(r.array("supersedes")?)),
        _ => return Err(DecodeError::BadTag("supersedes")),
    };
    if !r.rest.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(ObservationData {
        patient,
        indicator,
        value,
        effective,
        source,
        recorded,
        status,
        supersedes,
    })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N, field)?.try_into().expect("length checked"))
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = u32::from_be_bytes(self.array(field)?) as usize;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::NotUtf8(field))
    }
}
