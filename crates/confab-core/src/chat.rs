//! The chat service: the rules every transport shares. A transport parses a request, calls one method
//! here with the connection's actor, and translates the result; it holds no chat rules of its own.

use std::sync::Arc;

use crate::authz::{authorize, Action, Standing};
use crate::error::{ChatError, ErrorCode, Result};
use crate::event::{Event, LeaveReason};
use crate::limits::Limits;
use crate::model::{self, Actor, ActorRef, Content, Role, Room, RoomKind, RoomSummary, Seq, StoredMessage};
use crate::presence::{ConnId, Exit, Presence};
use crate::store::{Appended, BoxFuture, EventRange, EventSink, MessageKey, NewEvent, Store};

pub struct Chat {
    store: Arc<dyn Store>,
    presence: Arc<Presence>,
    /// Told when a room's summary changes (created, member count), for lobby lists.
    sink: Arc<dyn EventSink>,
    pub limits: Limits,
}

/// What a connection gets when it joins a room.
#[derive(Debug)]
pub struct Joined {
    pub room: Room,
    pub role: Role,
    /// The room's top sequence when the connection joined: live events follow from `top_seq + 1`.
    pub top_seq: Seq,
    pub members: Vec<ActorRef>,
    /// Events after the client's `since`, up to `top_seq`, at most `max_replay`.
    pub replay: Vec<Event>,
    /// False when more than `max_replay` events were missed: the client pages the rest with history.
    pub complete: bool,
}

impl Chat {
    pub fn new(store: Arc<dyn Store>, presence: Arc<Presence>, sink: Arc<dyn EventSink>, limits: Limits) -> Arc<Self> {
        Arc::new(Chat { store, presence, sink, limits })
    }

    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    // ---- identity

    pub async fn create_guest(&self, name: &str, token_hash: &[u8]) -> Result<Actor> {
        let name = model::display_name(name)?;
        self.store.create_guest(&name, token_hash).await
    }

    pub async fn rename(&self, actor: &Actor, name: &str) -> Result<Actor> {
        let name = model::display_name(name)?;
        self.store.rename_actor(&actor.id, &name).await?;
        Ok(Actor { name, ..actor.clone() })
    }

    pub async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<Actor>> {
        self.store.actor_by_token(token_hash).await
    }

    // ---- rooms

    pub async fn create_room(&self, actor: &Actor, raw_name: &str) -> Result<Room> {
        let name = model::room_name(raw_name)?;
        authorize(actor, Action::CreateRoom, &Standing::default())?;
        let room = self.store.create_room(&name, RoomKind::Public, &ActorRef::from(actor)).await?;
        self.sink.room_changed(&self.summary(&room));
        Ok(room)
    }

    /// Finds a room by name; `room_not_found` if there is none.
    pub async fn room(&self, raw_name: &str) -> Result<Room> {
        let name = model::room_name(raw_name)?;
        self.store.room(&name).await?.ok_or_else(|| ChatError::room_not_found(&name))
    }

    /// Finds a room, creating it when `create` is set and it does not exist yet.
    pub async fn room_or_create(&self, actor: &Actor, raw_name: &str, create: bool) -> Result<Room> {
        match self.room(raw_name).await {
            Err(e) if e.code == ErrorCode::RoomNotFound && create => match self.create_room(actor, raw_name).await {
                Err(e) if e.code == ErrorCode::RoomExists => self.room(raw_name).await,
                other => other,
            },
            other => other,
        }
    }

    pub async fn list_rooms(&self) -> Result<Vec<RoomSummary>> {
        let rooms = self.store.rooms().await?;
        Ok(rooms.iter().map(|r| self.summary(r)).collect())
    }

    pub fn summary(&self, room: &Room) -> RoomSummary {
        RoomSummary {
            name: room.name.clone(),
            kind: room.kind,
            members: self.presence.count(room.id),
            top_seq: room.top_seq,
            created_at: room.created_at,
        }
    }

    async fn standing(&self, actor: &Actor, room: &Room, conn: Option<ConnId>) -> Result<Standing> {
        Ok(Standing {
            kind: room.kind,
            role: self.store.role(room.id, &actor.id).await?,
            joined: conn.is_some_and(|c| self.presence.is_in(room.id, &actor.id, c)),
        })
    }

    /// Checks that the actor may join, and returns its role there (to hand to [`Chat::join`]). Call it
    /// before subscribing the connection to the room's events.
    pub async fn may_join(&self, actor: &Actor, room: &Room) -> Result<Role> {
        let standing = self.standing(actor, room, None).await?;
        authorize(actor, Action::Join, &standing)?;
        Ok(standing.role.unwrap_or_default())
    }

    /// Joins `conn` to the room. The caller has already subscribed the connection to the room's live
    /// events, so that nothing falls between the top sequence read here and the live stream.
    pub async fn join(&self, actor: &Actor, conn: ConnId, room: &Room, role: Role, since: Option<Seq>) -> Result<Joined> {
        let top_seq = self.store.top_seq(room.id).await?;
        let (replay, complete) = match since {
            Some(s) if s < 0 || s > top_seq => {
                return Err(ChatError::new(
                    ErrorCode::BadSeq,
                    format!("since must be between 0 and the room's top sequence {top_seq}"),
                ))
            }
            Some(s) if s < top_seq => {
                let missed = (top_seq - s) as usize;
                if missed > self.limits.max_replay {
                    (Vec::new(), false)
                } else {
                    let mut events = self.store.events(room.id, EventRange::After(s), missed).await?;
                    events.retain(|e| e.seq <= top_seq);
                    (events, true)
                }
            }
            _ => (Vec::new(), true),
        };
        let me = ActorRef::from(actor);
        let announce = self
            .presence
            .enter(room.id, &me, conn, || self.store.append(room, me.clone(), NewEvent::Join));
        let members = self.presence.members(room.id);
        if let Some(pending) = announce {
            pending.await?;
            self.sink.room_changed(&self.summary_now(room).await);
        }
        Ok(Joined { room: room.clone(), role, top_seq, members, replay, complete })
    }

    /// An explicit leave: announced at once if this was the actor's last connection in the room.
    pub async fn leave(&self, actor: &Actor, conn: ConnId, room: &Room) -> Result<()> {
        let leave = NewEvent::Leave { reason: LeaveReason::Left };
        let (exit, pending) =
            self.presence
                .exit(room.id, &actor.id, conn, || self.store.append(room, ActorRef::from(actor), leave));
        if exit == Exit::NotThere {
            return Err(ChatError::new(ErrorCode::NotJoined, "this connection has not joined the room"));
        }
        if let Some(pending) = pending {
            pending.await?;
            self.sink.room_changed(&self.summary_now(room).await);
        }
        Ok(())
    }

    /// A connection dropped: after the grace period, its actor leaves every room it was in unless it
    /// came back.
    pub fn disconnected(self: &Arc<Self>, actor: &Actor, conn: ConnId, rooms: Vec<Room>) {
        for room in rooms {
            let Some(epoch) = self.presence.drop_conn(room.id, &actor.id, conn) else { continue };
            let chat = Arc::clone(self);
            let actor = ActorRef::from(actor);
            tokio::spawn(async move {
                tokio::time::sleep(chat.limits.leave_grace).await;
                let leave = NewEvent::Leave { reason: LeaveReason::Disconnected };
                let pending = chat
                    .presence
                    .expire(room.id, &actor.id, epoch, || chat.store.append(&room, actor.clone(), leave));
                if let Some(pending) = pending {
                    if let Err(e) = pending.await {
                        tracing::warn!(room = %room.name, error = %e, "could not store a leave");
                    }
                    chat.sink.room_changed(&chat.summary_now(&room).await);
                }
            });
        }
    }

    async fn summary_now(&self, room: &Room) -> RoomSummary {
        let mut summary = self.summary(room);
        if let Ok(top) = self.store.top_seq(room.id).await {
            summary.top_seq = top;
        }
        summary
    }

    // ---- messages

    /// Validates and queues a message; the returned future resolves once it is durably stored.
    /// Messages queued by one caller are sequenced in the order of the calls.
    pub async fn send(
        &self,
        actor: &Actor,
        conn: ConnId,
        room: &Room,
        text: &str,
        client_id: Option<String>,
    ) -> Result<BoxFuture<Result<Appended>>> {
        let text = model::message_text(text, &self.limits)?;
        if client_id.as_ref().is_some_and(|c| c.is_empty() || c.len() > 128) {
            return Err(ChatError::bad_request("client_id has 1 to 128 characters"));
        }
        let standing = Standing {
            kind: room.kind,
            role: None,
            joined: self.presence.is_in(room.id, &actor.id, conn),
        };
        authorize(actor, Action::Send, &standing)?;
        let new = NewEvent::Message { content: Content { text }, client_id };
        Ok(self.store.append(room, ActorRef::from(actor), new))
    }

    pub async fn edit(
        &self,
        actor: &Actor,
        conn: ConnId,
        room: &Room,
        key: &MessageKey,
        text: &str,
    ) -> Result<BoxFuture<Result<Appended>>> {
        let text = model::message_text(text, &self.limits)?;
        let message = self.live_message(room, key).await?;
        let standing = self.standing(actor, room, Some(conn)).await?;
        authorize(actor, Action::Edit { author: &message.author }, &standing)?;
        let new = NewEvent::Edit { message_id: message.id, content: Content { text } };
        Ok(self.store.append(room, ActorRef::from(actor), new))
    }

    pub async fn delete(
        &self,
        actor: &Actor,
        conn: ConnId,
        room: &Room,
        key: &MessageKey,
    ) -> Result<BoxFuture<Result<Appended>>> {
        let message = self.live_message(room, key).await?;
        let standing = self.standing(actor, room, Some(conn)).await?;
        authorize(actor, Action::Delete { author: &message.author }, &standing)?;
        let new = NewEvent::Delete { message_id: message.id };
        Ok(self.store.append(room, ActorRef::from(actor), new))
    }

    async fn live_message(&self, room: &Room, key: &MessageKey) -> Result<StoredMessage> {
        let mut found = self.store.message(room.id, key).await?;
        // Socket.IO clients name messages by the id they chose when sending; a message sent without
        // one is known to them by the id Confab gave it (the `message_id` Socket.IO sees), so a
        // client id that matches nothing but is a number names Confab's id.
        if let (None, MessageKey::Client { client_id, .. }) = (&found, key) {
            if let Ok(id) = client_id.parse() {
                found = self.store.message(room.id, &MessageKey::Id(id)).await?;
            }
        }
        match found {
            Some(m) if !m.deleted => Ok(m),
            _ => Err(ChatError::message_not_found()),
        }
    }

    // ---- history

    pub async fn history(&self, actor: &Actor, room: &Room, range: EventRange, limit: usize) -> Result<(Vec<Event>, bool)> {
        let standing = self.standing(actor, room, None).await?;
        authorize(actor, Action::Read, &standing)?;
        if matches!(range, EventRange::After(s) | EventRange::Before(s) if s < 0) {
            return Err(ChatError::new(ErrorCode::BadSeq, "sequence numbers are not negative"));
        }
        let limit = limit.clamp(1, self.limits.history_page_max);
        // One more than asked tells whether there are more.
        let mut events = self.store.events(room.id, range, limit + 1).await?;
        let more = events.len() > limit;
        if more {
            match range {
                EventRange::After(_) => events.truncate(limit),
                EventRange::Before(_) => {
                    events.remove(0);
                }
            }
        }
        Ok((events, more))
    }

    /// The newest messages of a room (edits applied, deleted ones left out), oldest first.
    pub async fn recent_messages(&self, actor: &Actor, room: &Room, limit: usize) -> Result<Vec<Event>> {
        let standing = self.standing(actor, room, None).await?;
        authorize(actor, Action::Read, &standing)?;
        self.store.recent_messages(room.id, limit).await
    }
}
