//! One room's live stream on this node: its local subscribers, and the stage that hands them the
//! room's events in sequence order, each once.
//!
//! Events reach a feed from the bus: this node's own commits at once, other nodes' through Redis,
//! in no particular order between nodes, possibly twice (a fill from the store overlapping a late
//! publication), possibly never (a publication lost while Redis was away). The feed therefore keeps
//! the last sequence it handed over, drops what is at or below it, holds what comes past a gap, and
//! asks the hub to fill the gap from the store (the source of truth) when it stays open. Subscribers
//! thus only ever see `last + 1`, then `last + 2`, and their sequencers need no cluster knowledge.
//!
//! A feed starts at the room's top sequence read *after* the bus subscription is active (see
//! [`crate::fanout::Hub::subscribe`]), so everything committed later reaches it by the bus or by a fill.

use std::collections::BTreeMap;
use std::sync::Arc;

use confab_core::event::EventBody;
use confab_core::model::{RoomId, Seq};
use confab_core::presence::ConnId;
use confab_core::Event;
use parking_lot::Mutex;

use crate::conn::{CloseReason, ConnShared, Encoded, MemberList, Outbound};

pub struct Feed {
    pub room: RoomId,
    state: Mutex<State>,
    /// Set once the bus subscription is active and the starting sequence is known; joins wait for it.
    pub ready: tokio::sync::OnceCell<()>,
}

#[derive(Default)]
struct State {
    subs: Vec<Arc<ConnShared>>,
    /// The last sequence handed to subscribers; `None` until the feed is ready.
    last: Option<Seq>,
    /// Events past a gap, or received before the feed was ready, by sequence.
    pending: BTreeMap<Seq, Event>,
    /// A fill from the store is scheduled or running.
    filling: bool,
}

/// What [`Feed::accept`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Events past a gap are held and no fill is running yet: the caller schedules one.
    pub start_fill: bool,
    /// A join or leave was handed over: the room's member list changed.
    pub members_changed: bool,
}

impl Feed {
    pub fn new(room: RoomId) -> Arc<Self> {
        Arc::new(Feed { room, state: Mutex::new(State::default()), ready: tokio::sync::OnceCell::new() })
    }

    /// Adds a subscriber; returns false if it already was one.
    pub fn add(&self, conn: &Arc<ConnShared>) -> bool {
        let mut state = self.state.lock();
        if state.subs.iter().any(|s| s.id == conn.id) {
            return false;
        }
        state.subs.push(Arc::clone(conn));
        true
    }

    /// Queues a new member list for every subscriber.
    pub fn offer_members(&self, list: Arc<Encoded<MemberList>>) {
        for sub in &self.state.lock().subs {
            sub.offer(Outbound::Members(Arc::clone(&list)));
        }
    }

    /// Removes a subscriber; returns whether the feed has none left.
    pub fn remove(&self, conn: ConnId) -> bool {
        let mut state = self.state.lock();
        state.subs.retain(|s| s.id != conn);
        state.subs.is_empty()
    }

    /// Starts the stream after `top` (the room's top sequence once the bus subscription was active).
    pub fn start_after(&self, top: Seq) -> Accepted {
        let mut state = self.state.lock();
        state.last = Some(top);
        state.drain()
    }

    /// Takes events of this room in any order; hands over, in order, all that can be.
    pub fn accept(&self, events: Vec<Event>) -> Accepted {
        let mut state = self.state.lock();
        for event in events {
            if state.last.is_none_or(|last| event.seq > last) {
                state.pending.insert(event.seq, event);
            }
        }
        state.drain()
    }

    /// Where a fill from the store starts (`events after this`), while a gap is open or a catch-up
    /// was asked for; `None` before the feed is ready.
    pub fn last(&self) -> Option<Seq> {
        self.state.lock().last
    }

    /// Whether events are held past a gap.
    pub fn has_gap(&self) -> bool {
        !self.state.lock().pending.is_empty()
    }

    /// Marks a fill as running; false if one already is.
    pub fn begin_fill(&self) -> bool {
        !std::mem::replace(&mut self.state.lock().filling, true)
    }

    pub fn end_fill(&self) {
        self.state.lock().filling = false;
    }

    /// The store could not fill the gap: close every subscriber with `resync` (they resume from the
    /// log, which is complete) and continue from the first held event, so that nothing is skipped
    /// for anyone silently.
    pub fn give_up(&self) -> Accepted {
        let mut state = self.state.lock();
        for sub in &state.subs {
            sub.kill(CloseReason::Resync);
        }
        if let Some((&first, _)) = state.pending.first_key_value() {
            state.last = Some(first - 1);
        }
        state.drain()
    }
}

impl State {
    /// Hands over held events from `last + 1` on, while they are consecutive.
    fn drain(&mut self) -> Accepted {
        let mut accepted = Accepted::default();
        let Some(mut last) = self.last else { return accepted };
        while let Some(entry) = self.pending.first_entry() {
            let seq = *entry.key();
            if seq <= last {
                entry.remove();
                continue;
            }
            if seq != last + 1 {
                break;
            }
            let event = entry.remove();
            accepted.members_changed |= matches!(
                event.body,
                EventBody::Join | EventBody::Leave { .. } | EventBody::Kick { .. } | EventBody::Ban { .. } | EventBody::Added { .. }
            );
            last = seq;
            let delivery = Encoded::new(event);
            for sub in &self.subs {
                sub.offer(Outbound::Event(Arc::clone(&delivery)));
            }
            crate::metrics::delivered(self.subs.len());
        }
        self.last = Some(last);
        accepted.start_fill = !self.pending.is_empty() && !self.filling;
        accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::frames::NATIVE;
    use confab_core::model::{ActorId, ActorRef};

    fn ev(seq: Seq) -> Event {
        Event {
            room: "r".into(),
            room_id: 1,
            seq,
            at: 0,
            actor: ActorRef { id: ActorId::from("g_a".to_string()), name: "a".into() },
            body: EventBody::Message {
                message: confab_core::event::MessageView {
                    id: seq,
                    client_id: None,
                    content: Default::default(),
                    edited_at: None,
                    deleted: false,
                },
            },
        }
    }

    fn received(rx: &mut crate::conn::queue::Receiver<Outbound>) -> Vec<Seq> {
        let mut out = Vec::new();
        while let Some(item) = rx.try_recv() {
            if let Outbound::Event(d) = item {
                out.push(d.item.seq);
            }
        }
        out
    }

    #[test]
    fn events_out_of_order_and_twice_come_out_once_in_order() {
        let feed = Feed::new(1);
        let (conn, mut rx) = ConnShared::new(&NATIVE, 64);
        feed.add(&conn);
        assert_eq!(feed.accept(vec![ev(3)]), Accepted::default(), "held until the feed is ready");
        feed.start_after(2);
        let a = feed.accept(vec![ev(5), ev(4), ev(4), ev(2)]);
        assert!(!a.start_fill);
        assert_eq!(received(&mut rx), vec![3, 4, 5]);
    }

    #[test]
    fn a_gap_holds_later_events_until_filled() {
        let feed = Feed::new(1);
        let (conn, mut rx) = ConnShared::new(&NATIVE, 64);
        feed.add(&conn);
        feed.start_after(0);
        assert!(feed.accept(vec![ev(1), ev(3), ev(4)]).start_fill, "2 is missing");
        assert_eq!(received(&mut rx), vec![1]);
        assert!(feed.begin_fill());
        assert!(!feed.begin_fill(), "one fill at a time");
        // The fill from the store brings 2 (and overlaps 3).
        let a = feed.accept(vec![ev(2), ev(3)]);
        feed.end_fill();
        assert!(!a.start_fill);
        assert!(!feed.has_gap());
        assert_eq!(received(&mut rx), vec![2, 3, 4]);
    }

    #[test]
    fn giving_up_closes_subscribers_with_resync() {
        let feed = Feed::new(1);
        let (conn, _rx) = ConnShared::new(&NATIVE, 64);
        feed.add(&conn);
        feed.start_after(0);
        feed.accept(vec![ev(2)]);
        feed.give_up();
        assert_eq!(conn.kill_reason(), Some(CloseReason::Resync));
        assert_eq!(feed.last(), Some(2));
    }
}
