//! Who is live in which room, on this node.
//!
//! An actor is present in a room while at least one of its connections has joined it. A connection
//! that drops does not remove its actor at once: the entry stays (with no connections) for the leave
//! grace period, so that a reconnect within it is neither announced as a leave nor as a new join.
//! Each change bumps the entry's `epoch`, so a grace timer can tell that it is stale.
//!
//! Whether a change is *announced* is the [`Roster`](crate::roster::Roster)'s decision, which may
//! take a round trip to Redis; [`Gate`] makes each (room, actor) pair's presence changes, roster
//! calls and appends happen one at a time, so a join can never be queued after the leave that
//! followed it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::model::{ActorId, ActorRef, Room, RoomId};

/// Identifies one client connection on this node, on either protocol.
pub type ConnId = u64;

#[derive(Default)]
pub struct Presence {
    rooms: Mutex<HashMap<RoomId, RoomLive>>,
}

#[derive(Default)]
struct RoomLive {
    /// The room's name, so that presence can be re-announced by room after the roster lost it.
    name: String,
    actors: HashMap<ActorId, Live>,
    /// Gives each arrival an order, so member lists show people in the order they came.
    arrivals: u64,
}

struct Live {
    name: String,
    conns: Vec<ConnId>,
    order: u64,
    epoch: u64,
}

/// What [`Presence::exit`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// The actor's last connection left: announce it.
    Last,
    /// Another connection of the actor is still in the room.
    Remaining,
    /// This connection was not in the room.
    NotThere,
}

impl Presence {
    /// Adds `conn` to the room. `on_first` runs, under the presence lock, when the actor was not
    /// already present (nor within a grace period), so the caller can queue the join event in the
    /// same order as the presence change.
    pub fn enter<T>(&self, room: &Room, actor: &ActorRef, conn: ConnId, on_first: impl FnOnce() -> T) -> Option<T> {
        let mut rooms = self.rooms.lock();
        let live = rooms.entry(room.id).or_insert_with(|| RoomLive { name: room.name.clone(), ..RoomLive::default() });
        let order = live.arrivals;
        match live.actors.get_mut(&actor.id) {
            Some(entry) => {
                entry.epoch += 1;
                if !entry.conns.contains(&conn) {
                    entry.conns.push(conn);
                }
                None
            }
            None => {
                live.arrivals += 1;
                live.actors.insert(
                    actor.id.clone(),
                    Live { name: actor.name.clone(), conns: vec![conn], order, epoch: 0 },
                );
                Some(on_first())
            }
        }
    }

    /// Removes `conn` at once (an explicit leave). `on_last` runs under the lock when it was the
    /// actor's last connection.
    pub fn exit<T>(&self, room: RoomId, actor: &ActorId, conn: ConnId, on_last: impl FnOnce() -> T) -> (Exit, Option<T>) {
        let mut rooms = self.rooms.lock();
        let Some(live) = rooms.get_mut(&room) else { return (Exit::NotThere, None) };
        let Some(entry) = live.actors.get_mut(actor) else { return (Exit::NotThere, None) };
        let Some(pos) = entry.conns.iter().position(|c| *c == conn) else { return (Exit::NotThere, None) };
        entry.conns.swap_remove(pos);
        entry.epoch += 1;
        if !entry.conns.is_empty() {
            return (Exit::Remaining, None);
        }
        live.actors.remove(actor);
        if live.actors.is_empty() {
            rooms.remove(&room);
        }
        (Exit::Last, Some(on_last()))
    }

    /// Removes a dropped connection but keeps the actor present. Returns the epoch to pass to
    /// [`Presence::expire`] after the grace period when that was the actor's last connection.
    pub fn drop_conn(&self, room: RoomId, actor: &ActorId, conn: ConnId) -> Option<u64> {
        let mut rooms = self.rooms.lock();
        let entry = rooms.get_mut(&room)?.actors.get_mut(actor)?;
        let pos = entry.conns.iter().position(|c| *c == conn)?;
        entry.conns.swap_remove(pos);
        entry.epoch += 1;
        entry.conns.is_empty().then_some(entry.epoch)
    }

    /// Ends a grace period: if nothing changed since `epoch`, the actor leaves and `on_leave` runs
    /// under the lock.
    pub fn expire<T>(&self, room: RoomId, actor: &ActorId, epoch: u64, on_leave: impl FnOnce() -> T) -> Option<T> {
        let mut rooms = self.rooms.lock();
        let live = rooms.get_mut(&room)?;
        let entry = live.actors.get(actor)?;
        if entry.epoch != epoch || !entry.conns.is_empty() {
            return None;
        }
        live.actors.remove(actor);
        if live.actors.is_empty() {
            rooms.remove(&room);
        }
        Some(on_leave())
    }

    /// Removes the actor from the room whatever its connections (the node is stopping). True when it
    /// was present.
    pub fn remove(&self, room: RoomId, actor: &ActorId) -> bool {
        let mut rooms = self.rooms.lock();
        let Some(live) = rooms.get_mut(&room) else { return false };
        let removed = live.actors.remove(actor).is_some();
        if live.actors.is_empty() {
            rooms.remove(&room);
        }
        removed
    }

    /// Whether the actor is present here, connected or within a grace period.
    pub fn has(&self, room: RoomId, actor: &ActorId) -> bool {
        self.rooms.lock().get(&room).is_some_and(|l| l.actors.contains_key(actor))
    }

    pub fn is_in(&self, room: RoomId, actor: &ActorId, conn: ConnId) -> bool {
        let rooms = self.rooms.lock();
        rooms
            .get(&room)
            .and_then(|l| l.actors.get(actor))
            .is_some_and(|e| e.conns.contains(&conn))
    }

    /// Members in the order they arrived.
    pub fn members(&self, room: RoomId) -> Vec<ActorRef> {
        let rooms = self.rooms.lock();
        let Some(live) = rooms.get(&room) else { return Vec::new() };
        let mut list: Vec<(&u64, ActorRef)> = live
            .actors
            .iter()
            .map(|(id, e)| (&e.order, ActorRef { id: id.clone(), name: e.name.clone() }))
            .collect();
        list.sort_by_key(|(order, _)| **order);
        list.into_iter().map(|(_, a)| a).collect()
    }

    /// Every (room id, room name, actor) present on this node, connected or within a grace period.
    pub fn entries(&self) -> Vec<(RoomId, String, ActorRef)> {
        let rooms = self.rooms.lock();
        let mut out = Vec::new();
        for (id, live) in rooms.iter() {
            for (actor, e) in &live.actors {
                out.push((*id, live.name.clone(), ActorRef { id: actor.clone(), name: e.name.clone() }));
            }
        }
        out
    }

    pub fn count(&self, room: RoomId) -> usize {
        self.rooms.lock().get(&room).map_or(0, |l| l.actors.len())
    }
}

type Locks = Arc<Mutex<HashMap<(RoomId, ActorId), Arc<tokio::sync::Mutex<()>>>>>;

/// One async lock per (room, actor) pair in use, held across a presence change, the roster call
/// that decides whether to announce it, and the append of the announcement (not its commit).
#[derive(Default)]
pub struct Gate {
    locks: Locks,
}

/// Holds one pair's gate; dropping it opens the gate (and forgets it when nobody else waits).
pub struct GateGuard {
    key: (RoomId, ActorId),
    locks: Locks,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Gate {
    pub async fn enter(&self, room: RoomId, actor: &ActorId) -> GateGuard {
        let key = (room, actor.clone());
        let lock = Arc::clone(self.locks.lock().entry(key.clone()).or_default());
        let guard = lock.lock_owned().await;
        GateGuard { key, locks: Arc::clone(&self.locks), guard: Some(guard) }
    }

    /// Pairs with a lock in use or waited for (for tests: the map does not grow without bound).
    pub fn in_use(&self) -> usize {
        self.locks.lock().len()
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        let mut locks = self.locks.lock();
        self.guard = None;
        // Only the map holds it now: nobody waits, so the entry can go.
        if locks.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general() -> Room {
        Room { id: 1, name: "general".into(), kind: Default::default(), created_at: 0, top_seq: 0 }
    }

    fn sam() -> ActorRef {
        ActorRef { id: ActorId::from("g_sam".to_string()), name: "sam".into() }
    }

    #[test]
    fn second_connection_is_not_a_second_join() {
        let p = Presence::default();
        assert_eq!(p.enter(&general(), &sam(), 10, || "join"), Some("join"));
        assert_eq!(p.enter(&general(), &sam(), 11, || "join"), None);
        assert_eq!(p.exit(1, &sam().id, 10, || "leave"), (Exit::Remaining, None));
        assert_eq!(p.exit(1, &sam().id, 11, || "leave"), (Exit::Last, Some("leave")));
        assert_eq!(p.count(1), 0);
    }

    #[test]
    fn reconnect_within_grace_cancels_the_leave() {
        let p = Presence::default();
        p.enter(&general(), &sam(), 10, || ());
        let epoch = p.drop_conn(1, &sam().id, 10).expect("last connection");
        assert_eq!(p.count(1), 1, "still listed during the grace period");
        assert_eq!(p.enter(&general(), &sam(), 12, || "join"), None, "no second join notice");
        assert_eq!(p.expire(1, &sam().id, epoch, || "leave"), None);
        let epoch = p.drop_conn(1, &sam().id, 12).unwrap();
        assert_eq!(p.expire(1, &sam().id, epoch, || "leave"), Some("leave"));
        assert!(p.members(1).is_empty());
        p.enter(&general(), &sam(), 13, || ());
        assert_eq!(p.entries(), vec![(1, "general".to_string(), sam())]);
    }

    #[tokio::test]
    async fn the_gate_serialises_one_pair_and_forgets_it_after() {
        let gate = Arc::new(Gate::default());
        let first = gate.enter(1, &sam().id).await;
        let other = gate.enter(2, &sam().id).await; // another room is another pair
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { drop(g.enter(1, &sam().id).await) });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the same pair waits");
        drop(first);
        waiter.await.unwrap();
        drop(other);
        assert_eq!(gate.in_use(), 0);
    }
}
