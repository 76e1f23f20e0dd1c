//! The lobby: the list of rooms and their live member counts, for every connection that shows it.
//!
//! It is fed by one notice, whatever protocol caused it: a room created over `/ws` reaches
//! Socket.IO clients as `update_rooms` exactly like one created over Socket.IO, because the lobby
//! hands a protocol-neutral [`LobbyChange`] to every lobby subscriber and each transport's encoder
//! decides what its clients see. Updates that carry the whole list are coalesced over
//! [`LIST_DELAY`]: the seed vocabulary sends every name each time, and a burst of n creations
//! answered one by one would cost n² names per client.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use confab_core::model::{RoomKind, RoomSummary};
use confab_core::presence::ConnId;
use parking_lot::Mutex;

use crate::conn::{ConnShared, Encoded, LobbyChange, Outbound};

/// How long whole-list updates (the lobby's names, a room's members) wait, so that a burst of
/// changes sends one list to each client.
pub const LIST_DELAY: Duration = Duration::from_millis(50);

#[derive(Default)]
pub struct Lobby {
    subs: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Every room's name, sorted case-insensitively.
    names: Mutex<Vec<String>>,
    /// Rooms created since the last whole-list update; `Some` while one is scheduled.
    due: Mutex<Option<Vec<RoomSummary>>>,
}

impl Lobby {
    pub fn subscribe(&self, conn: &Arc<ConnShared>) {
        self.subs.lock().insert(conn.id, Arc::clone(conn));
    }

    pub fn forget(&self, conn: ConnId) {
        self.subs.lock().remove(&conn);
    }

    /// Records a public room's name; returns whether it was new.
    pub fn known_room(&self, name: &str) -> bool {
        let mut names = self.names.lock();
        if names.iter().any(|n| n == name) {
            return false;
        }
        names.push(name.to_string());
        names.sort_by_key(|n| n.to_lowercase());
        true
    }

    /// A room's summary changed somewhere in the cluster. A new member count goes out at once; a
    /// new room goes out with the whole list of names, once per burst.
    ///
    /// Only public rooms are in the lobby: a private room or a direct conversation is invisible to
    /// non-members, and every lobby subscriber gets the same shared frames, so their changes are not
    /// announced at all (members find them in their own `rooms` answer, `GET /api/rooms`).
    pub fn room_changed(self: &Arc<Self>, room: RoomSummary) {
        if room.kind != RoomKind::Public {
            return;
        }
        if self.known_room(&room.name) {
            self.schedule(Some(room));
        } else {
            self.offer(LobbyChange { rooms: vec![room], names: None });
        }
    }

    /// Sends the whole list of rooms to every lobby subscriber (once per burst), as the seed's
    /// `create_room` does even for a room that already existed.
    pub fn announce(self: &Arc<Self>) {
        self.schedule(None);
    }

    fn schedule(self: &Arc<Self>, created: Option<RoomSummary>) {
        let mut due = self.due.lock();
        let first = due.is_none();
        due.get_or_insert_with(Vec::new).extend(created);
        if !first {
            return;
        }
        let lobby: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(LIST_DELAY).await;
            let Some(lobby) = lobby.upgrade() else { return };
            let rooms = lobby.due.lock().take().unwrap_or_default();
            let names = lobby.names.lock().clone();
            lobby.offer(LobbyChange { rooms, names: Some(names) });
        });
    }

    fn offer(&self, change: LobbyChange) {
        let change = Encoded::new(change);
        for conn in self.subs.lock().values() {
            conn.offer(Outbound::Lobby(Arc::clone(&change)));
        }
    }
}
