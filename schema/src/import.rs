//! The import entry point: formats, options, whole-file errors, and `import`.
//!
//! Strict vs lenient: both validate every entry and report every rejection. In lenient mode every
//! good observation goes to the sink. In strict mode any rejection refuses the whole batch, but
//! the input is streamed, so the sink may already have received good observations from before the
//! first rejection (none are passed after it): the caller (storage ingest) must buffer them, or
//! run a validating pass first, and commit only when [`ImportReport::is_clean`]. The report makes
//! the verdict; `ImportError` is only for whole-file failures.

use std::io::BufRead;

use zeroize::Zeroize;

use crate::catalog::Catalog;
use crate::collector::Collector;
use crate::enrolments::Enrolments;
use crate::observation::Observation;
use crate::report::ImportReport;
use crate::{csv_import, fhir_import, ndjson_import};

/// Input format of one file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// One FHIR R4 JSON resource: an `Observation` or a `Bundle` (transaction, collection,
    /// searchset, batch).
    FhirJson,
    /// FHIR bulk-export NDJSON: one resource per line (Observation; Patient lines are skipped).
    Ndjson,
    /// CSV with the header `patient,indicator,value,unit,effective,source` (see `csv_import`).
    Csv,
}

impl Format {
    /// Guesses the format from the file extension (`.json`, `.ndjson`/`.jsonl`, `.csv`), else
    /// from the first bytes (`{` -> FHIR JSON, the CSV header -> CSV). `None` when neither says.
    pub fn detect(path: &str, first_bytes: &[u8]) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
            return Some(Format::Ndjson);
        }
        if lower.ends_with(".json") {
            return Some(Format::FhirJson);
        }
        if lower.ends_with(".csv") {
            return Some(Format::Csv);
        }
        let bytes = first_bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(first_bytes);
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&[][..], |i| &bytes[i..]);
        if start.starts_with(b"{") {
            Some(Format::FhirJson)
        } else if start.starts_with(csv_import::HEADER.as_bytes()) {
            Some(Format::Csv)
        } else {
            None
        }
    }
}

/// Strict: any rejection refuses the batch. Lenient: good entries are accepted, bad ones reported.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Any rejected entry rejects the whole batch (the default of `hdg import`).
    Strict,
    /// Good entries are accepted; bad ones are reported.
    Lenient,
}

/// What `import` needs besides the bytes. The pseudonym key is zeroized on drop.
pub struct ImportOptions<'a> {
    /// Strict or lenient.
    pub mode: Mode,
    /// The node secret from which patient pseudonyms are derived.
    pub pseudonym_key: [u8; 32],
    /// The indicator catalog (usually `Catalog::builtin()` or an extension of it).
    pub catalog: &'a Catalog,
    /// Enrolled patients, pseudonymised by their public key (`None`: nobody is enrolled).
    pub enrolled: Option<&'a Enrolments>,
}

impl Drop for ImportOptions<'_> {
    fn drop(&mut self) {
        self.pseudonym_key.zeroize();
    }
}

/// A failure of the whole file (a bad entry is a `Rejection` in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A byte that is not UTF-8.
    #[error("input is not UTF-8: invalid byte at offset {offset}")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: u64,
    },
    /// Not well-formed JSON.
    #[error("malformed JSON at byte offset {offset} (line {line}, column {column}): {reason}")]
    MalformedJson {
        /// Byte offset where the parser stopped.
        offset: u64,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        reason: String,
    },
    /// Well-formed JSON that is not shaped like a FHIR resource (e.g. an entry that is not an
    /// object, or no `resourceType`).
    #[error("not a FHIR resource: {reason}")]
    NotFhir {
        /// Which rule is broken, with the position when known.
        reason: String,
    },
    /// A FHIR resource that is neither an Observation nor a Bundle.
    #[error("resource type {resource_type} is not an Observation or a Bundle")]
    UnsupportedResource {
        /// The `resourceType` found.
        resource_type: String,
    },
    /// A Bundle of a type that is not transaction, batch, collection or searchset.
    #[error(
        "Bundle type {bundle_type} is not supported (transaction, batch, collection, searchset)"
    )]
    UnsupportedBundleType {
        /// The `type` found (`(missing)` when absent).
        bundle_type: String,
    },
    /// The CSV header is not the documented one.
    #[error("CSV header must be exactly: {}", csv_import::HEADER)]
    CsvHeader,
    /// Reading the input failed.
    #[error("reading the input failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Imports one file: every valid observation goes to `sink`, every invalid entry to the report.
/// `file` names the input in rejections. See the module doc for strict mode and buffering.
pub fn import(
    reader: impl BufRead,
    format: Format,
    file: &str,
    opts: &ImportOptions,
    sink: &mut dyn FnMut(Observation),
) -> Result<ImportReport, ImportError> {
    let mut collector = Collector::new(file, opts, sink);
    match format {
        Format::FhirJson => fhir_import::import_json(reader, &mut collector)?,
        Format::Ndjson => ndjson_import::import_ndjson(reader, &mut collector)?,
        Format::Csv => csv_import::import_csv(reader, &mut collector)?,
    }
    Ok(collector.finish())
}

/// [`import`] of input already in memory (a request body): the same report, observations and
/// errors. A FHIR JSON document that is UTF-8 is parsed from the slice, several times faster
/// than through a reader; anything else goes through [`import`].
pub fn import_bytes(
    body: &[u8],
    format: Format,
    file: &str,
    opts: &ImportOptions,
    sink: &mut dyn FnMut(Observation),
) -> Result<ImportReport, ImportError> {
    if format == Format::FhirJson {
        let (text, base) = match body.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => (rest, 3),
            None => (body, 0),
        };
        if std::str::from_utf8(text).is_ok() {
            let mut collector = Collector::new(file, opts, sink);
            fhir_import::import_json_slice(text, base, &mut collector)?;
            return Ok(collector.finish());
        }
    }
    // Not UTF-8: the streamed path finds the same first problem (a syntax error before the bad
    // byte, or the bad byte) as it would in a file.
    import(std::io::Cursor::new(body), format, file, opts, sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What importing `body` gives, as text: the result, rejections and observations.
    fn outcome(body: &[u8], in_memory: bool) -> String {
        let opts = ImportOptions {
            mode: Mode::Lenient,
            pseudonym_key: [3; 32],
            catalog: Catalog::active(),
            enrolled: None,
        };
        let mut got: Vec<Observation> = Vec::new();
        let mut sink = |o| got.push(o);
        let result = if in_memory {
            import_bytes(body, Format::FhirJson, "body", &opts, &mut sink)
        } else {
            import(
                std::io::Cursor::new(body),
                Format::FhirJson,
                "body",
                &opts,
                &mut sink,
            )
        };
        format!("{result:?} {got:?}")
    }

    #[test]
    fn a_body_in_memory_imports_as_a_streamed_file_with_or_without_a_byte_order_mark() {
        let bundle = crate::synth::patient_bundle(9, 2);
        // Pretty-printed too, so that errors fall on lines other than the first.
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&bundle).unwrap(),
        )
        .unwrap();
        let prefixes = [&b""[..], b"\xEF\xBB\xBF", b"\xEF\xBB"];
        for (prefix, text) in prefixes.iter().flat_map(|p| [(p, &bundle), (p, &pretty)]) {
            let doc = [prefix, text.as_bytes()].concat();
            let clean = outcome(&doc, true);
            assert_eq!(clean, outcome(&doc, false));
            // About 150 places spread over the document, each a different cut and insertion.
            for cut in (0..doc.len()).step_by(doc.len() / 150 + 7) {
                assert_eq!(
                    outcome(&doc[..cut], true),
                    outcome(&doc[..cut], false),
                    "cut {cut}"
                );
                for stray in [b'}', 0xFF] {
                    let mut bad = doc.clone();
                    bad.insert(cut, stray);
                    assert_eq!(
                        outcome(&bad, true),
                        outcome(&bad, false),
                        "{stray} at {cut}"
                    );
                }
            }
        }
        assert!(outcome(bundle.as_bytes(), true).starts_with("Ok(ImportReport"));
    }

    #[test]
    fn detects_formats() {
        assert_eq!(Format::detect("a/b.json", b""), Some(Format::FhirJson));
        assert_eq!(Format::detect("x.NDJSON", b"{"), Some(Format::Ndjson));
        assert_eq!(Format::detect("x.jsonl", b""), Some(Format::Ndjson));
        assert_eq!(Format::detect("x.csv", b""), Some(Format::Csv));
        assert_eq!(
            Format::detect("-", b"\xEF\xBB\xBF  {\"resourceType\""),
            Some(Format::FhirJson)
        );
        assert_eq!(
            Format::detect("stdin", b"patient,indicator,value,unit,effective,source\n"),
            Some(Format::Csv)
        );
        assert_eq!(Format::detect("stdin", b"hello"), None);
    }
}
