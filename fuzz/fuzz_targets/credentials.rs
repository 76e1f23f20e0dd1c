//! Fuzz target `credentials`: its body is `confab_protocol::fuzzing::credentials`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_protocol::fuzzing::credentials(data));
