//! `confab admin backup` against a running server: the copy holds every message acknowledged
//! before the backup started, passes `PRAGMA integrity_check`, and a second server runs on it; the
//! `admin` subcommand sits beside the server's settings.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};
use support::*;

/// What the writer got acknowledged: (seq, message id, text), in order.
type Acked = Arc<Mutex<Vec<(u64, u64, String)>>>;

/// A client keeps sending (one message per acknowledgement) while the backup runs. The backup holds
/// every message acknowledged before it started with its text, its room's log has no gap, the file
/// is sound, and a server started on a copy of it serves that history and takes new messages.
#[tokio::test]
async fn backup_of_a_busy_server_holds_everything_acknowledged_before_it() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_in(data.path(), "127.0.0.1:0", &["--requests-per-second", "0"]);
    let r = room("backup");
    let mut writer = Client::guest(&server, "writer").await;
    let token = writer.token();
    writer.ok("join", json!({"room": r, "create": true})).await;
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sending = {
        let (acked, stop, r) = (Arc::clone(&acked), Arc::clone(&stop), r.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = format!("message {i}");
                let ack = writer.say(&r, &text).await;
                let (seq, id) = (ack["seq"].as_u64().unwrap(), ack["message_id"].as_u64().unwrap());
                acked.lock().push((seq, id, text));
                i += 1;
                if i % 64 == 0 {
                    // Its own events pile up in the client's pending list; drop them.
                    while writer.try_pending().is_some() {}
                }
            }
            writer
        })
    };
    while acked.lock().len() < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<_> = acked.lock().clone();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("confab-backup.db");
    let run = {
        let (data_dir, file) = (server.data_dir.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
                .args(["admin", "backup", "--data-dir"])
                .arg(&data_dir)
                .arg("--to")
                .arg(&file)
                .output()
                .expect("run confab admin backup")
        })
        .await
        .unwrap()
    };
    let during = acked.lock().len();
    stop.store(true, Ordering::Relaxed);
    let writer = sending.await.unwrap();
    assert!(run.status.success(), "backup failed: {}", String::from_utf8_lossy(&run.stderr));
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(said.contains("integrity ok"), "{said}");
    assert!(during > before.len(), "the server kept taking messages while the backup ran");

    let db = rusqlite::Connection::open(&file).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(db);

    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("confab.db")).unwrap();
    let second = Server::start_in(restored.path(), "127.0.0.1:0", &[]);
    let mut reader = Client::with_token(&second, &token).await;
    let joined = reader.join(&r).await;
    let top = joined["top_seq"].as_u64().unwrap();
    let mut events: Vec<Value> = Vec::new();
    let mut after = 0;
    loop {
        let page = reader.ok("history", json!({"room": r, "after": after, "limit": 200})).await;
        let got = page["events"].as_array().unwrap().clone();
        after = got.last().map_or(after, |e| e["seq"].as_u64().unwrap());
        events.extend(got);
        if page["more"] != true {
            break;
        }
    }
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.iter().copied().eq(1..=seqs.len() as u64), "the log in the backup has no gap: {seqs:?}");
    assert!(top >= before.last().unwrap().0);
    for (seq, id, text) in &before {
        let e = events.iter().find(|e| e["seq"].as_u64() == Some(*seq)).unwrap_or_else(|| panic!("seq {seq} missing"));
        assert_eq!(
            (e["message"]["id"].as_u64(), e["message"]["content"]["text"].as_str()),
            (Some(*id), Some(text.as_str()))
        );
    }
    eprintln!("acknowledged before the backup: {}, by its end: {during}, in the backup: {top} events", before.len());
    let next = reader.say(&r, "after the restore").await;
    assert!(next["seq"].as_u64().unwrap() > top);
    writer.close().await;
}

/// `confab --help` still lists the server's settings and names the `admin` subcommand; `confab admin
/// --help` lists `backup`; server flags before `admin` are refused rather than silently ignored; a
/// backup of a directory with no database fails with a clear message and no file.
#[test]
fn admin_is_a_subcommand_beside_the_server_settings() {
    let confab = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_confab")).args(args).output().unwrap();
    let help = String::from_utf8_lossy(&confab(&["--help"]).stdout).into_owned();
    assert!(help.contains("admin") && help.contains("--max-connections") && help.contains("--metrics"), "{help}");
    let admin = confab(&["admin", "--help"]);
    assert!(admin.status.success());
    assert!(String::from_utf8_lossy(&admin.stdout).contains("backup"));
    assert!(!confab(&["--bind", "127.0.0.1:0", "admin", "backup", "--to", "x.db"]).status.success());

    let empty = tempfile::tempdir().unwrap();
    let to = empty.path().join("copy.db");
    let failed = confab(&["admin", "backup", "--data-dir", empty.path().to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("no database at"));
    assert!(!to.exists());
}
