//! `Observation`: one value of one indicator for one patient at one time, from one source.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::canonical;
use crate::ids::{Pseudonym, RecordId};
use crate::status::Status;
use crate::time::Timestamp;
use crate::value::Value;

/// The content of an observation: every field except the id, which is derived from these.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ObservationData {
    /// Who: the patient's pseudonym.
    pub patient: Pseudonym,
    /// What: the indicator code (LOINC, e.g. `"4548-4"`; other systems as `"system|code"`).
    pub indicator: String,
    /// The value, fixed-point in the indicator's canonical unit when numeric.
    pub value: Value,
    /// When the value was true of the patient (FHIR `effective[x]`).
    pub effective: Timestamp,
    /// Where it came from: device or performer (FHIR display or reference), or `"unknown"`.
    pub source: String,
    /// When the source recorded it (FHIR `issued`, else `effective`). The node's own commit time
    /// lives in the ledger, so importing the same input twice gives the same observation.
    pub recorded: Timestamp,
    /// Lifecycle status.
    pub status: Status,
    /// The observation this one corrects, if any.
    pub supersedes: Option<RecordId>,
}

/// An observation together with its id, `SHA-256(canonical bytes)`.
///
/// Fields are read through `Deref` (`obs.indicator`) and cannot be changed in place, so the id
/// always matches the content; build a new observation instead.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Observation {
    id: RecordId,
    data: ObservationData,
}

impl Observation {
    /// Builds an observation and computes its id from the canonical bytes.
    pub fn new(data: ObservationData) -> Observation {
        let id = canonical::record_id(&canonical::encode(&data));
        Observation { id, data }
    }

    /// The record id: SHA-256 of [`Observation::canonical_bytes`].
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The content fields.
    pub fn data(&self) -> &ObservationData {
        &self.data
    }

    /// Gives up the id and returns the content (e.g. to build a correction from it).
    pub fn into_data(self) -> ObservationData {
        self.data
    }

    /// The deterministic, versioned encoding of every field except the id (see `canonical`).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::encode(&self.data)
    }

    /// Decodes canonical bytes (the storage record body) and recomputes the id.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Observation, canonical::DecodeError> {
        let data = canonical::decode(bytes)?;
        Ok(Observation {
            id: canonical::record_id(bytes),
            data,
        })
    }
}

impl Deref for Observation {
    type Target = ObservationData;
    fn deref(&self) -> &ObservationData {
        &self.data
    }
}

#[derive(Serialize)]
struct ObservationRef<'a> {
    id: RecordId,
    #[serde(flatten)]
    data: &'a ObservationData,
}

#[derive(Deserialize)]
struct ObservationOwned {
    id: Option<RecordId>,
    #[serde(flatten)]
    data: ObservationData,
}

impl Serialize for Observation {
    /// JSON form: `{"id": hex, "patient": hex, "indicator": ..., ...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ObservationRef {
            id: self.id,
            data: &self.data,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Observation {
    /// Recomputes the id; a given `id` that does not match the content is an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owned = ObservationOwned::deserialize(deserializer)?;
        let obs = Observation::new(owned.data);
        match owned.id {
            Some(id) if id != obs.id => Err(serde::de::Error::custom(
                "id does not match the observation's content",
            )),
            _ => Ok(obs),
        }
    }
}
