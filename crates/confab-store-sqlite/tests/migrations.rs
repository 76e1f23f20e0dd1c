//! A database written by an earlier schema opens with everything in it.

use std::sync::Arc;

use confab_core::event::EventBody;
use confab_core::model::{ActorRef, Content};
use confab_core::store::{EventRange, EventSink, MessageKey, NewEvent, Store};
use confab_core::Event;
use confab_store_sqlite::SqliteStore;

struct Discard;
impl EventSink for Discard {
    fn committed(&self, _: Vec<Event>) {}
}

/// A database at schema version 1 (two message indexes, the log as a rowid table) is migrated
/// without losing its log, and new appends continue its sequence and keep idempotency by client id.
#[tokio::test]
async fn version_1_database_is_migrated_with_its_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = rusqlite::Connection::open(dir.path().join("confab.db")).unwrap();
        c.execute_batch(include_str!("../migrations/0001_init.sql")).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0);
             INSERT INTO actors VALUES ('g_ann', 'guest', 'ann', x'01', 0);
             INSERT INTO rooms (id, name, name_key, kind, created_by, created_at, top_seq) VALUES (1, 'Old', 'old', 'public', 'g_ann', 0, 2);
             INSERT INTO messages (id, room_id, author_id, client_id, content, created_seq, created_at)
                 VALUES (7, 1, 'g_ann', 'c1', '{\"text\":\"from before\"}', 2, 0);
             INSERT INTO events VALUES (1, 1, 'join', 'g_ann', 'ann', 0, NULL, '{\"kind\":\"join\"}');
             INSERT INTO events VALUES (1, 2, 'message', 'g_ann', 'ann', 0, 7, '{}');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path(), Arc::new(Discard)).unwrap();
    let room = store.room("old").await.unwrap().unwrap();
    let events = store.events(room.id, EventRange::After(0), 10).await.unwrap();
    assert_eq!(events.iter().map(|e| (e.seq, e.body.kind())).collect::<Vec<_>>(), vec![(1, "join"), (2, "message")]);
    match &events[1].body {
        EventBody::Message { message } => assert_eq!((message.id, message.content.text.as_str()), (7, "from before")),
        other => panic!("{other:?}"),
    }
    let ann = ActorRef { id: String::from("g_ann").into(), name: "ann".into() };
    let resent = NewEvent::Message { content: Content { text: "from before".into() }, client_id: Some("c1".into()) };
    let again = store.append(&room, ann.clone(), resent).await.unwrap();
    assert!(again.duplicate && again.seq == 2 && again.message_id == Some(7), "{again:?}");
    let new = NewEvent::Message { content: Content { text: "after".into() }, client_id: Some("c2".into()) };
    assert_eq!(store.append(&room, ann.clone(), new).await.unwrap().seq, 3);
    let found = store.message(room.id, &MessageKey::Client { client_id: "c1".into(), prefer: ann.id.clone() }).await.unwrap();
    assert_eq!(found.map(|m| m.id), Some(7));
}
