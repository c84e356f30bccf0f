//! `gateway::fuzzing::signed_note` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::signed_note(data));
