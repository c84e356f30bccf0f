//! The serde visitors that stream a FHIR JSON document: the top-level object is walked key by
//! key, and the Bundle `entry` array is handed to `process_entry` one entry at a time, so the
//! document is never held in memory. Whole-file problems found mid-stream are parked in
//! `BundleState::fatal` and the parse is aborted.

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::collector::Collector;
use crate::fhir_import::{BundleState, check_bundle_type, process_entry};
use crate::fhir_model::RawEntry;
use crate::import::ImportError;

/// What the top-level walk leaves for the end of the document.
pub(crate) struct TopSummary {
    pub resource_type: Option<String>,
    pub bundle_type: Option<String>,
    /// Every top-level field except `entry`, as raw JSON (a single Observation is rebuilt from it).
    pub rest: Vec<(String, Box<RawValue>)>,
}

/// Seed that walks the top-level resource object.
pub(crate) struct TopLevel<'s, 'a> {
    c: &'s mut Collector<'a>,
    state: &'s mut BundleState,
}

impl<'s, 'a> TopLevel<'s, 'a> {
    pub(crate) fn new(c: &'s mut Collector<'a>, state: &'s mut BundleState) -> Self {
        TopLevel { c, state }
    }
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = TopSummary;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<TopSummary, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = TopSummary;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FHIR resource object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopSummary, A::Error> {
        let mut top = TopSummary {
            resource_type: None,
            bundle_type: None,
            rest: Vec::new(),
        };
        let mut saw_entry = false;
        let fatal = |state: &mut BundleState, err: ImportError| {
            state.fatal = Some(err);
            A::Error::custom("import aborted")
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resourceType" => {
                    let rt: String = map.next_value()?;
                    if rt != "Bundle" && rt != "Observation" {
                        return Err(fatal(
                            self.state,
                            ImportError::UnsupportedResource { resource_type: rt },
                        ));
                    }
                    if saw_entry && rt != "Bundle" {
                        return Err(fatal(
                            self.state,
                            ImportError::NotFhir {
                                reason: "an Observation has no entry field".into(),
                            },
                        ));
                    }
                    top.resource_type = Some(rt);
                }
                "entry" => {
                    if top.resource_type.as_deref().is_some_and(|t| t != "Bundle") {
                        return Err(fatal(
                            self.state,
                            ImportError::NotFhir {
                                reason: "an Observation has no entry field".into(),
                            },
                        ));
                    }
                    if top.bundle_type.is_some()
                        && let Err(e) = check_bundle_type(top.bundle_type.as_deref())
                    {
                        return Err(fatal(self.state, e));
                    }
                    saw_entry = true;
                    map.next_value_seed(Entries {
                        c: &mut *self.c,
                        state: &mut *self.state,
                    })?;
                }
                _ => {
                    let value: Box<RawValue> = map.next_value()?;
                    if key == "type" {
                        top.bundle_type = serde_json::from_str::<String>(value.get()).ok();
                    }
                    top.rest.push((key, value));
                }
            }
        }
        Ok(top)
    }
}

struct Entries<'s, 'a> {
    c: &'s mut Collector<'a>,
    state: &'s mut BundleState,
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of Bundle entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(entry) = seq.next_element::<RawEntry>()? {
            process_entry(self.c, self.state, index, entry);
            index += 1;
        }
        Ok(())
    }
}
