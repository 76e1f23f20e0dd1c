//! The store section "direct": one room per set of people (also when opened concurrently), room
//! members, "my rooms", and webhooks created, found, listed and revoked.

use std::sync::Arc;

use confab_core::direct::member_key;
use confab_core::model::{ActorKind, ActorRef, Role, RoomKind};
use confab_core::store::{EventRange, Store};
use confab_core::ErrorCode;
use confab_core::EventBody;

use crate::{fixture, text, Backend};

/// The same people get the same room whatever order they are named in and however many open it at
/// once (one call creates it, the others get it with `created: false`); other people get another
/// room. Every member has role `Member`, `room_members` lists them in the order named, and the room
/// is of kind direct, found by its name.
pub async fn one_direct_room_per_set_of_people<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s: Arc<dyn Store> = Arc::clone(&f.store);
    let mut people = Vec::new();
    for name in ["ann", "bob", "cat"] {
        people.push(ActorRef::from(&s.create_guest(name, format!("hash-{name}").as_bytes()).await.expect("actor")));
    }
    let (ann, bob, cat) = (people[0].clone(), people[1].clone(), people[2].clone());
    let pair = [ann.clone(), bob.clone()];
    let key = member_key(&pair);
    assert_eq!(key, member_key(&[bob.clone(), ann.clone()]), "order does not matter");
    let opens: Vec<_> = (0..8)
        .map(|i| {
            let (s, key, pair) = (Arc::clone(&s), key.clone(), pair.clone());
            tokio::spawn(async move { s.open_direct(&key, &format!("@dm-{i}"), &pair).await })
        })
        .collect();
    let mut rooms = Vec::new();
    for open in opens {
        rooms.push(open.await.expect("task").expect("open"));
    }
    assert_eq!(rooms.iter().filter(|o| o.created).count(), 1, "exactly one open created the room");
    let room = rooms[0].room.clone();
    assert!(rooms.iter().all(|o| o.room.id == room.id), "every open got the same room");
    assert_eq!(room.kind, RoomKind::Direct);
    let found = s.room(&room.name).await.expect("lookup").expect("found by name");
    assert_eq!((found.id, found.kind), (room.id, RoomKind::Direct));
    let again = s.open_direct(&key, "@dm-later", &[bob.clone(), ann.clone()]).await.expect("reopen");
    assert_eq!((again.room.id, again.created), (room.id, false));
    assert!(s.room("@dm-later").await.expect("lookup").is_none(), "no room of the name not used");

    let trio = [cat.clone(), ann.clone(), bob.clone()];
    let group = s.open_direct(&member_key(&trio), "@dm-trio", &trio).await.expect("group");
    assert!(group.created && group.room.id != room.id, "other people, other room");
    let members = s.room_members(group.room.id).await.expect("members");
    let named: Vec<(&str, Role)> = members.iter().map(|(m, r)| (m.name.as_str(), *r)).collect();
    assert_eq!(named, [("cat", Role::Member), ("ann", Role::Member), ("bob", Role::Member)], "in the order named");
    assert_eq!(s.role(group.room.id, &cat.id).await.expect("role"), Some(Role::Member));

    let unknown = ActorRef { id: confab_core::model::ActorId::new_user(), name: "nobody".into() };
    let broken = [ann.clone(), unknown];
    assert!(s.open_direct(&member_key(&broken), "@dm-broken", &broken).await.is_err(), "members must exist");
    assert!(s.room("@dm-broken").await.expect("lookup").is_none(), "and nothing is left of the attempt");
}

/// `my_rooms` lists every room with a membership (owned, joined, direct), with the role, by
/// lower-cased name; `actors` finds actors by id with their kind and skips unknown ids.
pub async fn my_rooms_and_actors<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, hall) = crate::guest_and_room(s, "ann", "Hall").await;
    let bob = s.create_guest("bob", b"hash-bob").await.expect("bob");
    let (ann_ref, bob_ref) = (ActorRef::from(&ann), ActorRef::from(&bob));
    let attic = s.create_room("attic", RoomKind::Public, &bob_ref).await.expect("attic");
    s.create_room("cellar", RoomKind::Public, &bob_ref).await.expect("cellar");
    s.append(&attic, ann_ref.clone(), confab_core::store::NewEvent::Join).await.expect("join");
    s.append(&attic, ann_ref.clone(), text("hi")).await.expect("send");
    let pair = [ann_ref.clone(), bob_ref.clone()];
    let dm = s.open_direct(&member_key(&pair), "@dmab", &pair).await.expect("dm").room;
    let mine: Vec<(String, RoomKind, Role, i64)> =
        s.my_rooms(&ann.id).await.expect("my rooms").into_iter().map(|(r, role)| (r.name, r.kind, role, r.top_seq)).collect();
    assert_eq!(
        mine,
        [
            ("@dmab".to_string(), RoomKind::Direct, Role::Member, 0),
            ("attic".to_string(), RoomKind::Public, Role::Member, 2),
            ("Hall".to_string(), RoomKind::Public, Role::Owner, 0),
        ]
    );
    assert_eq!(s.my_rooms(&bob.id).await.expect("bob's").len(), 3, "attic, cellar, the DM");
    assert!(s.my_rooms(&confab_core::model::ActorId::new_user()).await.expect("nobody's").is_empty());
    let _ = (hall, dm);
    let mut found = s.actors(&[bob.id.clone(), confab_core::model::ActorId::new_user(), ann.id.clone()]).await.expect("actors");
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let found: Vec<(&str, ActorKind)> = found.iter().map(|a| (a.name.as_str(), a.kind)).collect();
    assert_eq!(found, [("ann", ActorKind::Guest), ("bob", ActorKind::Guest)]);
}

/// A webhook is an actor of kind webhook bound to a room: listed for its room only, found by id with
/// its secret's hash and room, able to author messages; once revoked it is neither found nor listed,
/// a second revoke (or one from another room) answers false, and its messages stay.
pub async fn webhooks_are_created_found_and_revoked<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let (ann, room) = crate::guest_and_room(s, "ann", "alerts").await;
    let (_, other) = crate::guest_and_room(s, "bob", "other").await;
    let hook = s.create_webhook(room.id, "CI", b"secret-hash", &ann.id).await.expect("create");
    assert!(hook.id.as_str().starts_with("w_"), "{}", hook.id.as_str());
    assert_eq!((hook.name.as_str(), hook.room_id, &hook.created_by), ("CI", room.id, &ann.id));
    let second = s.create_webhook(room.id, "Alerts", b"other-hash", &ann.id).await.expect("create");
    // Listed oldest first; two made in one millisecond come in id order, which is not creation order.
    let mut listed = s.webhooks(room.id).await.expect("list");
    let mut made = vec![hook.clone(), second.clone()];
    if hook.created_at == second.created_at {
        listed.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        made.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    }
    assert_eq!(listed, made);
    assert!(s.webhooks(other.id).await.expect("list").is_empty());
    let found = s.webhook(&hook.id).await.expect("lookup").expect("found");
    assert_eq!((found.webhook, found.secret_hash.as_slice(), found.room.id), (hook.clone(), &b"secret-hash"[..], room.id));
    let actor = s.actors(std::slice::from_ref(&hook.id)).await.expect("actor");
    assert_eq!(actor.iter().map(|a| a.kind).collect::<Vec<_>>(), [ActorKind::Webhook]);
    let as_hook = ActorRef { id: hook.id.clone(), name: "deploy bot".into() };
    s.append(&room, as_hook, text("build passed")).await.expect("a webhook authors messages");

    assert!(!s.revoke_webhook(other.id, &hook.id).await.expect("revoke elsewhere"), "not that room's");
    assert!(s.revoke_webhook(room.id, &hook.id).await.expect("revoke"));
    assert!(!s.revoke_webhook(room.id, &hook.id).await.expect("revoke again"));
    assert!(s.webhook(&hook.id).await.expect("lookup").is_none(), "revoked: not found");
    assert_eq!(s.webhooks(room.id).await.expect("list"), [second]);
    let events = s.events(room.id, EventRange::After(0), 10).await.expect("history");
    let by_hook = events.iter().find(|e| e.actor.id == hook.id).expect("its message stays");
    assert_eq!(by_hook.actor.name, "deploy bot");
    assert!(matches!(&by_hook.body, EventBody::Message { message } if message.content.text == "build passed"));
    let missing = s.create_webhook(room.id + 1000, "x", b"h", &ann.id).await.expect_err("no such room");
    assert_ne!(missing.code, ErrorCode::Internal);
}
