//! Upgrades: a database written by the previous release opens with today's store, is migrated,
//! and reads back exactly as that release read it.
//!
//! The fixture `tests/fixtures/release-18aab84.db` was written by the store at commit 18aab84 (the
//! previous release; its schema is migrations 0001 and 0002), and `release-18aab84.json` holds what
//! that store read back from it: every room with its log, every guest with its token hash, every
//! membership's role. [`generate_release_fixture`] made both; it is kept so that the next release's
//! fixture is made the same way:
//!
//! 1. export the release's tree (`git archive <commit> | tar -x -C /tmp/release`), copy this file
//!    into its `crates/confab-store-sqlite/tests/`, and there run
//!    `GIT_DIR=<this repo's .git> CONFAB_FIXTURE_RELEASE=<commit> cargo test -p confab-store-sqlite
//!    --test upgrade -- --ignored generate_release_fixture` (the release's own store code writes the
//!    data; the generator refuses to run unless the crate's migrations are byte for byte those of
//!    that commit, read with `git show`). If the release's store API differs, adjust the generator
//!    there, not the checks here;
//! 2. copy the two files it writes into `tests/fixtures/` here, commit them, and add a test like
//!    [`release_18aab84_database_opens_migrated_and_intact`] for them.
//!
//! The 18aab84 fixture was made exactly so, from an export of 18aab84.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use confab_core::event::LeaveReason;
use confab_core::model::{ActorRef, Content, Role, RoomKind};
use confab_core::store::{EventRange, EventSink, MessageKey, NewEvent, Store};
use confab_core::Event;
use confab_store_sqlite::SqliteStore;
use serde_json::{json, Value};

struct Discard;
impl EventSink for Discard {
    fn committed(&self, _: Vec<Event>) {}
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The guests of the fixture: a name and the token hash its session was stored with.
const GUESTS: &[(&str, &[u8])] =
    &[("ann", b"fixture token hash: ann"), ("bob", b"fixture token hash: bob"), ("cy", b"fixture token hash: cy")];

fn text(t: &str) -> Content {
    Content { text: t.into() }
}

/// Everything the store can read back about the rooms and guests, as JSON: what the release wrote
/// must read back the same after the upgrade.
async fn read_back(store: &SqliteStore, guests: &[(String, Vec<u8>)]) -> Value {
    let mut rooms = Vec::new();
    for room in store.rooms().await.unwrap() {
        let events = store.events(room.id, EventRange::After(0), 10_000).await.unwrap();
        let mut roles = Vec::new();
        for (id, _) in guests {
            let role = store.role(room.id, &id.clone().into()).await.unwrap();
            roles.push(json!([id, role.map(Role::as_str)]));
        }
        rooms.push(json!({"id": room.id, "name": room.name, "kind": room.kind, "created_at": room.created_at,
                          "top_seq": store.top_seq(room.id).await.unwrap(), "events": events, "roles": roles}));
    }
    let mut actors = Vec::new();
    for (id, hash) in guests {
        let actor = store.actor_by_token(hash).await.unwrap();
        actors.push(json!({"id": id, "token_hash": String::from_utf8_lossy(hash), "actor": actor}));
    }
    json!({"rooms": rooms, "guests": actors})
}

/// Opens a copy of a fixture with today's store (migrating it) in a fresh directory.
fn open_copy(fixture: &str) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join(fixture), dir.path().join("confab.db")).unwrap();
    let store = SqliteStore::open(dir.path(), Arc::new(Discard)).expect("today's store opens the release's database");
    (dir, store)
}

/// The release's database: every room, its whole log (messages with their current text, edits,
/// deletes, joins, leaves), memberships and guests' tokens read back as the release read them;
/// `PRAGMA integrity_check` passes after the migration; new messages continue each room's sequence,
/// a resent client id is still a duplicate, and new guests and rooms can be created.
#[tokio::test]
async fn release_18aab84_database_opens_migrated_and_intact() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("release-18aab84.json")).unwrap()).unwrap();
    let (dir, store) = open_copy("release-18aab84.db");
    let guests: Vec<(String, Vec<u8>)> = expected["guests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["id"].as_str().unwrap().to_string(), g["token_hash"].as_str().unwrap().as_bytes().to_vec()))
        .collect();
    assert_eq!(guests.len(), GUESTS.len());
    let now = read_back(&store, &guests).await;
    assert_eq!(now, expected, "the upgraded database reads back differently from the release");

    // The fixture holds what it claims to: edits, deletes and leaves, not only messages.
    let kinds: Vec<&str> = expected["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()))
        .collect();
    for kind in ["message", "edit", "delete", "join", "leave"] {
        assert!(kinds.contains(&kind), "the fixture has no {kind} event");
    }

    let lobby = store.room("lobby").await.unwrap().expect("the release's room");
    let ann = ActorRef { id: guests[0].0.clone().into(), name: "ann".into() };
    let resent = store
        .append(&lobby, ann.clone(), NewEvent::Message { content: text("hello all"), client_id: Some("ann-1".into()) })
        .await
        .unwrap();
    assert!(resent.duplicate, "a client id stored by the release still deduplicates");
    let next = store
        .append(&lobby, ann.clone(), NewEvent::Message { content: text("after the upgrade"), client_id: None })
        .await
        .unwrap();
    assert_eq!(next.seq, lobby.top_seq + 1);
    let found = store
        .message(lobby.id, &MessageKey::Client { client_id: "ann-1".into(), prefer: ann.id.clone() })
        .await
        .unwrap();
    assert_eq!(found.map(|m| m.id), resent.message_id);
    let dan = store.create_guest("dan", b"new token").await.unwrap();
    store.create_room("after upgrade", RoomKind::Public, &ActorRef::from(&dan)).await.unwrap();
    drop(store);

    let db = rusqlite::Connection::open(dir.path().join("confab.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let versions: Vec<i64> = db
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // Every migration file applied once (numbers may skip: they are reserved per feature branch).
    let mut files: Vec<i64> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter_map(|f| f.ok()?.file_name().to_str()?.split('_').next()?.parse().ok())
        .collect();
    files.sort();
    assert_eq!(versions, files, "every migration applied once: {versions:?}");
}

/// Writes the fixture of the release checked out now (see the module doc). Ignored: it is run by
/// hand, once per release.
#[tokio::test]
#[ignore = "generates a fixture; run by hand at a release"]
async fn generate_release_fixture() {
    let release = std::env::var("CONFAB_FIXTURE_RELEASE").expect("set CONFAB_FIXTURE_RELEASE to the release's commit");
    for migration in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")).unwrap() {
        let path = migration.unwrap().path();
        let rel = format!("crates/confab-store-sqlite/migrations/{}", path.file_name().unwrap().to_string_lossy());
        let at_release =
            std::process::Command::new("git").args(["show", &format!("{release}:{rel}")]).output().unwrap();
        assert!(
            at_release.status.success(),
            "{rel} is not in {release}: this checkout has migrations the release lacks"
        );
        assert_eq!(at_release.stdout, std::fs::read(&path).unwrap(), "{rel} differs from {release}'s");
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Arc::new(Discard)).unwrap();
    let mut guests = Vec::new();
    let mut refs = Vec::new();
    for (name, hash) in GUESTS {
        let actor = store.create_guest(name, hash).await.unwrap();
        guests.push((actor.id.as_str().to_string(), hash.to_vec()));
        refs.push(ActorRef::from(&actor));
    }
    let (ann, bob, cy) = (refs[0].clone(), refs[1].clone(), refs[2].clone());
    let lobby = store.create_room("Lobby", RoomKind::Public, &ann).await.unwrap();
    let ops = store.create_room("Ops Room", RoomKind::Public, &bob).await.unwrap();
    let say = |room, who: &ActorRef, t: &str, client: Option<&str>| {
        store.append(room, who.clone(), NewEvent::Message { content: text(t), client_id: client.map(Into::into) })
    };
    for who in [&ann, &bob, &cy] {
        store.append(&lobby, who.clone(), NewEvent::Join).await.unwrap();
    }
    let hello = say(&lobby, &ann, "hello all", Some("ann-1")).await.unwrap();
    say(&lobby, &bob, "hi ann", None).await.unwrap();
    let typo = say(&lobby, &cy, "helo", Some("cy-1")).await.unwrap();
    store
        .append(
            &lobby,
            cy.clone(),
            NewEvent::Edit { message_id: typo.message_id.unwrap(), content: text("hello (edited)") },
        )
        .await
        .unwrap();
    let oops = say(&lobby, &bob, "wrong room", None).await.unwrap();
    store.append(&lobby, bob.clone(), NewEvent::Delete { message_id: oops.message_id.unwrap() }).await.unwrap();
    store
        .append(
            &lobby,
            ann.clone(),
            NewEvent::Edit { message_id: hello.message_id.unwrap(), content: text("hello all!") },
        )
        .await
        .unwrap();
    store.append(&lobby, cy.clone(), NewEvent::Leave { reason: LeaveReason::Left }).await.unwrap();
    store.append(&lobby, bob.clone(), NewEvent::Leave { reason: LeaveReason::Disconnected }).await.unwrap();
    store.append(&ops, bob.clone(), NewEvent::Join).await.unwrap();
    say(&ops, &bob, "deploy at 10 — ünïcode and \"quotes\" <b>kept</b>", Some("bob-1")).await.unwrap();
    let expected = read_back(&store, &guests).await;
    drop(store);

    std::fs::create_dir_all(fixtures()).unwrap();
    let db = fixtures().join(format!("release-{release}.db"));
    let _ = std::fs::remove_file(&db);
    // One self-contained file, no WAL beside it (VACUUM INTO, as `confab admin backup` does; that
    // command is younger than 18aab84).
    let source = rusqlite::Connection::open(dir.path().join("confab.db")).unwrap();
    source.execute("VACUUM INTO ?1", [db.to_str().unwrap()]).unwrap();
    let json = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    std::fs::write(fixtures().join(format!("release-{release}.json")), json).unwrap();
}
