//! `gateway::fuzzing::ingest_headers` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::ingest_headers(data));
