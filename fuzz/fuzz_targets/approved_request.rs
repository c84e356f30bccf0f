//! `gateway::fuzzing::approved_request` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::approved_request(data));
