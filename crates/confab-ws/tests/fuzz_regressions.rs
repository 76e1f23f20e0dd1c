//! Replays every input the fuzzer found for this crate's targets (`fuzz/regressions/<target>/`), so
//! each stays fixed without cargo-fuzz.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).expect("read a regression input");
        eprintln!("{target}: {}", entry.path().display());
        run(&data);
    }
}

#[test]
fn frame_reader_regressions() {
    replay("ws_frame_reader", confab_ws::fuzzing::frame_reader);
}

#[test]
fn handshake_regressions() {
    replay("ws_handshake", confab_ws::fuzzing::handshake);
}
