//! The presence contract across a cluster: who is in which room on *any* node.
//!
//! [`Presence`](crate::presence::Presence) tracks this node's connections and the leave grace
//! period; a [`Roster`] counts actors across nodes and decides what [`Chat`](crate::Chat) announces.
//! `Chat` calls [`Roster::arrive`] when an actor becomes present on this node (its first connection
//! in the room here, outside a grace period) and [`Roster::depart`] when it stops being present here
//! (an explicit leave of its last connection, or a grace period that ran out).
//!
//! What a `Roster` promises:
//! - **One member per actor.** An actor connected through several nodes is one member, listed once,
//!   in the order it first arrived anywhere.
//! - **Announced once.** `arrive` answers true only for the arrival that made the actor present in
//!   the cluster, `depart` true only for the departure that made it absent: the caller appends the
//!   join or the leave exactly when told to.
//! - **A dead node's members depart.** When a node stops (even `kill -9`), its members' departures
//!   are found after a timeout by a survivor and handed out once, cluster-wide, through
//!   [`Roster::found`], for that node to append as `disconnected` leaves.
//! - **Forgetting is told.** When the roster stops counting this node's members while the node still
//!   runs (it was cut off past the timeout and counted dead, or the roster's storage lost its data),
//!   it says so through [`Roster::found`], and the node arrives its members again.
//! - Per (room, actor) the node's own calls are applied in the order it made them; `Chat` makes them
//!   one at a time for each pair, so its join and leave events for one actor stay in order.
//!
//! [`LocalRoster`] is the implementation for one node; `confab-bus-redis` has the cluster one.

use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::error::Result;
use crate::model::{ActorId, ActorRef, Room, RoomId};

/// What a roster found by itself, for this node to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The actor's node stopped and no other node holds it: append a `disconnected` leave.
    Departed(Departed),
    /// The roster no longer counts this node's members: arrive every one of them again. When
    /// `announced`, their leaves were announced (the node was counted dead), so each arrival that
    /// is first in the cluster appends a join; otherwise nothing was announced and none is.
    Forgotten { announced: bool },
}

/// An actor that left a room because the node it was on stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    pub room_id: RoomId,
    /// The room's name, so the announcing node can find the room in the store.
    pub room_name: String,
    pub actor: ActorRef,
}

#[async_trait]
pub trait Roster: Send + Sync + 'static {
    /// `actor` is now present in `room` on this node. True when it was present on no node before:
    /// announce the join.
    async fn arrive(&self, room: &Room, actor: &ActorRef) -> Result<bool>;
    /// `actor` is no longer present in `room` on this node. True when it is now present on no node:
    /// announce the leave. False also when this node did not hold it (already counted as departed).
    async fn depart(&self, room: &Room, actor: &ActorId) -> Result<bool>;
    /// The room's members on every node, in the order they arrived.
    async fn members(&self, room: RoomId) -> Result<Vec<ActorRef>>;
    /// Each room's member count across the cluster, in the order of `rooms`.
    async fn counts(&self, rooms: &[RoomId]) -> Result<Vec<usize>>;
    /// What the roster finds by itself (dead nodes' departures, this node forgotten). Taken once, by
    /// `Chat`; `None` for a roster that never finds anything (one node).
    fn found(&self) -> Option<mpsc::UnboundedReceiver<Found>> {
        None
    }
}

/// The roster of a single node: an actor is a member while this node holds it.
#[derive(Default)]
pub struct LocalRoster {
    rooms: Mutex<HashMap<RoomId, Members>>,
}

#[derive(Default)]
struct Members {
    /// actor -> (display name, arrival number)
    actors: HashMap<ActorId, (String, u64)>,
    arrivals: u64,
}

#[async_trait]
impl Roster for LocalRoster {
    async fn arrive(&self, room: &Room, actor: &ActorRef) -> Result<bool> {
        let mut rooms = self.rooms.lock();
        let members = rooms.entry(room.id).or_default();
        if members.actors.contains_key(&actor.id) {
            return Ok(false);
        }
        members.arrivals += 1;
        let order = members.arrivals;
        members.actors.insert(actor.id.clone(), (actor.name.clone(), order));
        Ok(true)
    }

    async fn depart(&self, room: &Room, actor: &ActorId) -> Result<bool> {
        let mut rooms = self.rooms.lock();
        let Some(members) = rooms.get_mut(&room.id) else { return Ok(false) };
        let was = members.actors.remove(actor).is_some();
        if members.actors.is_empty() {
            rooms.remove(&room.id);
        }
        Ok(was)
    }

    async fn members(&self, room: RoomId) -> Result<Vec<ActorRef>> {
        let rooms = self.rooms.lock();
        let Some(members) = rooms.get(&room) else { return Ok(Vec::new()) };
        let mut list: Vec<(u64, ActorRef)> = members
            .actors
            .iter()
            .map(|(id, (name, order))| (*order, ActorRef { id: id.clone(), name: name.clone() }))
            .collect();
        list.sort_by_key(|(order, _)| *order);
        Ok(list.into_iter().map(|(_, a)| a).collect())
    }

    async fn counts(&self, rooms: &[RoomId]) -> Result<Vec<usize>> {
        let known = self.rooms.lock();
        Ok(rooms.iter().map(|r| known.get(r).map_or(0, |m| m.actors.len())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoomKind;

    fn room() -> Room {
        Room { id: 1, name: "general".into(), kind: RoomKind::Public, created_at: 0, top_seq: 0 }
    }

    fn actor(name: &str) -> ActorRef {
        ActorRef { id: ActorId::from(format!("g_{name}")), name: name.into() }
    }

    #[tokio::test]
    async fn first_arrival_and_last_departure_are_announced() {
        let r = LocalRoster::default();
        assert!(r.arrive(&room(), &actor("sam")).await.unwrap());
        assert!(!r.arrive(&room(), &actor("sam")).await.unwrap(), "already a member");
        assert!(r.arrive(&room(), &actor("ada")).await.unwrap());
        let names: Vec<String> = r.members(1).await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["sam", "ada"], "arrival order");
        assert_eq!(r.counts(&[1, 2]).await.unwrap(), [2, 0]);
        assert!(r.depart(&room(), &actor("sam").id).await.unwrap());
        assert!(!r.depart(&room(), &actor("sam").id).await.unwrap(), "departed once");
        assert!(r.found().is_none());
    }
}
