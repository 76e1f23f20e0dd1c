//! Fuzz target `http_query`: its body is `confab_protocol::fuzzing::http_query`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_protocol::fuzzing::http_query(data));
