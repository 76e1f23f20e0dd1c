//! Fuzz target `account_body`: its body is `confab_protocol::fuzzing::account_body`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_protocol::fuzzing::account_body(data));
