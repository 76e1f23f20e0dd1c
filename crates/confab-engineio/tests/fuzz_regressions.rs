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
fn engineio_packet_regressions() {
    replay("engineio_packet", confab_engineio::fuzzing::engineio_packet);
}

#[test]
fn socketio_packet_regressions() {
    replay("socketio_packet", confab_engineio::fuzzing::socketio_packet);
}
