//! Messages: idempotency by client id, exact lookups, edits and deletes as history shows them,
//! history ranges, and the recent-messages view.

use confab_core::event::{EventBody, LeaveReason};
use confab_core::model::{ActorRef, Content, RoomKind};
use confab_core::store::{EventRange, MessageKey, NewEvent};
use confab_core::{ErrorCode, Event};

use crate::{fixture, guest_and_room, text, text_with_id, Backend};

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

fn message_text(e: &Event) -> (&str, bool, bool) {
    match &e.body {
        EventBody::Message { message } => (message.content.text.as_str(), message.edited_at.is_some(), message.deleted),
        other => panic!("expected a message event, got {other:?}"),
    }
}

/// A client id stores one message per author and room: the resend answers with the stored message;
/// another author, or the same author in another room, stores a new one.
pub async fn a_client_id_is_idempotent_per_author_and_room<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = guest_and_room(s, "ann", "idem").await;
    let bob = s.create_guest("bob", b"hash-bob").await.expect("bob");
    let other = s.create_room("elsewhere", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let (a, b) = (ActorRef::from(&ann), ActorRef::from(&bob));

    let first = s.append(&room, a.clone(), text_with_id("x", "hello")).await.expect("first");
    assert!(!first.duplicate);
    let again = s.append(&room, a.clone(), text_with_id("x", "different text, same id")).await.expect("again");
    assert!(again.duplicate, "{again:?}");
    assert_eq!((again.seq, again.message_id), (first.seq, first.message_id));
    let bobs = s.append(&room, b.clone(), text_with_id("x", "bob's")).await.expect("bob");
    assert!(!bobs.duplicate && bobs.message_id != first.message_id);
    let moved = s.append(&other, a.clone(), text_with_id("x", "other room")).await.expect("other room");
    assert!(!moved.duplicate && moved.seq == 1);
    assert_eq!(s.top_seq(room.id).await.expect("top"), 2, "the resend took no sequence number");
    let events = s.events(room.id, EventRange::After(0), 10).await.expect("events");
    assert_eq!(message_text(&events[0]).0, "hello", "the resend changed nothing");

    // A resend queued right behind the original (one batch): still one message.
    let (one, two) = (s.append(&room, a.clone(), text_with_id("y", "fast")), s.append(&room, a.clone(), text_with_id("y", "fast")));
    let (one, two) = (one.await.expect("original"), two.await.expect("resend"));
    assert!(!one.duplicate && two.duplicate && one.seq == two.seq && one.message_id == two.message_id, "{one:?} {two:?}");
    assert_eq!(s.top_seq(room.id).await.expect("top"), 3);
}

/// `message` matches exactly the key it is given: Confab's id only within its room, a client id
/// preferring live messages and then the preferred author, and no guessing (a numeric client id
/// that matches no client id matches nothing).
pub async fn message_lookups_match_exact_keys<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = guest_and_room(s, "ann", "lookup").await;
    let bob = s.create_guest("bob", b"hash-bob").await.expect("bob");
    let other = s.create_room("other", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let (a, b) = (ActorRef::from(&ann), ActorRef::from(&bob));
    let anns = s.append(&room, a.clone(), text_with_id("k", "ann's")).await.expect("ann").message_id.expect("id");
    let bobs = s.append(&room, b.clone(), text_with_id("k", "bob's")).await.expect("bob").message_id.expect("id");
    let plain = s.append(&room, a.clone(), text("no client id")).await.expect("plain").message_id.expect("id");

    let found = s.message(room.id, &MessageKey::Id(plain)).await.expect("by id").expect("found");
    assert_eq!((found.id, found.room_id, &found.author, found.client_id.as_deref(), found.deleted), (plain, room.id, &ann.id, None, false));
    assert!(s.message(other.id, &MessageKey::Id(plain)).await.expect("lookup").is_none(), "ids are per room");

    let by = |prefer: &confab_core::model::ActorId| MessageKey::Client { client_id: "k".into(), prefer: prefer.clone() };
    assert_eq!(s.message(room.id, &by(&ann.id)).await.expect("lookup").map(|m| m.id), Some(anns));
    assert_eq!(s.message(room.id, &by(&bob.id)).await.expect("lookup").map(|m| m.id), Some(bobs));
    s.append(&room, b.clone(), NewEvent::Delete { message_id: bobs }).await.expect("delete");
    assert_eq!(s.message(room.id, &by(&bob.id)).await.expect("lookup").map(|m| m.id), Some(anns), "a live message wins");
    s.append(&room, a.clone(), NewEvent::Delete { message_id: anns }).await.expect("delete");
    let gone = s.message(room.id, &by(&bob.id)).await.expect("lookup").expect("deleted messages are still found");
    assert!(gone.deleted && gone.id == bobs);

    let numeric = MessageKey::Client { client_id: plain.to_string(), prefer: ann.id.clone() };
    assert!(s.message(room.id, &numeric).await.expect("lookup").is_none(), "the store does not guess");
    assert!(s.message(room.id, &MessageKey::Id(999_999)).await.expect("lookup").is_none());
}

/// History shows a message's current state at its original place; edit and delete events keep
/// their own place and what they did; a deleted message cannot be edited or deleted again.
pub async fn edits_and_deletes_show_in_history<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = guest_and_room(s, "ann", "Hall").await;
    let bob = s.create_guest("bob", b"hash-bob").await.expect("bob");
    let (a, b) = (ActorRef::from(&ann), ActorRef::from(&bob));
    let first = s.append(&room, a.clone(), text_with_id("x", "hello")).await.expect("send").message_id.expect("id");
    let second = s.append(&room, b.clone(), text("bye")).await.expect("send").message_id.expect("id");
    let edit = NewEvent::Edit { message_id: first, content: Content { text: "hello!".into() } };
    let edited = s.append(&room, a.clone(), edit).await.expect("edit");
    assert_eq!((edited.seq, edited.message_id), (3, Some(first)));
    s.append(&room, b.clone(), NewEvent::Delete { message_id: second }).await.expect("delete");
    let again = s.append(&room, b.clone(), NewEvent::Delete { message_id: second }).await;
    assert_eq!(again.expect_err("deleting twice").code, ErrorCode::MessageNotFound);
    let edit_deleted = NewEvent::Edit { message_id: second, content: Content { text: "back".into() } };
    assert_eq!(s.append(&room, b.clone(), edit_deleted).await.expect_err("edit a deleted").code, ErrorCode::MessageNotFound);
    s.append(&room, b.clone(), NewEvent::Join).await.expect("join");
    s.append(&room, b.clone(), NewEvent::Leave { reason: LeaveReason::Left }).await.expect("leave");

    let events = s.events(room.id, EventRange::After(0), 100).await.expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(kinds, ["message", "message", "edit", "delete", "join", "leave"]);
    assert_eq!(seqs(&events), (1..=6).collect::<Vec<_>>());
    assert_eq!(message_text(&events[0]), ("hello!", true, false), "edits applied");
    assert_eq!(message_text(&events[1]), ("", false, true), "deleted text gone");
    match &events[2].body {
        EventBody::Edit { message_id, client_id, content, .. } => {
            assert_eq!((*message_id, client_id.as_deref(), content.text.as_str()), (first, Some("x"), "hello!"))
        }
        other => panic!("{other:?}"),
    }
    match &events[3].body {
        EventBody::Delete { message_id, client_id } => assert_eq!((*message_id, client_id.as_deref()), (second, None)),
        other => panic!("{other:?}"),
    }
    assert_eq!(events[5].body, EventBody::Leave { reason: LeaveReason::Left });
    assert!(events.iter().all(|e| e.room == "Hall" && e.room_id == room.id && e.at > 0));
    assert_eq!(events[1].actor, b, "the actor as it was");
}

/// `After` gives the oldest `limit` events past a sequence number, `Before` the newest `limit`
/// before one, both oldest first; ranges past either end are empty.
pub async fn history_ranges_page_both_ways<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = guest_and_room(s, "ann", "pages").await;
    let (_, quiet) = guest_and_room(s, "cat", "quiet").await;
    for i in 1..=10 {
        s.append(&room, ActorRef::from(&ann), text(&format!("m{i}"))).await.expect("send");
    }
    let page = |range, limit| async move { seqs(&s.events(room.id, range, limit).await.expect("events")) };
    assert_eq!(page(EventRange::After(0), 3).await, vec![1, 2, 3]);
    assert_eq!(page(EventRange::After(7), 100).await, vec![8, 9, 10]);
    assert_eq!(page(EventRange::After(10), 5).await, Vec::<i64>::new());
    assert_eq!(page(EventRange::Before(11), 3).await, vec![8, 9, 10]);
    assert_eq!(page(EventRange::Before(5), 2).await, vec![3, 4]);
    assert_eq!(page(EventRange::Before(3), 10).await, vec![1, 2]);
    assert_eq!(page(EventRange::Before(1), 10).await, Vec::<i64>::new());
    let texts: Vec<String> =
        s.events(room.id, EventRange::After(4), 2).await.expect("events").iter().map(|e| message_text(e).0.to_string()).collect();
    assert_eq!(texts, ["m5", "m6"]);
    assert!(s.events(quiet.id, EventRange::After(0), 10).await.expect("events").is_empty(), "rooms do not mix");
}

/// The newest `limit` live messages, oldest first, edits applied, deleted ones and other events left out.
pub async fn recent_messages_are_the_newest_live_ones<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = guest_and_room(s, "ann", "recent").await;
    let me = ActorRef::from(&ann);
    assert!(s.recent_messages(room.id, 10).await.expect("recent").is_empty());
    let mut ids = Vec::new();
    for i in 1..=6 {
        ids.push(s.append(&room, me.clone(), text(&format!("m{i}"))).await.expect("send").message_id.expect("id"));
    }
    s.append(&room, me.clone(), NewEvent::Join).await.expect("join");
    s.append(&room, me.clone(), NewEvent::Delete { message_id: ids[5] }).await.expect("delete m6");
    s.append(&room, me.clone(), NewEvent::Edit { message_id: ids[3], content: Content { text: "m4'".into() } })
        .await
        .expect("edit m4");
    let recent = s.recent_messages(room.id, 3).await.expect("recent");
    let got: Vec<(i64, &str)> = recent.iter().map(|e| (e.seq, message_text(e).0)).collect();
    assert_eq!(got, vec![(3, "m3"), (4, "m4'"), (5, "m5")]);
    assert_eq!(s.recent_messages(room.id, 100).await.expect("recent").len(), 5);
}
