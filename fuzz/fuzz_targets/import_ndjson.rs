//! `gateway::fuzzing::import_ndjson` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::import_ndjson(data));
