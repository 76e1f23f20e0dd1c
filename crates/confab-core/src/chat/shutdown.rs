//! What `Chat` does when its node stops gracefully: everyone still listed here, connected or within
//! a leave grace period, leaves at once with a `disconnected` leave (the reason a dropped connection
//! gets, so clients need no new vocabulary: to the others, the node's people dropped). Announced
//! now rather than after the grace period, the leaves reach the log and the cluster's roster before
//! the process exits, so a restart finds nobody listed and the other nodes do not wait for the
//! presence timeout.

use super::Chat;
use crate::event::LeaveReason;

impl Chat {
    /// Departs everyone present on this node from every room and waits until their leaves are
    /// stored. Returns how many leaves were stored. Call it once the node's connections are closed.
    pub async fn depart_everyone(&self) -> usize {
        let mut pending = Vec::new();
        for (room_id, room_name, actor) in self.presence.entries() {
            let Some(room) = self.room_by_id(room_id, &room_name).await else { continue };
            let _gate = self.gate.enter(room.id, &actor.id).await;
            if !self.presence.remove(room.id, &actor.id) {
                continue;
            }
            if let Some(leave) = self.depart(&room, actor, LeaveReason::Disconnected).await {
                pending.push((room, leave));
            }
        }
        let mut stored = 0;
        let mut rooms = Vec::new();
        // Each append was queued when `depart` returned, so they commit together; wait for each.
        for (room, leave) in pending {
            match leave.await {
                Ok(_) => stored += 1,
                Err(e) => tracing::warn!(room = %room.name, error = %e, "could not store a leave at shutdown"),
            }
            if !rooms.iter().any(|r: &crate::model::Room| r.id == room.id) {
                rooms.push(room);
            }
        }
        for room in &rooms {
            self.sink.room_changed(&self.room_summary(room).await);
        }
        stored
    }
}
