//! The chat service: the rules every transport shares. A transport parses a request, calls one method
//! here with the connection's actor, and translates the result; it holds no chat rules of its own.
//!
//! Presence has two layers: [`Presence`] follows this node's connections (and the leave grace
//! period), and the [`Roster`] decides, across the cluster, which changes are announced as join and
//! leave events. Each (room, actor) pair goes through a [`Gate`], so one node's join and leave events
//! for an actor are appended in the order of the changes.

use std::sync::Arc;

use crate::authz::{authorize, Action, Credential, Policy, Standing};
use crate::error::{ChatError, ErrorCode, Result};
use crate::event::{Event, LeaveReason};
use crate::limits::Limits;
use crate::model::{self, Actor, ActorRef, Content, Role, Room, RoomId, RoomKind, RoomSummary, Seq, StoredMessage};
use crate::presence::{ConnId, Exit, Gate, Presence};
use crate::roster::{LocalRoster, Roster};
use crate::store::{Appended, BoxFuture, EventRange, EventSink, MessageKey, NewEvent, Store};

mod direct;
mod departures;
mod found;
mod moderation;
mod seen;
mod shutdown;

pub use moderation::InviteCreated;
pub use seen::TOUCH_EVERY_MS;

/// The connection id under which people the log still lists at start-up are held (connection ids
/// of real connections start at 1).
const RECOVERED: ConnId = 0;

pub struct Chat {
    store: Arc<dyn Store>,
    presence: Arc<Presence>,
    /// Who is in which room on any node; decides what is announced.
    roster: Arc<dyn Roster>,
    /// Orders each (room, actor) pair's presence changes and announcements.
    gate: Gate,
    /// Told when a room's summary changes (created, member count), for lobby lists.
    sink: Arc<dyn EventSink>,
    /// Leaves the roster could not take (unreachable), announced once it answers again.
    departures: Arc<departures::Departures>,
    pub limits: Limits,
    /// Who this node noted as seen within the hour (for idle guest expiry).
    seen: seen::Seen,
    /// The settings the authorization gate reads (`--guests`); set once at start-up.
    policy: parking_lot::RwLock<Policy>,
}

impl Drop for Chat {
    fn drop(&mut self) {
        // Lets the departures task see that the service is gone.
        self.departures.waiting.notify_one();
    }
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
    /// A chat service for a single node (its roster is this node's presence).
    pub fn new(store: Arc<dyn Store>, presence: Arc<Presence>, sink: Arc<dyn EventSink>, limits: Limits) -> Arc<Self> {
        Self::with_roster(store, presence, Arc::new(LocalRoster::default()), sink, limits)
    }

    /// A chat service whose presence is counted across a cluster by `roster`. When the roster finds
    /// things by itself (dead nodes' members, this node forgotten), a task acts on them; that needs a
    /// Tokio runtime.
    pub fn with_roster(
        store: Arc<dyn Store>,
        presence: Arc<Presence>,
        roster: Arc<dyn Roster>,
        sink: Arc<dyn EventSink>,
        limits: Limits,
    ) -> Arc<Self> {
        let found = roster.found();
        let departures = Arc::new(departures::Departures::default());
        let chat = Arc::new(Chat { store, presence, roster, gate: Gate::default(), sink, departures: Arc::clone(&departures), limits, policy: Default::default(), seen: Default::default() });
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                if let Some(found) = found {
                    rt.spawn(found::act_on(Arc::downgrade(&chat), found));
                }
                rt.spawn(departures::retry(Arc::downgrade(&chat), departures));
            }
            Err(_) if found.is_some() => {
                tracing::error!("no Tokio runtime: a dead node's leaves will not be announced")
            }
            Err(_) => {}
        }
        chat
    }

    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// The settings the authorization gate applies (the server sets them from its flags at start-up).
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write() = policy;
    }

    pub fn policy(&self) -> Policy {
        *self.policy.read()
    }

    /// Asks the gate (the one place that decides).
    fn allow(&self, actor: Option<&Actor>, action: Action<'_>, standing: &Standing<'_>) -> Result<()> {
        authorize(actor, action, standing, &self.policy())
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

    /// The actor a session token belongs to; `None` for an unknown token or an expired guest.
    pub async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<Actor>> {
        let actor = self.store.actor_by_token(token_hash).await?;
        if let Some(actor) = &actor {
            self.seen(actor);
        }
        Ok(actor)
    }

    // ---- rooms

    pub async fn create_room(&self, actor: &Actor, raw_name: &str) -> Result<Room> {
        self.create_room_of(actor, raw_name, RoomKind::Public).await
    }

    /// Creates a public or private room owned by `actor`. A taken name answers `room_exists` whatever
    /// kind of room holds it (names are one namespace; see docs/protocol.md, "Private rooms").
    pub async fn create_room_of(&self, actor: &Actor, raw_name: &str, kind: RoomKind) -> Result<Room> {
        let name = model::room_name(raw_name)?;
        self.allow(Some(actor), Action::CreateRoom { kind }, &Standing { room: &name, ..Standing::default() })?;
        let room = self.store.create_room(&name, kind, &ActorRef::from(actor)).await?;
        self.sink.room_changed(&self.summary(&room));
        Ok(room)
    }

    /// Finds a room by name; `room_not_found` if there is none. This does not check who asks: use
    /// [`Chat::visible_room`] for anything a client learns from.
    pub async fn room(&self, raw_name: &str) -> Result<Room> {
        let name = crate::direct::lookup_name(raw_name)?;
        self.store.room(&name).await?.ok_or_else(|| ChatError::room_not_found(&name))
    }

    /// Finds a room the actor may see: `room_not_found`, word for word, both when there is none and
    /// when it is private (or direct) and the actor is not a member.
    pub async fn visible_room(&self, actor: Option<&Actor>, raw_name: &str) -> Result<Room> {
        let name = crate::direct::lookup_name(raw_name)?;
        let room = self.store.room(&name).await?.ok_or_else(|| ChatError::room_not_found(&name))?;
        if room.kind != RoomKind::Public {
            let mut standing = match actor {
                Some(a) => self.standing(a, &room, None).await?,
                None => Standing { kind: room.kind, ..Standing::default() },
            };
            // The name as the caller typed it: the stored spelling would tell that the room exists.
            standing.room = &name;
            self.allow(actor, Action::List, &standing)?;
        }
        Ok(room)
    }

    /// Finds a room, creating it when `create` is set and it does not exist yet.
    /// A private room the actor may not see is `room_not_found`, whether or not `create` is set.
    pub async fn room_or_create(&self, actor: &Actor, raw_name: &str, create: bool) -> Result<Room> {
        match self.visible_room(Some(actor), raw_name).await {
            // A direct room's name is never created by joining it: it answers as any missing room.
            Err(e) if e.code == ErrorCode::RoomNotFound && create && !crate::direct::is_direct_name(raw_name.trim()) => match self.create_room(actor, raw_name).await {
                Err(e) if e.code == ErrorCode::RoomExists => self.visible_room(Some(actor), raw_name).await,
                other => other,
            },
            other => other,
        }
    }

    /// Why this connection may not act in a room it has not joined: `room_not_found` if the actor may
    /// not see it, `forbidden` if it is banned there, `not_joined` otherwise (a question asked only
    /// on the way to an error).
    pub async fn not_joined(&self, actor: Option<&Actor>, raw_name: &str) -> ChatError {
        let room = match self.visible_room(actor, raw_name).await {
            Ok(room) => room,
            Err(e) => return e,
        };
        if let Some(actor) = actor {
            match self.standing(actor, &room, None).await {
                Ok(standing) => {
                    if let Err(e) = self.allow(Some(actor), Action::Send, &standing) {
                        return e;
                    }
                }
                Err(e) => return e,
            }
        }
        ChatError::new(ErrorCode::NotJoined, "join the room first")
    }

    /// Every room the actor may see (public rooms, and the private rooms and direct conversations it
    /// is a member of), with its member count across the cluster.
    /// Nobody signed in lists public rooms only while guests are allowed (the gate's answer under
    /// `--guests off` is `unauthenticated`).
    pub async fn list_rooms(&self, actor: Option<&Actor>) -> Result<Vec<RoomSummary>> {
        if actor.is_none() {
            self.allow(None, Action::List, &Standing { kind: RoomKind::Public, ..Standing::default() })?;
        }
        let mut rooms = self.store.rooms().await?;
        let mine = match actor {
            Some(a) if rooms.iter().any(|r| r.kind != RoomKind::Public) => self.store.memberships_of(&a.id).await?,
            _ => Vec::new(),
        };
        rooms.retain(|r| {
            let role = mine.iter().find(|(id, _)| *id == r.id).map(|(_, role)| *role);
            let standing = Standing { room: &r.name, kind: r.kind, role, ..Standing::default() };
            self.allow(actor, Action::List, &standing).is_ok()
        });
        let ids: Vec<_> = rooms.iter().map(|r| r.id).collect();
        let counts = self.roster.counts(&ids).await?;
        Ok(rooms
            .iter()
            .zip(counts)
            .map(|(r, members)| RoomSummary { members, ..self.summary(r) })
            .collect())
    }

    /// The public rooms' names, for the server's own lobby (what every signed-in session may see),
    /// whatever `--guests` lets anonymous callers list.
    pub async fn lobby_rooms(&self) -> Result<Vec<String>> {
        let rooms = self.store.rooms().await?;
        Ok(rooms.into_iter().filter(|r| r.kind == RoomKind::Public).map(|r| r.name).collect())
    }

    /// The room's members on every node, in the order they arrived.
    pub async fn members(&self, room: RoomId) -> Result<Vec<ActorRef>> {
        self.roster.members(room).await
    }

    /// The room as lists show it, with **this node's** member count (no round trip); see
    /// [`Chat::room_summary`] for the cluster's.
    pub fn summary(&self, room: &Room) -> RoomSummary {
        RoomSummary {
            name: room.name.clone(),
            kind: room.kind,
            members: self.presence.count(room.id),
            top_seq: room.top_seq,
            created_at: room.created_at,
        }
    }

    async fn standing<'r>(&self, actor: &Actor, room: &'r Room, conn: Option<ConnId>) -> Result<Standing<'r>> {
        let membership = self.store.membership(room.id, &actor.id).await?;
        Ok(Standing {
            room: &room.name,
            kind: room.kind,
            role: membership.role,
            banned: membership.banned,
            joined: conn.is_some_and(|c| self.presence.is_in(room.id, &actor.id, c)),
            credential: Credential::Session,
        })
    }

    /// Checks that the actor may join, and returns its role there (to hand to [`Chat::join`]). Call it
    /// before subscribing the connection to the room's events.
    pub async fn may_join(&self, actor: &Actor, room: &Room) -> Result<Role> {
        let standing = self.standing(actor, room, None).await?;
        self.allow(Some(actor), Action::Join, &standing)?;
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
        let announce = {
            let _gate = self.gate.enter(room.id, &me.id).await;
            // Ask the roster first: if it cannot answer, the join fails and nothing changed.
            let first = !self.presence.has(room.id, &me.id) && self.roster.arrive(room, &me).await?;
            self.presence.enter(room, &me, conn, || ());
            first.then(|| self.store.append(room, me.clone(), NewEvent::Join))
        };
        let members = match self.roster.members(room.id).await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(room = %room.name, error = %e, "member list from this node only");
                self.presence.members(room.id)
            }
        };
        if let Some(pending) = announce {
            pending.await?;
            self.sink.room_changed(&self.room_summary(room).await);
        }
        Ok(Joined { room: room.clone(), role, top_seq, members, replay, complete })
    }

    /// An explicit leave: announced at once if this was the actor's last connection in the room.
    pub async fn leave(&self, actor: &Actor, conn: ConnId, room: &Room) -> Result<()> {
        let pending = {
            let _gate = self.gate.enter(room.id, &actor.id).await;
            let (exit, last_here) = self.presence.exit(room.id, &actor.id, conn, || ());
            if exit == Exit::NotThere {
                return Err(ChatError::new(ErrorCode::NotJoined, "this connection has not joined the room"));
            }
            match last_here {
                Some(()) => self.depart(room, ActorRef::from(actor), LeaveReason::Left).await,
                None => None,
            }
        };
        if let Some(pending) = pending {
            pending.await?;
            self.sink.room_changed(&self.room_summary(room).await);
        }
        Ok(())
    }

    /// Tells the roster the actor is gone from this node, and queues the leave if it was the last
    /// node to hold it. Call with the pair's gate held.
    async fn depart(&self, room: &Room, actor: ActorRef, reason: LeaveReason) -> Option<BoxFuture<Result<Appended>>> {
        match self.roster.depart(room, &actor.id).await {
            Ok(true) => Some(self.store.append(room, actor, NewEvent::Leave { reason })),
            Ok(false) => None,
            Err(e) => {
                // The local leave stands; the departure waits for the roster to answer again
                // (`departures`), or, past the queue's bound, the cluster keeps listing the actor
                // until this node stops or is counted dead (docs/scaling.md, "Presence across nodes").
                let (room_name, actor_id) = (room.name.clone(), actor.id.clone());
                if self.queue_departure(departures::Departure { room: room.clone(), actor, reason }) {
                    tracing::warn!(room = %room_name, actor = %actor_id.as_str(), error = %e, "roster unavailable: leave queued until it answers");
                } else {
                    let limit = self.limits.departure_queue;
                    tracing::error!(room = %room_name, actor = %actor_id.as_str(), error = %e, limit, "roster unavailable and departure queue full: leave not announced");
                }
                None
            }
        }
    }

    /// A connection dropped: after the grace period, its actor leaves every room it was in unless it
    /// came back.
    pub fn disconnected(self: &Arc<Self>, actor: &Actor, conn: ConnId, rooms: Vec<Room>) {
        for room in rooms {
            let Some(epoch) = self.presence.drop_conn(room.id, &actor.id, conn) else { continue };
            self.leave_after_grace(room, ActorRef::from(actor), epoch);
        }
    }

    /// After the grace period, announces the actor's leave unless it came back since `epoch`.
    fn leave_after_grace(self: &Arc<Self>, room: Room, actor: ActorRef, epoch: u64) {
        let chat = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(chat.limits.leave_grace).await;
            let pending = {
                let _gate = chat.gate.enter(room.id, &actor.id).await;
                match chat.presence.expire(room.id, &actor.id, epoch, || ()) {
                    Some(()) => chat.depart(&room, actor, LeaveReason::Disconnected).await,
                    None => None,
                }
            };
            if let Some(pending) = pending {
                if let Err(e) = pending.await {
                    tracing::warn!(room = %room.name, error = %e, "could not store a leave");
                }
                chat.sink.room_changed(&chat.room_summary(&room).await);
            }
        });
    }

    /// At start-up of a node that is alone (its roster is local): the log may still list people whose
    /// leave was never logged, because the process was killed or stopped with them in a room. Each is
    /// listed again as if their connection had just dropped: one who is back within the grace period
    /// is neither announced as leaving nor as joining again; one who is not gets a `disconnected`
    /// leave, so the member list and the log agree. (In a cluster the roster does this: a survivor,
    /// or the restarted node itself, departs what a dead node left.) Returns how many were listed.
    pub async fn recover_listed(self: &Arc<Self>) -> Result<usize> {
        let listed = self.store.listed().await?;
        if listed.is_empty() {
            return Ok(0);
        }
        let rooms = self.store.rooms().await?;
        let mut recovered = 0;
        for (room_id, actor) in listed {
            let Some(room) = rooms.iter().find(|r| r.id == room_id) else { continue };
            self.presence.enter(room, &actor, RECOVERED, || ());
            self.roster.arrive(room, &actor).await?;
            if let Some(epoch) = self.presence.drop_conn(room.id, &actor.id, RECOVERED) {
                self.leave_after_grace(room.clone(), actor, epoch);
                recovered += 1;
            }
        }
        Ok(recovered)
    }

    /// The room as lists show it now: the cluster's member count and the current top sequence.
    pub async fn room_summary(&self, room: &Room) -> RoomSummary {
        let mut summary = self.summary(room);
        if let Ok(top) = self.store.top_seq(room.id).await {
            summary.top_seq = top;
        }
        match self.roster.counts(&[room.id]).await {
            Ok(counts) => summary.members = counts.first().copied().unwrap_or(0),
            Err(e) => tracing::warn!(room = %room.name, error = %e, "member count from this node only"),
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
        // No control characters: a NUL would reach PostgreSQL, which refuses it in text (and fails
        // the whole group commit it is in).
        if client_id.as_ref().is_some_and(|c| c.is_empty() || c.len() > 128 || c.chars().any(char::is_control)) {
            return Err(ChatError::bad_request("client_id has 1 to 128 characters, none of them a control character"));
        }
        // Not read from the store on this hot path: a connection in the room passed the gate when it
        // joined, and a kick or ban takes it out of the room as it delivers that event.
        let joined = self.presence.is_in(room.id, &actor.id, conn);
        let standing = Standing { room: &room.name, kind: room.kind, role: joined.then_some(Role::Member), joined, ..Standing::default() };
        self.allow(Some(actor), Action::Send, &standing)?;
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
        self.allow(Some(actor), Action::Edit { author: &message.author }, &standing)?;
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
        self.allow(Some(actor), Action::Delete { author: &message.author }, &standing)?;
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
        self.allow(Some(actor), Action::Read, &standing)?;
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
        self.allow(Some(actor), Action::Read, &standing)?;
        self.store.recent_messages(room.id, limit).await
    }
}
