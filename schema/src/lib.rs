//! hdg-schema: the indicator-centric schema (ICS) of the Healthcare Data Gateway.
//!
//! Every record is one [`Observation`] of one indicator (HbA1c, systolic blood pressure, ...) for
//! one pseudonymous patient at one time, from one source. This crate is pure: it parses bytes it
//! is given and does no file or network I/O.
//!
//! - Types: [`Observation`], [`RecordId`], [`Pseudonym`], [`Timestamp`], [`Status`], [`Value`].
//! - Canonical bytes (`canonical` module doc has the layout) and `id = SHA-256(canonical bytes)`.
//! - The indicator [`Catalog`] (`catalog.toml`, compiled in): canonical UCUM unit, accepted units
//!   with exact rational conversions, plausible range and decimal precision of each indicator;
//!   [`Indicator::encode`] turns `(decimal text, unit)` into a fixed-point integer without floats.
//! - Pseudonyms: keyed BLAKE3 of the patient reference under a node secret.
//! - Import ([`import`]): FHIR R4 JSON (Observation, Bundle), bulk-export NDJSON and CSV, streamed,
//!   with an [`ImportReport`] naming every rejected entry, field and reason. Non-numeric
//!   observations (coded, text, and no value at all, i.e. [`Value::Absent`]) are kept and counted
//!   as `non_numeric`, never dropped silently. Patient references resolve as described in the
//!   `fhir_subject` rules: `Patient/{id}` anywhere, `urn:uuid:` only to a Patient entry of the
//!   same Bundle; the stored patient is the pseudonym of `Patient/{id}`.
//! - Export: [`to_fhir`], read back by import to the same observation.
//! - [`synth`]: a deterministic, correlated synthetic cohort as FHIR Bundles.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bundle_visitor;
mod canonical;
mod catalog;
mod collector;
mod csv_import;
mod decimal;
mod enrolments;
mod fhir_convert;
mod fhir_export;
mod fhir_import;
mod fhir_model;
mod fhir_subject;
mod field_error;
mod ids;
mod import;
mod indicator;
mod ndjson_import;
mod observation;
mod pseudonym;
mod report;
mod status;
pub mod synth;
mod time;
mod utf8_reader;
mod value;

pub use canonical::{CANONICAL_VERSION, DecodeError};
pub use catalog::{BUILTIN_CATALOG_TOML, Catalog, CatalogError};
pub use csv_import::HEADER as CSV_HEADER;
pub use decimal::{DecimalError, Ratio};
pub use enrolments::{Enrolments, LinkConflict};
pub use fhir_convert::{LOINC_SYSTEM, SUPERSEDES_EXTENSION, UCUM_SYSTEM, UNKNOWN_SOURCE};
pub use fhir_export::to_fhir;
pub use fhir_subject::PSEUDONYM_SYSTEM;
pub use ids::{HexIdError, Pseudonym, RecordHandle, RecordId};
pub use import::{Format, ImportError, ImportOptions, Mode, import, import_bytes};
pub use indicator::{Indicator, UnitConversion, ValueError};
pub use observation::{Observation, ObservationData};
pub use pseudonym::PseudonymKey;
pub use report::{ImportReport, Rejection};
pub use status::{Status, StatusError};
pub use time::{TimeError, Timestamp};
pub use value::Value;
