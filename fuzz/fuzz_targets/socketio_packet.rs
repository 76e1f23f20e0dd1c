//! Fuzz target `socketio_packet`: its body is `confab_engineio::fuzzing::socketio_packet`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_engineio::fuzzing::socketio_packet(data));
