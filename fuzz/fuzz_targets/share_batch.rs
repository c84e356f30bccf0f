//! `gateway::fuzzing::share_batch` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::share_batch(data));
