//! Fuzz target `native_request`: its body is `confab_protocol::fuzzing::native_request`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_protocol::fuzzing::native_request(data));
