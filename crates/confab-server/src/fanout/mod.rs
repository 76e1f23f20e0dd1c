//! In-process fan-out: which connections are subscribed to which room, and the dispatcher that
//! hands each committed event to them.
//!
//! The store calls [`Hub::committed`] (as its [`EventSink`]) after each commit, in commit order; the
//! events cross to one dispatcher task, which encodes each event once and offers it to every
//! subscriber's bounded queue. A full queue disconnects that subscriber as a slow consumer; it never
//! drops the event for it silently, and it never blocks the others. Transports subscribe by room and
//! hold no chat rules. A Redis-backed hub for several nodes will implement the same `subscribe` /
//! `unsubscribe` / `EventSink` surface, carrying the already-serialised events between nodes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use confab_core::event::EventBody;
use confab_core::model::{RoomId, RoomSummary};
use confab_core::presence::{ConnId, Presence};
use confab_core::store::EventSink;
use confab_core::Event;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::conn::{ConnShared, Delivery, Outbound, Proto};

pub struct Hub {
    rooms: RwLock<HashMap<RoomId, Vec<Arc<ConnShared>>>>,
    /// Native connections that asked for lobby updates.
    lobby: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Every Socket.IO connection: the seed broadcasts `update_rooms` to all of them.
    socketio: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Rooms whose Socket.IO member list is due to be sent (see [`MEMBER_LIST_DELAY`]).
    member_lists_due: Mutex<HashSet<RoomId>>,
    /// Whether an `update_rooms` broadcast is due.
    rooms_announce_due: Mutex<bool>,
    /// All room names, for Socket.IO's `update_rooms`.
    room_names: Mutex<Vec<String>>,
    presence: Arc<Presence>,
    dispatch: mpsc::UnboundedSender<Vec<Event>>,
}

/// Encodes an event once for every protocol that reads it.
pub fn delivery(event: Event) -> Arc<Delivery> {
    let native = crate::native::frames::event(&event);
    Arc::new(Delivery { event, native, socketio: OnceLock::new() })
}

/// How long Socket.IO's whole-list updates (`update_users` after a join or leave, `update_rooms` after
/// `create_room`) wait, so that a burst sends one list to each client instead of one per change (the
/// seed vocabulary sends the whole list each time: n joins would cost n² lists of up to n names).
const MEMBER_LIST_DELAY: Duration = Duration::from_millis(50);

impl Hub {
    /// Creates the hub and starts its dispatcher task (call inside the tokio runtime).
    pub fn start(presence: Arc<Presence>, room_names: Vec<String>) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Event>>();
        let hub = Arc::new(Hub {
            rooms: RwLock::new(HashMap::new()),
            lobby: Mutex::new(HashMap::new()),
            socketio: Mutex::new(HashMap::new()),
            room_names: Mutex::new(room_names),
            member_lists_due: Mutex::new(HashSet::new()),
            rooms_announce_due: Mutex::new(false),
            presence,
            dispatch: tx,
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            let mut batches = Vec::new();
            while rx.recv_many(&mut batches, 64).await > 0 {
                let Some(hub) = weak.upgrade() else { break };
                for batch in batches.drain(..) {
                    for event in batch {
                        hub.dispatch(event);
                    }
                }
            }
        });
        hub
    }

    fn dispatch(self: &Arc<Self>, event: Event) {
        if matches!(event.body, EventBody::Join | EventBody::Leave { .. }) {
            self.member_list_changed(event.room_id);
        }
        let d = delivery(event);
        let rooms = self.rooms.read();
        if let Some(subs) = rooms.get(&d.event.room_id) {
            for sub in subs {
                sub.offer(Outbound::Event(Arc::clone(&d)));
            }
        }
    }

    /// Schedules one `update_users` for the room's Socket.IO members, unless one is already due.
    fn member_list_changed(self: &Arc<Self>, room: RoomId) {
        if !self.member_lists_due.lock().insert(room) {
            return;
        }
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(MEMBER_LIST_DELAY).await;
            if let Some(hub) = hub.upgrade() {
                hub.member_lists_due.lock().remove(&room);
                let names: Vec<String> = hub.presence.members(room).into_iter().map(|m| m.name).collect();
                let frame = crate::socketio::encode::update_users(&names);
                let rooms = hub.rooms.read();
                for sub in rooms.get(&room).into_iter().flatten().filter(|s| s.proto == Proto::SocketIo) {
                    sub.offer(Outbound::Frame(frame.clone()));
                }
            }
        });
    }

    /// Sends every Socket.IO client the list of room names (the seed's `update_rooms`, after
    /// `create_room`), once for a burst of creations.
    pub fn announce_rooms(self: &Arc<Self>) {
        if std::mem::replace(&mut *self.rooms_announce_due.lock(), true) {
            return;
        }
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(MEMBER_LIST_DELAY).await;
            if let Some(hub) = hub.upgrade() {
                *hub.rooms_announce_due.lock() = false;
                Hub::broadcast(&hub.socketio, crate::socketio::encode::update_rooms(&hub.room_names()));
            }
        });
    }

    pub fn subscribe(&self, room: RoomId, conn: &Arc<ConnShared>) {
        let mut rooms = self.rooms.write();
        let subs = rooms.entry(room).or_default();
        if !subs.iter().any(|s| s.id == conn.id) {
            subs.push(Arc::clone(conn));
        }
    }

    pub fn unsubscribe(&self, room: RoomId, conn: ConnId) {
        let mut rooms = self.rooms.write();
        if let Some(subs) = rooms.get_mut(&room) {
            subs.retain(|s| s.id != conn);
            if subs.is_empty() {
                rooms.remove(&room);
            }
        }
    }

    pub fn subscribe_lobby(&self, conn: &Arc<ConnShared>) {
        self.lobby.lock().insert(conn.id, Arc::clone(conn));
    }

    pub fn register_socketio(&self, conn: &Arc<ConnShared>) {
        self.socketio.lock().insert(conn.id, Arc::clone(conn));
    }

    /// Forgets a connection everywhere but in rooms (the transport leaves those itself).
    pub fn forget(&self, conn: ConnId) {
        self.lobby.lock().remove(&conn);
        self.socketio.lock().remove(&conn);
    }

    /// Records a room that exists (at start-up); returns whether it was new.
    pub fn known_room(&self, name: String) -> bool {
        let mut names = self.room_names.lock();
        if names.iter().any(|n| *n == name) {
            return false;
        }
        names.push(name);
        names.sort_by_key(|n| n.to_lowercase());
        true
    }

    pub fn room_names(&self) -> Vec<String> {
        self.room_names.lock().clone()
    }

    fn broadcast(targets: &Mutex<HashMap<ConnId, Arc<ConnShared>>>, frame: Utf8Bytes) {
        for conn in targets.lock().values() {
            conn.offer(Outbound::Frame(frame.clone()));
        }
    }
}

impl EventSink for Hub {
    fn committed(&self, events: Vec<Event>) {
        // The dispatcher only stops with the hub, when nothing is left to deliver to.
        let _ = self.dispatch.send(events);
    }

    fn room_changed(&self, room: &RoomSummary) {
        self.known_room(room.name.clone());
        Hub::broadcast(&self.lobby, crate::native::frames::room_update(room));
    }
}
