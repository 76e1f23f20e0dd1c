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
fn native_request_regressions() {
    replay("native_request", confab_protocol::fuzzing::native_request);
}

#[test]
fn http_query_regressions() {
    replay("http_query", confab_protocol::fuzzing::http_query);
}
