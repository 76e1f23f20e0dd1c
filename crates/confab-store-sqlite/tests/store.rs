//! The store contract, checked against SQLite. These tests speak only `confab_core::store::Store`,
//! so the PostgreSQL store can run the same ones.

use std::sync::Arc;

use confab_core::event::{EventBody, LeaveReason};
use confab_core::model::{ActorRef, Content, RoomKind};
use confab_core::store::{EventRange, EventSink, MessageKey, NewEvent, Store};
use confab_core::{ErrorCode, Event};
use confab_store_sqlite::SqliteStore;
use parking_lot::Mutex;

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn committed(&self, events: Vec<Event>) {
        self.0.lock().extend(events);
    }
}

fn open(dir: &std::path::Path) -> (SqliteStore, Arc<Recorder>) {
    let sink = Arc::new(Recorder::default());
    (SqliteStore::open(dir, sink.clone()).expect("open"), sink)
}

fn text(t: &str) -> NewEvent {
    NewEvent::Message { content: Content { text: t.into() }, client_id: None }
}

/// Many concurrent appends get gap-free sequence numbers, and the sink sees them in that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_gap_free_and_published_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sink) = open(dir.path());
    let store = Arc::new(store);
    let ann = store.create_guest("ann", b"h1").await.unwrap();
    let room = store.create_room("busy", RoomKind::Public, &ActorRef::from(&ann)).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (store, room, ann) = (store.clone(), room.clone(), ann.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..100 {
                let a = store.append(&room, ActorRef::from(&ann), text(&format!("{t}-{i}"))).await.unwrap();
                seqs.push(a.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one caller's messages keep its order");
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=800).collect::<Vec<_>>());
    let published: Vec<i64> = sink.0.lock().iter().map(|e| e.seq).collect();
    assert_eq!(published, (1..=800).collect::<Vec<_>>(), "published in commit order");
    assert_eq!(store.top_seq(room.id).await.unwrap(), 800);
}

/// A failing request in a batch fails alone; its neighbours commit.
#[tokio::test]
async fn one_bad_request_does_not_fail_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let ann = store.create_guest("ann", b"h").await.unwrap();
    let room = store.create_room("r", RoomKind::Public, &ActorRef::from(&ann)).await.unwrap();
    let me = ActorRef::from(&ann);
    // Queued together: the edit of a missing message fails, the messages around it succeed.
    let a = store.append(&room, me.clone(), text("one"));
    let b = store.append(&room, me.clone(), NewEvent::Edit { message_id: 999, content: Content::default() });
    let c = store.append(&room, me.clone(), text("two"));
    let (a, b, c) = (a.await, b.await, c.await);
    assert_eq!(b.unwrap_err().code, ErrorCode::MessageNotFound);
    assert_eq!((a.unwrap().seq, c.unwrap().seq), (1, 2), "no sequence number was used by the failure");
}

/// Messages: idempotent by client id per author, edits and deletes reflected in history, lookups by
/// Confab's id or the client's.
#[tokio::test]
async fn messages_edits_deletes_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let ann = store.create_guest("ann", b"a").await.unwrap();
    let bob = store.create_guest("bob", b"b").await.unwrap();
    let room = store.create_room("Hall", RoomKind::Public, &ActorRef::from(&ann)).await.unwrap();
    assert_eq!(store.create_room("hall", RoomKind::Public, &ActorRef::from(&bob)).await.unwrap_err().code, ErrorCode::RoomExists);
    assert_eq!(store.room("HALL").await.unwrap().unwrap().id, room.id);

    let m = |cid: &str, t: &str| NewEvent::Message { content: Content { text: t.into() }, client_id: Some(cid.into()) };
    let first = store.append(&room, ActorRef::from(&ann), m("x", "hello")).await.unwrap();
    let again = store.append(&room, ActorRef::from(&ann), m("x", "hello")).await.unwrap();
    assert!(again.duplicate && again.seq == first.seq && again.message_id == first.message_id);
    let bobs = store.append(&room, ActorRef::from(&bob), m("x", "same client id, other author")).await.unwrap();
    assert!(!bobs.duplicate);

    let id = first.message_id.unwrap();
    let by_client = store.message(room.id, &MessageKey::Client { client_id: "x".into(), prefer: bob.id.clone() }).await.unwrap().unwrap();
    assert_eq!(by_client.author, bob.id, "the preferred author's message wins");
    let by_number = store.message(room.id, &MessageKey::Client { client_id: id.to_string(), prefer: bob.id.clone() }).await.unwrap().unwrap();
    assert_eq!(by_number.id, id, "a numeric client id falls back to Confab's id");

    store.append(&room, ActorRef::from(&ann), NewEvent::Edit { message_id: id, content: Content { text: "hello!".into() } }).await.unwrap();
    store.append(&room, ActorRef::from(&bob), NewEvent::Delete { message_id: bobs.message_id.unwrap() }).await.unwrap();
    let err = store.append(&room, ActorRef::from(&bob), NewEvent::Delete { message_id: bobs.message_id.unwrap() }).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::MessageNotFound, "deleting twice");
    store.append(&room, ActorRef::from(&bob), NewEvent::Join).await.unwrap();
    store.append(&room, ActorRef::from(&bob), NewEvent::Leave { reason: LeaveReason::Left }).await.unwrap();

    let events = store.events(room.id, EventRange::After(0), 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(kinds, ["message", "message", "edit", "delete", "join", "leave"]);
    match &events[0].body {
        EventBody::Message { message } => assert_eq!((message.content.text.as_str(), message.edited_at.is_some()), ("hello!", true)),
        other => panic!("{other:?}"),
    }
    match &events[1].body {
        EventBody::Message { message } => assert!(message.deleted && message.content.text.is_empty()),
        other => panic!("{other:?}"),
    }
    let older = store.events(room.id, EventRange::Before(5), 2).await.unwrap();
    assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    let recent = store.recent_messages(room.id, 10).await.unwrap();
    assert_eq!(recent.len(), 1, "deleted messages are left out");
    assert_eq!(store.role(room.id, &ann.id).await.unwrap(), Some(confab_core::model::Role::Owner));
    assert_eq!(store.role(room.id, &bob.id).await.unwrap(), Some(confab_core::model::Role::Member));
}

/// Everything committed is there after reopening.
#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (room_id, actor_id) = {
        let (store, _) = open(dir.path());
        let ann = store.create_guest("ann", b"tok").await.unwrap();
        let room = store.create_room("keep", RoomKind::Public, &ActorRef::from(&ann)).await.unwrap();
        for i in 0..10 {
            store.append(&room, ActorRef::from(&ann), text(&i.to_string())).await.unwrap();
        }
        (room.id, ann.id)
    };
    let (store, _) = open(dir.path());
    assert_eq!(store.actor_by_token(b"tok").await.unwrap().unwrap().id, actor_id);
    assert_eq!(store.top_seq(room_id).await.unwrap(), 10);
    assert_eq!(store.events(room_id, EventRange::After(0), 100).await.unwrap().len(), 10);
}

/// A failure in a batch that spans rooms: every room's sequence stays gap-free, whichever room the
/// failure was in and whether that room was touched before it in the batch.
#[tokio::test]
async fn a_failure_in_a_batch_of_several_rooms_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sink) = open(dir.path());
    let ann = store.create_guest("ann", b"h").await.unwrap();
    let me = ActorRef::from(&ann);
    let r1 = store.create_room("one", RoomKind::Public, &me).await.unwrap();
    let r2 = store.create_room("two", RoomKind::Public, &me).await.unwrap();
    let bad = || NewEvent::Delete { message_id: 12345 };
    // Queued together, so they share one transaction: r1 touched before its failure, r2's failure
    // is the first thing r2 sees.
    let pending = vec![
        store.append(&r1, me.clone(), text("1a")),
        store.append(&r2, me.clone(), bad()),
        store.append(&r1, me.clone(), bad()),
        store.append(&r2, me.clone(), text("2a")),
        store.append(&r1, me.clone(), text("1b")),
        store.append(&r2, me.clone(), text("2b")),
    ];
    let mut results = Vec::new();
    for p in pending {
        results.push(p.await.map(|a| a.seq).map_err(|e| e.code));
    }
    let missing = Err(ErrorCode::MessageNotFound);
    assert_eq!(results, vec![Ok(1), missing.clone(), missing, Ok(1), Ok(2), Ok(2)]);
    assert_eq!((store.top_seq(r1.id).await.unwrap(), store.top_seq(r2.id).await.unwrap()), (2, 2));
    let published: Vec<(String, i64)> = sink.0.lock().iter().map(|e| (e.room.clone(), e.seq)).collect();
    assert_eq!(published, [("one", 1), ("two", 1), ("one", 2), ("two", 2)].map(|(r, s)| (r.to_string(), s)));
    // The next batch continues from the stored top.
    assert_eq!(store.append(&r1, me.clone(), text("1c")).await.unwrap().seq, 3);
}
