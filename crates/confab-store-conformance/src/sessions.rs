//! Guest sessions over time: idle guests expire (their token stops working) and keep their id and
//! name on what they wrote.

use confab_core::model::{now_ms, ActorRef, RoomKind};
use confab_core::store::EventRange;

use crate::{fixture, text, Backend};

const DAY: i64 = 86_400_000;

/// A guest last seen (here: never touched, so created) before the cut-off loses its session: its
/// token finds nothing, while its messages keep its id and name. A guest touched after the cut-off
/// keeps its session. A second sweep ends nothing more, a cut-off before anyone was created ends
/// nothing, and touching an expired guest does not bring its session back.
pub async fn idle_guests_expire_and_keep_their_name<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let idle = s.create_guest("idle", b"token-idle").await.expect("idle");
    let busy = s.create_guest("busy", b"token-busy").await.expect("busy");
    let room = s.create_room("sweep", RoomKind::Public, &ActorRef::from(&idle)).await.expect("room");
    s.append(&room, ActorRef::from(&idle), text("from idle")).await.expect("send");
    let now = now_ms();
    assert_eq!(s.expire_idle_guests(now - DAY).await.expect("sweep"), 0, "nobody is that old");
    s.touch_actor(&busy.id, now + 2 * DAY).await.expect("touch");
    assert_eq!(s.expire_idle_guests(now + DAY).await.expect("sweep"), 1, "only the idle guest");
    assert!(s.actor_by_token(b"token-idle").await.expect("lookup").is_none(), "its token no longer signs in");
    assert_eq!(s.actor_by_token(b"token-busy").await.expect("lookup").expect("busy stays").id, busy.id);
    assert_eq!(s.expire_idle_guests(now + DAY).await.expect("sweep"), 0, "counted once");
    s.touch_actor(&idle.id, now + 3 * DAY).await.expect("touch an expired guest");
    assert!(s.actor_by_token(b"token-idle").await.expect("lookup").is_none(), "touching does not revive it");
    let events = s.events(room.id, EventRange::After(0), 10).await.expect("events");
    let authors: Vec<(String, String)> =
        events.iter().map(|e| (e.actor.id.as_str().to_string(), e.actor.name.clone())).collect();
    assert_eq!(authors, [(idle.id.as_str().to_string(), "idle".to_string())], "the message keeps its author");
    // The row stays: the id is not handed out again, and its name is still its own.
    assert_eq!(s.role(room.id, &idle.id).await.expect("role").map(|r| r.as_str()), Some("owner"));
}
