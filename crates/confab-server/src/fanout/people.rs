//! This node's connections by actor: for notices that concern a person rather than a room, so that
//! a room appears in your sidebar while you are connected, on every connection you have here: a
//! direct conversation was opened with you (`direct_opened`; other nodes tell their own connections,
//! the opening crosses the cluster as a room change), or you were added to a room (`added_to_room`;
//! told by every node that sees the `added` event, see [`super::Hub`]).

use std::collections::HashMap;
use std::sync::Arc;

use confab_core::model::ActorId;
use confab_core::presence::ConnId;
use parking_lot::Mutex;

use crate::conn::{ConnShared, Outbound};

#[derive(Default)]
pub struct People {
    conns: Mutex<HashMap<ActorId, Vec<Arc<ConnShared>>>>,
}

impl People {
    /// The connection speaks for `actor` from now on (called again for the same pair: no change).
    pub fn add(&self, actor: &ActorId, conn: &Arc<ConnShared>) {
        let mut conns = self.conns.lock();
        let list = conns.entry(actor.clone()).or_default();
        if !list.iter().any(|c| c.id == conn.id) {
            list.push(Arc::clone(conn));
        }
    }

    pub fn remove(&self, actor: &ActorId, conn: ConnId) {
        let mut conns = self.conns.lock();
        if let Some(list) = conns.get_mut(actor) {
            list.retain(|c| c.id != conn);
            if list.is_empty() {
                conns.remove(actor);
            }
        }
    }

    /// Hands the notice (`notice()` makes one queue item of it) to every local connection of each
    /// actor in `to`.
    pub fn offer(&self, to: &[ActorId], notice: impl Fn() -> Outbound) {
        let conns = self.conns.lock();
        for conn in to.iter().filter_map(|a| conns.get(a)).flatten() {
            conn.offer(notice());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{DirectOpened, Encoded};
    use crate::native::frames::NATIVE;

    /// Each of an actor's connections gets the notice once (however often it was added); a removed
    /// connection and other actors get nothing.
    #[test]
    fn notices_reach_the_actors_connections_only() {
        let people = People::default();
        let (ann, bob) = (ActorId::from("u_ann".to_string()), ActorId::from("u_bob".to_string()));
        let (one, mut rx_one) = ConnShared::new(&NATIVE, 8);
        let (two, mut rx_two) = ConnShared::new(&NATIVE, 8);
        let (other, mut rx_other) = ConnShared::new(&NATIVE, 8);
        people.add(&ann, &one);
        people.add(&ann, &one);
        people.add(&ann, &two);
        people.add(&bob, &other);
        people.remove(&ann, two.id);
        let notice = Encoded::new(DirectOpened { room: "@x".into(), members: Vec::new() });
        people.offer(std::slice::from_ref(&ann), || Outbound::Direct(Arc::clone(&notice)));
        let mut got = Vec::new();
        while let Some(item) = rx_one.try_recv() {
            got.push(item);
        }
        assert_eq!(got.len(), 1, "once per connection");
        assert!(matches!(got[0], Outbound::Direct(_)));
        assert!(rx_two.try_recv().is_none(), "removed");
        assert!(rx_other.try_recv().is_none(), "another actor");
        people.remove(&ann, one.id);
        assert!(!people.conns.lock().contains_key(&ann));
    }
}
