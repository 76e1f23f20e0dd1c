//! The fan-out contract: how committed events reach every node that has members in their room.
//!
//! A [`Bus`] carries what one node's store committed to the other nodes of a cluster. It is a
//! *wake-up*, never the only copy: the store is the source of truth, and every promise below is
//! written so that a receiver which loses publications (a dropped connection to Redis, a restart)
//! recovers them from the store, by sequence number, without help from the bus.
//!
//! What a `Bus` promises:
//! - **At most once, per subscribed node.** A publication reaches each node subscribed to its room
//!   once, or not at all. It never reaches a node that is not subscribed (a node with no members in
//!   a room receives none of its traffic).
//! - **Commit order from one publisher.** The events of one [`Bus::publish`] call, and of
//!   successive calls from one node, arrive in the order they were published. Across publishers
//!   nothing is promised: two nodes writing to one room interleave on the bus in any order, and the
//!   receiver orders by sequence number.
//! - **Loss is announced when it can be known.** When the bus loses its connection and gets it back,
//!   it calls [`Inbox::resync`], so the receiver re-reads every subscribed room from the store.
//! - **Subscriptions take effect in call order.** `subscribe` and `unsubscribe` for one room act in
//!   the order they are called (the request is queued before `subscribe` returns its future), so an
//!   unsubscribe followed at once by a subscribe leaves the node subscribed.
//! - **A subscription is active when its future resolves.** Events published after
//!   [`Bus::subscribe`] resolved reach this node; what was committed before, the receiver reads
//!   from the store. (This is what lets a receiver read a room's top sequence after subscribing
//!   and miss nothing.)
//! - **This node's own publications reach its own inbox at once**, without the round trip, so a
//!   single node pays nothing for the contract.
//!
//! [`LocalBus`] is the in-process implementation (one node); `confab-bus-redis` is the one for a
//! cluster. Both are handed an [`Inbox`]: the server's hub, which keeps each room in sequence order,
//! fills gaps from the store, and hands events to connections.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};
use crate::event::Event;
use crate::model::{RoomId, RoomSummary};
use crate::store::{BoxFuture, EventSink};

/// Names one Confab process in a cluster (`--node-id`, or random at start-up).
pub type NodeId = Arc<str>;

/// What the bus hands to the node it runs on.
pub trait Inbox: Send + Sync + 'static {
    /// Committed events of one room this node is subscribed to, in the publisher's commit order.
    fn events(&self, room: RoomId, events: Vec<Event>);
    /// A room was created, or its live member count changed, somewhere in the cluster.
    fn room_changed(&self, room: RoomSummary);
    /// Publications may have been lost (the bus reconnected): re-read every subscribed room.
    fn resync(&self);
}

/// Carries committed events and lobby changes between nodes. See the module doc for its promises.
pub trait Bus: Send + Sync + 'static {
    /// Publishes one commit batch (events of any rooms, in commit order).
    fn publish(&self, events: Vec<Event>);
    /// Tells every node, this one included, that a room's summary changed.
    fn publish_room_changed(&self, room: RoomSummary);
    /// Starts receiving `room`'s events on this node; resolves once the subscription is active.
    /// Called when the room's first local member arrives; calling it twice is harmless.
    fn subscribe(&self, room: RoomId) -> BoxFuture<Result<()>>;
    /// Stops receiving `room`'s events (its last local member left).
    fn unsubscribe(&self, room: RoomId);
}

/// The [`EventSink`] of a node: what its store committed, and the room changes its chat service
/// reports, go on the bus.
pub struct Publisher(pub Arc<dyn Bus>);

impl EventSink for Publisher {
    fn committed(&self, events: Vec<Event>) {
        self.0.publish(events);
    }

    fn room_changed(&self, room: &RoomSummary) {
        self.0.publish_room_changed(room.clone());
    }
}

/// The bus of a single node: publications go straight to the node's own inbox.
pub struct LocalBus {
    inbox: OnceLock<Arc<dyn Inbox>>,
}

impl LocalBus {
    pub fn new() -> Arc<Self> {
        Arc::new(LocalBus { inbox: OnceLock::new() })
    }

    /// Connects the bus to the node's inbox (once, at start-up: the inbox usually needs the store,
    /// and the store needs the bus).
    pub fn attach(&self, inbox: Arc<dyn Inbox>) {
        let _ = self.inbox.set(inbox);
    }
}

impl Bus for LocalBus {
    fn publish(&self, events: Vec<Event>) {
        if let Some(inbox) = self.inbox.get() {
            for (room, events) in by_room(events) {
                inbox.events(room, events);
            }
        }
    }

    fn publish_room_changed(&self, room: RoomSummary) {
        if let Some(inbox) = self.inbox.get() {
            inbox.room_changed(room);
        }
    }

    fn subscribe(&self, _room: RoomId) -> BoxFuture<Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn unsubscribe(&self, _room: RoomId) {}
}

/// Splits a commit batch into runs of one room each, keeping commit order within every room.
pub fn by_room(events: Vec<Event>) -> Vec<(RoomId, Vec<Event>)> {
    let mut out: Vec<(RoomId, Vec<Event>)> = Vec::new();
    for event in events {
        match out.iter_mut().find(|(room, _)| *room == event.room_id) {
            Some((_, run)) => run.push(event),
            None => out.push((event.room_id, vec![event])),
        }
    }
    out
}

/// One publication as it crosses between nodes: the publishing node (so it can skip its own echo),
/// the room, and that room's events in commit order. Serialised once by the publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    pub node: NodeId,
    pub room_id: RoomId,
    pub events: Vec<Event>,
}

impl Wire {
    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings and numbers always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a publication; every event gets the wire's room id (the canonical JSON leaves it out).
    pub fn decode(bytes: &[u8]) -> Result<Wire> {
        let mut wire: Wire = serde_json::from_slice(bytes)
            .map_err(|e| ChatError::internal(format!("undecodable publication on the bus: {e}")))?;
        for event in &mut wire.events {
            event.room_id = wire.room_id;
        }
        Ok(wire)
    }
}

/// A lobby change as it crosses between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRoom {
    pub node: NodeId,
    pub room: RoomSummary,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventBody;
    use crate::model::{ActorId, ActorRef};

    fn ev(room_id: RoomId, seq: i64) -> Event {
        Event {
            room: format!("r{room_id}"),
            room_id,
            seq,
            at: 0,
            actor: ActorRef { id: ActorId::from("g_a".to_string()), name: "a".into() },
            body: EventBody::Join,
        }
    }

    #[test]
    fn a_batch_splits_by_room_in_commit_order() {
        let runs = by_room(vec![ev(1, 1), ev(2, 7), ev(1, 2), ev(2, 8), ev(1, 3)]);
        let seqs: Vec<(RoomId, Vec<i64>)> =
            runs.into_iter().map(|(r, evs)| (r, evs.iter().map(|e| e.seq).collect())).collect();
        assert_eq!(seqs, vec![(1, vec![1, 2, 3]), (2, vec![7, 8])]);
    }

    #[test]
    fn the_wire_form_carries_the_room_id() {
        let wire = Wire { node: "n1".into(), room_id: 42, events: vec![ev(42, 5)] };
        let back = Wire::decode(&wire.encode()).unwrap();
        assert_eq!(back.events[0].room_id, 42, "restored from the wire's room id");
        assert_eq!(back, wire);
        assert!(Wire::decode(b"{not json").is_err());
    }
}
