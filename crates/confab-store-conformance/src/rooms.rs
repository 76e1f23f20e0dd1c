//! Rooms and actors: names unique regardless of case, roles, session tokens, renames, and a store
//! reopened on its data.

use std::sync::Arc;

use confab_core::model::{ActorKind, ActorRef, Role, RoomKind};
use confab_core::store::{EventRange, NewEvent};
use confab_core::ErrorCode;

use crate::{fixture, text, Backend, Recorder};

/// A room keeps its spelling, is found in any case, and its name cannot be taken again in another
/// case; `rooms` lists them by lower-cased name.
pub async fn room_names_are_case_insensitive_and_unique<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_guest("ann", b"hash-ann").await.expect("ann");
    let me = ActorRef::from(&ann);
    let hall = s.create_room("Hall", RoomKind::Public, &me).await.expect("create");
    assert_eq!((hall.name.as_str(), hall.kind, hall.top_seq), ("Hall", RoomKind::Public, 0));
    let taken = s.create_room("hALL", RoomKind::Public, &me).await.expect_err("taken");
    assert_eq!(taken.code, ErrorCode::RoomExists);
    for spelling in ["hall", "HALL", "Hall"] {
        let found = s.room(spelling).await.expect("lookup").expect("found");
        assert_eq!((found.id, found.name.as_str()), (hall.id, "Hall"));
    }
    assert!(s.room("hal").await.expect("lookup").is_none());
    s.create_room("attic", RoomKind::Public, &me).await.expect("create");
    s.create_room("Cellar", RoomKind::Public, &me).await.expect("create");
    let names: Vec<String> = s.rooms().await.expect("rooms").into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["attic", "Cellar", "Hall"]);
    s.append(&hall, me.clone(), text("hi")).await.expect("send");
    assert_eq!(s.room("hall").await.expect("lookup").expect("found").top_seq, 1, "a room read now shows its top");
}

/// The creator owns the room; a join makes others members and leaves an owner an owner; someone
/// who never joined has no role.
pub async fn roles_and_memberships<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = crate::guest_and_room(s, "ann", "roles").await;
    let bob = s.create_guest("bob", b"hash-bob").await.expect("bob");
    let cat = s.create_guest("cat", b"hash-cat").await.expect("cat");
    assert_eq!(s.role(room.id, &ann.id).await.expect("role"), Some(Role::Owner));
    assert_eq!(s.role(room.id, &bob.id).await.expect("role"), None);
    s.append(&room, ActorRef::from(&bob), NewEvent::Join).await.expect("join");
    s.append(&room, ActorRef::from(&ann), NewEvent::Join).await.expect("join");
    s.append(&room, ActorRef::from(&bob), NewEvent::Join).await.expect("join again");
    assert_eq!(s.role(room.id, &bob.id).await.expect("role"), Some(Role::Member));
    assert_eq!(s.role(room.id, &ann.id).await.expect("role"), Some(Role::Owner), "joining keeps the owner's role");
    assert_eq!(s.role(room.id, &cat.id).await.expect("role"), None);
    assert_eq!(s.top_seq(room.id).await.expect("top"), 3, "every join is an event");
}

/// `listed` names, per room and in log order, the people whose last join or leave there is a join:
/// who a crash left in the room without a logged leave.
pub async fn the_log_lists_who_joined_and_did_not_leave<B: Backend>(backend: &B) {
    use confab_core::event::LeaveReason;
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, hall) = crate::guest_and_room(s, "ann", "hall").await;
    let attic = s.create_room("attic", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let bob = ActorRef::from(&s.create_guest("bob", b"hash-bob").await.expect("bob"));
    let cat = ActorRef::from(&s.create_guest("cat", b"hash-cat").await.expect("cat"));
    let ann = ActorRef::from(&ann);
    assert!(s.listed().await.expect("listed").is_empty(), "nobody joined yet");
    let left = NewEvent::Leave { reason: LeaveReason::Left };
    for (room, who, new) in [
        (&hall, &ann, NewEvent::Join),
        (&hall, &bob, NewEvent::Join),
        (&hall, &bob, text("hello")),
        (&hall, &bob, left.clone()),
        (&attic, &cat, NewEvent::Join),
        (&hall, &cat, NewEvent::Join),
        (&attic, &bob, NewEvent::Join),
        (&attic, &cat, left.clone()),
        (&hall, &bob, NewEvent::Join),
    ] {
        s.append(room, who.clone(), new).await.expect("append");
    }
    let listed: Vec<(i64, String)> = s.listed().await.expect("listed").into_iter().map(|(r, a)| (r, a.name)).collect();
    let mut want: Vec<(i64, String)> =
        [(hall.id, "ann"), (hall.id, "cat"), (hall.id, "bob"), (attic.id, "bob")].map(|(r, n)| (r, n.to_string())).into();
    want.sort_by_key(|(room, _)| *room);
    assert_eq!(listed, want, "ann, cat and bob (back) in the hall; bob, not cat, in the attic");
}

/// A session token finds its actor, an unknown one nothing; a rename shows in later lookups and
/// events, while stored events keep the name they had.
pub async fn tokens_and_renames<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_guest("ann", b"token-a").await.expect("ann");
    let bob = s.create_guest("bob", b"token-b").await.expect("bob");
    assert_ne!(ann.id, bob.id);
    assert!(ann.id.as_str().starts_with("g_") && ann.kind == ActorKind::Guest);
    let found = s.actor_by_token(b"token-a").await.expect("lookup").expect("found");
    assert_eq!(found, ann);
    assert!(s.actor_by_token(b"token-c").await.expect("lookup").is_none());
    let room = s.create_room("names", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    s.append(&room, ActorRef::from(&ann), text("before")).await.expect("send");
    s.rename_actor(&ann.id, "annie").await.expect("rename");
    let renamed = s.actor_by_token(b"token-a").await.expect("lookup").expect("found");
    assert_eq!((renamed.id.clone(), renamed.name.as_str()), (ann.id.clone(), "annie"));
    assert_eq!(s.actor_by_token(b"token-b").await.expect("lookup").expect("found").name, "bob");
    s.append(&room, ActorRef::from(&renamed), text("after")).await.expect("send");
    let names: Vec<String> =
        s.events(room.id, EventRange::After(0), 10).await.expect("events").into_iter().map(|e| e.actor.name).collect();
    assert_eq!(names, ["ann", "annie"]);
}

/// Everything committed is there after the store is dropped and opened again on the same data,
/// and the sequence continues.
pub async fn reopening_keeps_everything<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let (room, ann) = {
        let s = f.store.as_ref();
        let (ann, room) = crate::guest_and_room(s, "ann", "keep").await;
        for i in 0..10 {
            s.append(&room, ActorRef::from(&ann), text(&i.to_string())).await.expect("send");
        }
        (room, ann)
    };
    let place = f.place;
    drop(f.store);
    let sink = Arc::new(Recorder::default());
    let s = backend.open(&place, sink.clone()).await;
    assert_eq!(s.actor_by_token(b"hash-ann").await.expect("lookup").expect("found").id, ann.id);
    assert_eq!(s.top_seq(room.id).await.expect("top"), 10);
    assert_eq!(s.events(room.id, EventRange::After(0), 100).await.expect("events").len(), 10);
    assert_eq!(s.room("KEEP").await.expect("lookup").map(|r| r.id), Some(room.id));
    assert_eq!(s.append(&room, ActorRef::from(&ann), text("more")).await.expect("send").seq, 11);
    assert_eq!(sink.seqs(), vec![("keep".to_string(), 11)], "the new store publishes only what it commits");
}
