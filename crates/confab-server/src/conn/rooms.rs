//! The rooms one connection has joined, and the steps of joining and leaving that both protocols share.
//!
//! Joining is where order is delicate: the connection announces `Subscribing` to its own queue *before*
//! the hub starts sending it the room's events, and the chat service reads the room's top sequence
//! after that, so the sequencer can hold live events until the join is answered and nothing falls
//! between the answer (and its replay) and the live stream. Every path out of a join that subscribed
//! ends with either `Joined` or `Left` in the queue, so the sequencer never holds events forever.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_core::chat::Joined;
use confab_core::model::{Actor, Room, Seq};
use confab_core::presence::ConnId;
use confab_core::{ChatError, ErrorCode, Event};

use super::vecmap::VecMap;
use super::{ConnShared, Encoded, JoinAnswer, Outbound};
use crate::app::App;

#[derive(Default)]
pub struct JoinedRooms {
    /// By lower-cased name (room names are unique regardless of case).
    rooms: VecMap<String, Room>,
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl JoinedRooms {
    pub fn contains(&self, room: &Room) -> bool {
        self.rooms.contains_key(key(&room.name).as_str())
    }

    /// The joined room with this name: otherwise `not_joined` for a room the actor may see,
    /// `forbidden` where it is banned, and `room_not_found` (the same answer as for a missing room)
    /// for one it may not see.
    pub async fn get(&self, app: &App, actor: Option<&Actor>, name: &str) -> Result<Room, ChatError> {
        // The name as the store keys it (NFC, trimmed), so that `café` typed either way is one room.
        let name = confab_core::model::room_name(name)?;
        let name = name.as_str();
        if let Some(room) = self.rooms.get(key(name).as_str()) {
            return Ok(room.clone());
        }
        Err(app.chat.not_joined(actor, name).await)
    }

    /// Subscribes the connection to `room` and joins it (again, with `since`, to re-synchronise). On
    /// success the caller must queue the answer with [`JoinedRooms::answer`]; on failure the
    /// subscription is undone, and a connection that was already in the room leaves it.
    pub async fn join(
        &mut self,
        app: &App,
        conn: &Arc<ConnShared>,
        actor: &Actor,
        room: &Room,
        since: Option<Seq>,
    ) -> Result<Joined, ChatError> {
        let limit = app.chat.limits.max_rooms_per_connection;
        let rejoin = self.contains(room);
        if !rejoin && self.rooms.len() >= limit {
            return Err(ChatError::new(ErrorCode::TooManyRooms, format!("a connection joins at most {limit} rooms")));
        }
        let role = app.chat.may_join(actor, room).await?;
        conn.send(Outbound::Subscribing(room.id)).await;
        let joined = match app.hub.subscribe(room.id, conn).await {
            Ok(()) => app.chat.join(actor, conn.id, room, role, since).await,
            Err(e) => Err(e),
        };
        match joined {
            Ok(joined) => {
                self.rooms.insert(key(&room.name), room.clone());
                Ok(joined)
            }
            Err(e) => {
                app.hub.unsubscribe(room.id, conn.id);
                conn.send(Outbound::Left(room.id)).await;
                if rejoin {
                    // The connection's place in the room's stream is gone: a failed re-join leaves.
                    self.rooms.remove(key(&room.name).as_str());
                    let _ = app.chat.leave(actor, conn.id, room).await;
                }
                Err(e)
            }
        }
    }

    /// Queues the join's answer: `ack` (if the protocol has one), then `replay`, then live events
    /// after `after`.
    pub async fn answer(conn: &ConnShared, room: &Room, ack: Option<Utf8Bytes>, replay: Vec<Event>, after: Seq) {
        let replay = replay.into_iter().map(Encoded::new).collect();
        conn.send(Outbound::Joined(Box::new(JoinAnswer { room: room.id, ack, replay, after }))).await;
    }

    /// An explicit leave, announced to the room if it was the actor's last connection there.
    pub async fn leave(&mut self, app: &App, conn: &ConnShared, actor: &Actor, name: &str) -> Result<(), ChatError> {
        let room = self.get(app, Some(actor), name).await?;
        self.rooms.remove(key(&room.name).as_str());
        app.hub.unsubscribe(room.id, conn.id);
        conn.send(Outbound::Left(room.id)).await;
        app.chat.leave(actor, conn.id, &room).await
    }

    /// A kick or ban of the connection's actor was delivered in these rooms (and the writer delivers
    /// nothing more of them): the connection leaves them, as if it had asked to. The leave is
    /// announced if it was the actor's last connection there, so every member list drops it.
    pub async fn evict(&mut self, app: &App, conn: &ConnShared, actor: &Actor, rooms: &[confab_core::model::RoomId]) {
        for id in rooms {
            let Some(room) = self.rooms.values().find(|r| r.id == *id).cloned() else { continue };
            self.rooms.remove(key(&room.name).as_str());
            app.hub.unsubscribe(room.id, conn.id);
            conn.send(Outbound::Left(room.id)).await;
            if let Err(e) = app.chat.leave(actor, conn.id, &room).await {
                tracing::debug!(room = %room.name, error = %e, "leave after a kick or ban");
            }
        }
    }

    /// The connection ended: unsubscribe from every room, and let the chat service announce the leaves
    /// after the grace period.
    pub fn release(&mut self, app: &App, conn: ConnId, actor: Option<&Actor>) {
        app.hub.forget(conn);
        let rooms: Vec<Room> = self.rooms.drain().map(|(_, r)| r).collect();
        for room in &rooms {
            app.hub.unsubscribe(room.id, conn);
        }
        if let Some(actor) = actor {
            app.chat.disconnected(actor, conn, rooms);
        }
    }
}
