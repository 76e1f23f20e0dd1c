//! Fuzz target `ws_frame_reader`: its body is `confab_ws::fuzzing::frame_reader`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_ws::fuzzing::frame_reader(data));
