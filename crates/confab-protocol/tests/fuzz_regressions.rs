//! Replays every input the fuzzer found for this crate's targets (`fuzz/regressions/<target>/`), so
//! each stays fixed without cargo-fuzz; and the hand-written seeds (`fuzz/seeds/<target>/`), which
//! must meet the same properties.

use std::path::Path;

use confab_protocol::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    replay_dir("regressions", target, run);
}

fn replay_dir(kind: &str, target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(kind).join(target);
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

#[test]
fn account_body_regressions() {
    replay("account_body", fuzzing::account_body);
}

#[test]
fn credentials_regressions() {
    replay("credentials", fuzzing::credentials);
}

#[test]
fn names_regressions() {
    replay("names", fuzzing::names);
}

#[test]
fn webhook_payload_regressions() {
    replay("webhook_payload", fuzzing::webhook_payload);
}

/// Every target's seeds meet its properties (a seed that does not would hide a bug in the body).
#[test]
fn seeds_meet_the_properties() {
    type Body = fn(&[u8]);
    let targets: [(&str, Body); 6] = [
        ("native_request", fuzzing::native_request),
        ("http_query", fuzzing::http_query),
        ("account_body", fuzzing::account_body),
        ("credentials", fuzzing::credentials),
        ("names", fuzzing::names),
        ("webhook_payload", fuzzing::webhook_payload),
    ];
    for (target, run) in targets {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target);
        assert!(std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()), "{target} has seeds");
        replay_dir("seeds", target, run);
    }
}
