//! What `Chat` does with what the roster finds by itself: the `disconnected` leaves of a dead
//! node's members, and arriving this node's members again after the roster forgot them.

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Weak;

use tokio::sync::mpsc::UnboundedReceiver;

use super::Chat;
use crate::event::LeaveReason;
use crate::model::{Room, RoomId};
use crate::roster::{Departed, Found};
use crate::store::NewEvent;

/// Acts on what the roster found by itself, until the chat service or the roster goes away.
pub(super) async fn act_on(chat: Weak<Chat>, mut found: UnboundedReceiver<Found>) {
    while let Some(item) = found.recv().await {
        let Some(chat) = chat.upgrade() else { return };
        match item {
            Found::Departed(gone) => chat.announce_departed(gone).await,
            Found::Forgotten { announced } => chat.arrive_again(announced).await,
        }
    }
}

impl Chat {
    /// Appends the `disconnected` leave of an actor whose node died.
    async fn announce_departed(&self, gone: Departed) {
        let Some(room) = self.room_by_id(gone.room_id, &gone.room_name).await else { return };
        let pending = {
            let _gate = self.gate.enter(room.id, &gone.actor.id).await;
            // It came back here after the reaper departed it: its join is (or will be) announced
            // from here; a leave now would list it as gone while it is connected.
            if self.presence.has(room.id, &gone.actor.id) {
                return;
            }
            self.store.append(&room, gone.actor, NewEvent::Leave { reason: LeaveReason::Disconnected })
        };
        if let Err(e) = pending.await {
            tracing::warn!(room = %room.name, error = %e, "could not store a dead node's leave");
        }
        self.sink.room_changed(&self.room_summary(&room).await);
    }

    /// The roster forgot this node's members: arrive each again, announcing the joins of those whose
    /// leaves were announced meanwhile.
    async fn arrive_again(&self, announced: bool) {
        let entries = self.presence.entries();
        tracing::warn!(members = entries.len(), announced, "the roster forgot this node's members; arriving them again");
        let mut rooms = HashMap::new();
        for (room_id, room_name, actor) in entries {
            if let Entry::Vacant(slot) = rooms.entry(room_id) {
                let Some(room) = self.room_by_id(room_id, &room_name).await else { continue };
                slot.insert(room);
            }
            let Some(room) = rooms.get(&room_id) else { continue };
            let pending = {
                let _gate = self.gate.enter(room.id, &actor.id).await;
                if !self.presence.has(room.id, &actor.id) {
                    continue;
                }
                match self.roster.arrive(room, &actor).await {
                    Ok(true) if announced => Some(self.store.append(room, actor, NewEvent::Join)),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::error!(room = %room.name, error = %e, "could not arrive a member again");
                        None
                    }
                }
            };
            if let Some(pending) = pending {
                if let Err(e) = pending.await {
                    tracing::warn!(room = %room.name, error = %e, "could not store a join");
                }
                self.sink.room_changed(&self.room_summary(room).await);
            }
        }
    }

    pub(super) async fn room_by_id(&self, id: RoomId, name: &str) -> Option<Room> {
        match self.store.room(name).await {
            Ok(Some(room)) if room.id == id => Some(room),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(room = %name, error = %e, "could not read a room");
                None
            }
        }
    }
}
