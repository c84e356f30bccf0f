//! `gateway::fuzzing::rpc_json` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hdg_gateway::fuzzing::rpc_json(data));
