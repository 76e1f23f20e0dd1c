//! Fuzz target `names`: its body is `confab_protocol::fuzzing::names`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_protocol::fuzzing::names(data));
