//! Private rooms' memberships, roles, bans and invites: the membership change each moderation event
//! makes is applied in the transaction that logs it, the events read back as they were written, and
//! an invite's uses are taken atomically.

use confab_core::event::EventBody;
use confab_core::model::{ActorRef, Member, Membership, NewInvite, Role, RoomKind};
use confab_core::store::{EventRange, NewEvent};
use confab_core::ErrorCode;

use crate::{fixture, Backend};

/// `added`, `role`, `kick`, `ban` and `unban` change the target's membership as they are logged, and
/// read back from the log with their target.
pub async fn moderation_events_change_memberships<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_guest("ann", b"hash-ann").await.expect("ann");
    let bob = s.create_guest("bob", b"hash-bob").await.expect("bob");
    let (a, b) = (ActorRef::from(&ann), ActorRef::from(&bob));
    let room = s.create_room("den", RoomKind::Private, &a).await.expect("create");
    assert_eq!(room.kind, RoomKind::Private);
    assert_eq!(s.room("den").await.expect("lookup").expect("found").kind, RoomKind::Private, "the kind is stored");
    let none = Membership { role: None, banned: false };
    assert_eq!(s.membership(room.id, &bob.id).await.expect("membership"), none);
    assert_eq!(s.actor(&bob.id).await.expect("actor").map(|x| x.name), Some("bob".into()));
    assert!(s.actor(&"g_nobody".to_string().into()).await.expect("actor").is_none());

    s.append(&room, a.clone(), NewEvent::Added { target: b.clone() }).await.expect("add");
    assert_eq!(s.membership(room.id, &bob.id).await.expect("m").role, Some(Role::Member));
    let members = s.members_of(room.id).await.expect("members");
    let want = |id: &ActorRef, role| Member { id: id.id.clone(), name: id.name.clone(), role };
    assert_eq!(members, vec![want(&a, Role::Owner), want(&b, Role::Member)], "in the order they became members");
    assert_eq!(s.memberships_of(&bob.id).await.expect("of"), vec![(room.id, Role::Member)]);

    s.append(&room, a.clone(), NewEvent::Role { target: b.clone(), role: Role::Moderator }).await.expect("role");
    assert_eq!(s.membership(room.id, &bob.id).await.expect("m").role, Some(Role::Moderator));
    s.append(&room, a.clone(), NewEvent::Kick { target: b.clone() }).await.expect("kick");
    assert_eq!(s.membership(room.id, &bob.id).await.expect("m"), none, "a kick ends the membership");
    assert!(s.memberships_of(&bob.id).await.expect("of").is_empty());

    s.append(&room, a.clone(), NewEvent::Added { target: b.clone() }).await.expect("add again");
    s.append(&room, a.clone(), NewEvent::Ban { target: b.clone() }).await.expect("ban");
    assert_eq!(s.membership(room.id, &bob.id).await.expect("m"), Membership { role: None, banned: true });
    assert_eq!(s.bans(room.id).await.expect("bans"), vec![b.clone()]);
    assert_eq!(s.members_of(room.id).await.expect("members"), vec![want(&a, Role::Owner)], "the banned are not members");
    s.append(&room, a.clone(), NewEvent::Unban { target: b.clone() }).await.expect("unban");
    assert_eq!(s.membership(room.id, &bob.id).await.expect("m"), none, "an unban does not make a member");
    assert!(s.bans(room.id).await.expect("bans").is_empty());

    let kinds: Vec<String> = s
        .events(room.id, EventRange::After(0), 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| match e.body {
            ref body @ (EventBody::Added { ref target }
            | EventBody::Kick { ref target }
            | EventBody::Ban { ref target }
            | EventBody::Unban { ref target }) => {
                assert_eq!(*target, b, "the target reads back");
                body.kind().to_string()
            }
            EventBody::Role { target, role } => {
                assert_eq!((target, role), (b.clone(), Role::Moderator));
                "role".into()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["added", "role", "kick", "added", "ban", "unban"]);
}

/// An invite works while it has uses and time left; every other case is `invite_invalid`; the last
/// use goes to one of two accepting at once.
pub async fn invites_are_used_up_and_expire<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.clone();
    let ann = s.create_guest("ann", b"hash-ann").await.expect("ann");
    let room = s.create_room("den", RoomKind::Private, &ActorRef::from(&ann)).await.expect("create");
    let now = confab_core::model::now_ms();
    let invite = |hash: &[u8], expires_at, max_uses| NewInvite {
        room: room.id,
        code_hash: hash.to_vec(),
        created_by: ann.id.clone(),
        created_at: now,
        expires_at,
        max_uses,
    };
    s.create_room_invite(&invite(b"two", now + 60_000, 2)).await.expect("invite");
    s.create_room_invite(&invite(b"old", now - 1, 5)).await.expect("invite");
    for _ in 0..2 {
        assert_eq!(s.use_room_invite(b"two", now).await.expect("use").id, room.id);
    }
    for (hash, why) in [(&b"two"[..], "used up"), (b"old", "expired"), (b"nope", "unknown")] {
        let err = s.use_room_invite(hash, now).await.expect_err(why);
        assert_eq!(err.code, ErrorCode::InviteInvalid, "{why}");
    }
    assert_eq!(s.use_room_invite(b"two", now).await.unwrap_err().message, s.use_room_invite(b"nope", now).await.unwrap_err().message);
    s.create_room_invite(&invite(b"last", now + 60_000, 1)).await.expect("invite");
    let (x, y) = tokio::join!(s.use_room_invite(b"last", now), s.use_room_invite(b"last", now));
    assert_eq!([x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(), 1, "one of two gets the last use");
}
