//! proptest strategies for observations of catalog indicators.

use hdg_schema::{Catalog, ObservationData, Pseudonym, RecordId, Status, Timestamp, Value};
use proptest::prelude::*;

pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.0..=Timestamp::MAX.0).prop_map(Timestamp)
}

fn value_for(code: &str) -> BoxedStrategy<Value> {
    let ind = Catalog::builtin().get(code).unwrap();
    prop_oneof![
        3 => (ind.min_fixed..=ind.max_fixed).prop_map(Value::Quantity),
        1 => ("\\PC{0,12}", "\\PC{0,12}", "\\PC{0,12}").prop_map(|(system, code, display)| Value::Coded { system, code, display }),
        1 => "\\PC{0,20}".prop_map(Value::Text),
        1 => Just(Value::Absent),
    ]
    .boxed()
}

pub fn observation_data() -> impl Strategy<Value = ObservationData> {
    let codes: Vec<String> = Catalog::builtin().iter().map(|i| i.code.clone()).collect();
    proptest::sample::select(codes).prop_flat_map(|indicator| {
        (
            any::<[u8; 32]>(),
            value_for(&indicator),
            timestamp(),
            "\\PC{1,16}",
            timestamp(),
            proptest::sample::select(Status::ALL.to_vec()),
            proptest::option::of(any::<[u8; 32]>()),
        )
            .prop_map(
                move |(patient, value, effective, source, recorded, status, supersedes)| {
                    ObservationData {
                        patient: Pseudonym(patient),
                        indicator: indicator.clone(),
                        value,
                        effective,
                        source,
                        recorded,
                        status,
                        supersedes: supersedes.map(RecordId),
                    }
                },
            )
    })
}
