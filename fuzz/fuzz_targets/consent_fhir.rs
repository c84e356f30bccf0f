//! `gateway::fuzzing::consent_fhir` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::consent_fhir(data));
