//! Fuzz target `webhook_payload`: its body is `confab_protocol::fuzzing::webhook_payload`, which the regression tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| confab_protocol::fuzzing::webhook_payload(data));
