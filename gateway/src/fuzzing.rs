//! The entry points of the fuzz targets (`fuzz/fuzz_targets/`), one per untrusted input a node
//! parses. The nightly fuzzers and the stable corpus replay (`tests/fuzz_corpus.rs`) call the
//! same functions, so what the fuzzers found stays a regression test on every build.
//!
//! Each function feeds arbitrary bytes to a parser the way the node does and must return
//! (accepting or refusing) without panicking, overflowing or allocating without bound.

use std::io::Cursor;

use hdg_schema::{Catalog, Format, ImportOptions, Mode};

use crate::net::frame::{HEADER_BYTES, WordAssembler, check_header};
use crate::net::rpc::{Request, Response};
use crate::node::approvals::{ApprovedRequest, approvers};
use crate::node::consent::open_consent;
use crate::node::consent_fhir::{from_fhir, to_fhir};
use crate::node::ingest_auth;
use crate::node::signed::{Kind, SignedRequest, check_signature};

/// A fuzz target: its name and what it runs on one input.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target, by name (the names of `fuzz/fuzz_targets/*.rs` and `fuzz/corpus/*`).
pub const TARGETS: [Target; 11] = [
    ("import_fhir", import_fhir),
    ("import_ndjson", import_ndjson),
    ("import_csv", import_csv),
    ("frame", frame),
    ("rpc_json", rpc_json),
    ("share_batch", share_batch),
    ("signed_request", signed_request),
    ("approved_request", approved_request),
    ("ingest_headers", ingest_headers),
    ("consent_fhir", consent_fhir),
    ("signed_note", signed_note),
];

fn import(data: &[u8], format: Format) {
    let opts = ImportOptions {
        mode: Mode::Lenient,
        pseudonym_key: [7; 32],
        catalog: Catalog::active(),
        enrolled: None,
    };
    let _ = hdg_schema::import(Cursor::new(data), format, "fuzz", &opts, &mut |_| {});
}

/// A FHIR JSON body (bundle or resource) as `POST /v1/observations` imports it.
pub fn import_fhir(data: &[u8]) {
    import(data, Format::FhirJson);
}

/// An NDJSON body.
pub fn import_ndjson(data: &[u8]) {
    import(data, Format::Ndjson);
}

/// A CSV body.
pub fn import_csv(data: &[u8]) {
    import(data, Format::Csv);
}

/// A peer's session stream: frames (header, then payload) read as `read_frame` does, in
/// whatever chunks the bytes arrive (the first byte of each frame picks the chunk size).
pub fn frame(mut data: &[u8]) {
    const CAP: usize = 1 << 16;
    while data.len() >= HEADER_BYTES {
        let header: [u8; HEADER_BYTES] = data[..HEADER_BYTES].try_into().expect("header bytes");
        data = &data[HEADER_BYTES..];
        let Ok((words, _more)) = check_header(header, CAP) else {
            return;
        };
        let size = 8 * words;
        if data.len() < size {
            return;
        }
        let chunk = usize::from(header[0]).max(1);
        let mut assembler = WordAssembler::new(words);
        for piece in data[..size].chunks(chunk) {
            assembler.push(piece);
        }
        assert_eq!(assembler.finish().len(), words);
        data = &data[size..];
    }
}

/// A peer's RPC request or response (JSON).
pub fn rpc_json(data: &[u8]) {
    if let Ok(request) = serde_json::from_slice::<Request>(data) {
        let again = serde_json::to_vec(&request).expect("a parsed request serialises");
        serde_json::from_slice::<Request>(&again).expect("a serialised request parses");
    }
    let _ = serde_json::from_slice::<Response>(data);
}

/// A peer's share batch (binary): what decodes encodes back to the same bytes.
pub fn share_batch(data: &[u8]) {
    if let Ok((from, rows)) = crate::net::share_batch::decode(data) {
        let again = crate::net::share_batch::encode(from, &rows).expect("decoded rows encode");
        assert_eq!(&again[..], data, "a share batch has one encoding");
    }
}

/// A client's signed request (query, consent, audit, erasure) checked as every kind, and as a
/// consent.
pub fn signed_request(data: &[u8]) {
    let Ok(request) = serde_json::from_slice::<SignedRequest>(data) else {
        return;
    };
    for kind in [Kind::Query, Kind::Consent, Kind::Audit, Kind::Erase] {
        let _ = check_signature(&request, kind, |_| true);
    }
    let _ = open_consent(&request);
}

/// An approved request (raw access, registry change, admins' erasure).
pub fn approved_request(data: &[u8]) {
    let Ok(request) = serde_json::from_slice::<ApprovedRequest>(data) else {
        return;
    };
    for kind in [Kind::Access, Kind::Registry, Kind::Erase] {
        let _ = approvers(&request, kind);
    }
}

/// An ingest's signature headers: the bytes are split into the four header values at NUL
/// bytes, the rest is the body.
pub fn ingest_headers(data: &[u8]) {
    let mut parts = data.splitn(5, |b| *b == 0);
    let mut headers = axum::http::HeaderMap::new();
    for name in ["hdg-signer", "hdg-nonce", "hdg-time", "hdg-signature"] {
        let Some(value) = parts.next() else {
            return;
        };
        if let Ok(v) = axum::http::HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    let body = parts.next().unwrap_or_default();
    if let Ok(request) = ingest_auth::from_headers(&headers, body) {
        let _ = check_signature(&request, Kind::Ingest, |_| true);
    }
}

/// A FHIR R4 Consent mapped to a grant, and the grant mapped back.
pub fn consent_fhir(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(body) = from_fhir(&value) {
        let _ = to_fhir(&body);
    }
}

/// A peer's signed checkpoint note (what a witness is shown) and its checkpoint text.
pub fn signed_note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(note) = hdg_ledger::SignedNote::parse(text) {
        let _ = hdg_ledger::Checkpoint::parse(&note.text);
    }
    let _ = hdg_ledger::Checkpoint::parse(text);
}
