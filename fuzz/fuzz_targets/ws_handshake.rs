//! Fuzz target `ws_handshake`: its body is `confab_ws::fuzzing::handshake`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_ws::fuzzing::handshake(data));
