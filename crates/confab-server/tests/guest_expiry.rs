//! Idle guest sessions expire (`--guest-idle-days`), against a real `confab` process on SQLite: a
//! guest whose session went unused for longer loses it (its token is `unauthenticated` on `/ws`,
//! Socket.IO and the HTTP API), a recent one keeps it and gets its `last_seen` noted, and the
//! expired guest's messages keep their author's id and name. Time is moved by editing `last_seen`
//! in the database while the server is stopped (nobody waits 30 days).

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use support::{http, Client, Server, SioWs};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Sets a guest's `last_seen` to `days_ago` days ago, in the stopped server's database.
fn seen_days_ago(dir: &Path, id: &str, days_ago: i64) {
    let db = rusqlite::Connection::open(dir.join("confab.db")).unwrap();
    let at = now_ms() - days_ago * DAY_MS;
    let n = db.execute("UPDATE actors SET last_seen = ?1, created_at = MIN(created_at, ?1) WHERE id = ?2", (at, id)).unwrap();
    assert_eq!(n, 1);
}

fn last_seen(dir: &Path, id: &str) -> Option<i64> {
    let db = rusqlite::Connection::open(dir.join("confab.db")).unwrap();
    db.query_row("SELECT last_seen FROM actors WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

/// A guest unseen for 40 days (limit 30) is signed out everywhere and its messages keep its name;
/// a guest seen 10 days ago keeps its session and its use is noted; a new guest may take the old
/// name without becoming the old guest.
#[tokio::test]
async fn a_guest_idle_past_the_limit_loses_its_session_and_keeps_its_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--guest-idle-days", "30", "--guest-sweep-interval-ms", "200"];
    let mut server = Server::start_in(tmp.path(), "127.0.0.1:0", &args);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": "old"})).await;
    ann.join("old").await;
    ann.say("old", "written long ago").await;
    let bob = Client::guest(&server, "bob").await;
    let (ann_id, ann_token, bob_id, bob_token) = (ann.id(), ann.token(), bob.id(), bob.token());
    drop((ann, bob));
    server.signal_term();
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
    drop(server);

    seen_days_ago(tmp.path(), &ann_id, 40);
    seen_days_ago(tmp.path(), &bob_id, 10);
    let before = last_seen(tmp.path(), &bob_id).unwrap();
    let server = Server::start_in(tmp.path(), "127.0.0.1:0", &args);
    tokio::time::sleep(Duration::from_millis(600)).await; // the first sweep runs at start-up

    // ann's token no longer works, on every way in.
    let mut c = Client::connect_raw(&server).await;
    c.refused("hello", json!({"token": ann_token}), "unauthenticated").await;
    let mut sio = SioWs::open(&server).await;
    sio.send(&format!("40{}", json!({"token": ann_token}))).await;
    let refused = sio.recv().await;
    assert!(refused.starts_with("44") && refused.contains("unauthenticated"), "{refused}");
    let me = http(&server, "GET", "/api/me", &[("Cookie", &format!("confab_session={ann_token}"))], b"").await;
    assert_eq!(me.status, 401, "{}", me.text());

    // bob's still does, and using it is noted.
    let mut bob = Client::with_token(&server, &bob_token).await;
    assert_eq!(bob.id(), bob_id);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while last_seen(tmp.path(), &bob_id) == Some(before) {
        assert!(tokio::time::Instant::now() < deadline, "bob's last_seen was not touched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last_seen(tmp.path(), &bob_id).unwrap() > now_ms() - 60_000);

    // ann's message keeps its author; a new "ann" is someone else.
    let page = bob.ok("history", json!({"room": "old", "after": 0})).await;
    let message = page["events"].as_array().unwrap().iter().find(|e| e["kind"] == "message").unwrap().clone();
    assert_eq!(message["actor"]["id"], ann_id.as_str());
    assert_eq!(message["actor"]["name"], "ann");
    assert_eq!(message["message"]["content"]["text"], "written long ago");
    let new_ann = Client::guest(&server, "ann").await;
    assert_ne!(new_ann.id(), ann_id, "a new guest, not the expired one");
}

/// With `--guest-idle-days 0` sessions never expire, however old.
#[tokio::test]
async fn zero_idle_days_never_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--guest-idle-days", "0", "--guest-sweep-interval-ms", "200"];
    let mut server = Server::start_in(tmp.path(), "127.0.0.1:0", &args);
    let ann = Client::guest(&server, "ann").await;
    let (id, token) = (ann.id(), ann.token());
    drop(ann);
    server.signal_term();
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
    drop(server);
    seen_days_ago(tmp.path(), &id, 4000);
    let server = Server::start_in(tmp.path(), "127.0.0.1:0", &args);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(Client::with_token(&server, &token).await.id(), id);
}
