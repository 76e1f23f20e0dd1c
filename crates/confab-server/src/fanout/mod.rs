//! In-process fan-out: which connections are subscribed to which room, and the dispatcher that
//! hands each committed event to them.
//!
//! The store calls [`Hub::committed`] (as its [`EventSink`]) after each commit, in commit order; the
//! events cross to one dispatcher task, which encodes each event once and offers it to every
//! subscriber's bounded queue. A full queue disconnects that subscriber as a slow consumer; it never
//! drops the event for it silently, and it never blocks the others. Transports subscribe by room and
//! hold no chat rules. A Redis-backed hub for several nodes will implement the same `subscribe` /
//! `unsubscribe` / `EventSink` surface, carrying the already-serialised events between nodes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use confab_core::event::EventBody;
use confab_core::model::{RoomId, RoomSummary};
use confab_core::presence::{ConnId, Presence};
use confab_core::store::EventSink;
use confab_core::Event;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::conn::{ConnShared, Delivery, Outbound};

pub struct Hub {
    rooms: RwLock<HashMap<RoomId, Vec<Arc<ConnShared>>>>,
    /// Native connections that asked for lobby updates.
    lobby: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Every Socket.IO connection: the seed broadcasts `update_rooms` to all of them.
    socketio: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// All room names, for Socket.IO's `update_rooms`.
    room_names: Mutex<Vec<String>>,
    presence: Arc<Presence>,
    dispatch: mpsc::UnboundedSender<Vec<Event>>,
}

/// Encodes an event once for every protocol that reads it.
pub fn delivery(event: Event, members: Option<Vec<String>>) -> Arc<Delivery> {
    let native = crate::native::frames::event(&event);
    Arc::new(Delivery { event, native, members, socketio: OnceLock::new() })
}

impl Hub {
    /// Creates the hub and starts its dispatcher task (call inside the tokio runtime).
    pub fn start(presence: Arc<Presence>, room_names: Vec<String>) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Event>>();
        let hub = Arc::new(Hub {
            rooms: RwLock::new(HashMap::new()),
            lobby: Mutex::new(HashMap::new()),
            socketio: Mutex::new(HashMap::new()),
            room_names: Mutex::new(room_names),
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

    fn dispatch(&self, event: Event) {
        let members = matches!(event.body, EventBody::Join | EventBody::Leave { .. })
            .then(|| self.presence.members(event.room_id).into_iter().map(|m| m.name).collect());
        let d = delivery(event, members);
        let rooms = self.rooms.read();
        if let Some(subs) = rooms.get(&d.event.room_id) {
            for sub in subs {
                sub.offer(Outbound::Event(Arc::clone(&d)));
            }
        }
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
    fn committed(&self, events: &[Event]) {
        // The dispatcher only stops with the hub, when nothing is left to deliver to.
        let _ = self.dispatch.send(events.to_vec());
    }

    fn room_changed(&self, room: &RoomSummary) {
        let created = self.known_room(room.name.clone());
        Hub::broadcast(&self.lobby, crate::native::frames::room_update(room));
        if created {
            Hub::broadcast(&self.socketio, crate::socketio::encode::update_rooms(&self.room_names()));
        }
    }
}
