//! One native connection, in one task: reads requests, calls the chat service, queues answers, and
//! sends what its queue holds.
//!
//! Requests are handled one at a time in the order they arrive, except that a `send`, `edit` or
//! `delete` does not wait for its commit before the next request is read: its answer is queued when
//! the store commits (in order, via `FuturesOrdered`), so one connection can have many messages in
//! flight and the store commits them together. While a request is being handled (a join reading its
//! replay, say) the task keeps sending: the request is a future of its own, polled beside the queue.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_core::model::{Actor, Room, RoomKind};
use confab_core::store::{Appended, BoxFuture, EventRange, MessageKey};
use confab_core::{ChatError, ErrorCode};
use confab_ws::upgrade::{Reader, Writer};
use confab_ws::Message;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::frames;
use super::request::{self, Envelope};
use crate::app::App;
use crate::conn::ratelimit::TokenBucket;
use crate::conn::sequencer::Sequencer;
use crate::conn::rooms::JoinedRooms;
use crate::conn::writer::{self, Outgoing};
use crate::conn::{CloseReason, ConnShared, Outbound};
use crate::http::auth;
use crate::identity::{self, Identity};
use confab_core::authz::GuestAccess;

type Answer = BoxFuture<Utf8Bytes>;

struct Session {
    app: Arc<App>,
    shared: Arc<ConnShared>,
    actor: Option<Actor>,
    rooms: JoinedRooms,
    bucket: TokenBucket,
    /// The client's address, for the limit on creating guests.
    peer: std::net::IpAddr,
}

/// A request being handled; it owns the session meanwhile and gives it back with the request's
/// later answer, if any.
type Handling = BoxFuture<(Session, Option<Answer>)>;

pub async fn run(app: Arc<App>, mut stream: Reader, sink: Writer, identity: Option<Identity>, peer: std::net::IpAddr) {
    let limits = &app.chat.limits;
    let (shared, mut rx) = ConnShared::new(&frames::NATIVE, limits.outbound_queue);
    let _registered = app.register(&shared);
    if let Some(id) = identity.as_ref().and_then(Identity::credential_id) {
        app.accounts.registry.add(id, &shared, goodbye);
    }
    let actor = identity.map(|i| i.actor);
    let mut out = Outgoing::new(sink, Sequencer::new(&frames::NATIVE));
    let bucket = TokenBucket::new(limits.requests_per_second, limits.request_burst);
    if let Some(actor) = &actor {
        shared.set_actor(&actor.id);
    }
    shared.offer(Outbound::Frame(frames::welcome(actor.as_ref(), limits)));
    if let Some(actor) = &actor {
        app.hub.people.add(&actor.id, &shared);
    }
    let mut session =
        Some(Session { app: Arc::clone(&app), shared: Arc::clone(&shared), actor, rooms: JoinedRooms::default(), bucket, peer });
    let mut handling: Option<Handling> = None;
    let mut answers: FuturesOrdered<Answer> = FuturesOrdered::new();
    let mut items = Vec::new();
    let mut heartbeat = Heartbeat::new(limits.heartbeat_interval, limits.heartbeat_timeout);
    let reason = loop {
        // Input first: a client's requests (and their answers) are taken while they keep coming, and
        // the queue is sent when there is nothing else to do, so answers and events go out in as few
        // writes as possible. (Reading is bounded: one request at a time, and the rate limit.)
        tokio::select! {
            biased;
            reason = shared.killed() => break reason,
            // A kick or ban of this connection's actor was delivered: leave those rooms (as a request
            // of its own, so requests and evictions never overlap).
            rooms = shared.evicted(), if handling.is_none() => {
                let mut s = session.take().expect("no request in flight");
                handling = Some(Box::pin(async move {
                    if let Some(actor) = s.actor.clone() {
                        s.rooms.evict(&s.app, &s.shared, &actor, &rooms).await;
                    }
                    (s, None)
                }));
            }
            (back, later) = async { handling.as_mut().expect("guarded").await }, if handling.is_some() => {
                handling = None;
                session = Some(back);
                answers.extend(later);
            }
            // Silence: a ping, and after the timeout a close (a half-open connection is found here).
            // Not while a request is being handled: frames are not read meanwhile.
            _ = heartbeat.due(), if handling.is_none() => match heartbeat.act() {
                Beat::Ping => {
                    if let Err(reason) = out.ping().await {
                        shared.kill(reason);
                    }
                }
                Beat::Dead => shared.kill(CloseReason::HeartbeatTimeout),
            },
            msg = stream.next(), if handling.is_none() => { heartbeat.heard(); match msg {
                Some(Ok(Message::Text(text))) => {
                    let mut s = session.take().expect("no request in flight");
                    handling = Some(Box::pin(async move {
                        let later = s.handle(&text).await;
                        (s, later)
                    }));
                }
                Some(Ok(Message::Binary)) => {
                    // A binary frame is answered like a request, so it counts like one: a flood of
                    // them is rate limited (and closed) as a flood of requests is.
                    let s = session.as_mut().expect("no request in flight");
                    let err = if s.bucket.take() {
                        ChatError::new(ErrorCode::BadFrame, "binary frames are not part of the protocol")
                    } else {
                        if s.bucket.strikes > limits.rate_limit_strikes {
                            shared.kill(CloseReason::RateLimited);
                        }
                        ChatError::new(ErrorCode::RateLimited, format!("at most {} requests a second", limits.requests_per_second))
                    };
                    shared.offer(Outbound::Frame(frames::error(&Value::Null, &err)));
                }
                Some(Ok(Message::Ping(payload))) => shared.ping(payload),
                Some(Ok(Message::Pong)) => {}
                Some(Err(e)) => shared.kill(CloseReason::from(&e)),
                Some(Ok(Message::Close(_))) | None => shared.kill(CloseReason::Normal),
            }},
            Some(answer) = answers.next(), if !answers.is_empty() => {
                // Never waits: this task is the one that drains the queue.
                shared.offer(Outbound::Frame(answer));
            }
            n = rx.recv_many(&mut items, writer::BATCH) => {
                if n == 0 {
                    break CloseReason::Normal;
                }
                if let Err(reason) = writer::send_or_killed(&mut out, &mut items, &shared).await {
                    shared.kill(reason);
                }
            }
        }
    };
    if reason == CloseReason::GoingAway {
        // The server is stopping: nothing more is read, but what was asked is answered: the request
        // being handled, then every commit in flight (its ack, or `unavailable` at the shutdown's
        // deadline). The writer sends it all before the close frame.
        let finish = async {
            if let Some(pending) = handling.take() {
                let (back, later) = pending.await;
                session = Some(back);
                answers.extend(later);
            }
            while let Some(answer) = answers.next().await {
                shared.offer(Outbound::Frame(answer));
            }
        };
        // The request being handled and the commits are bounded by the deadline themselves; the
        // slack lets their `unavailable` answers reach the queue.
        if tokio::time::timeout_at(app.shutdown.answers_by(), finish).await.is_err() {
            tracing::debug!(conn = shared.id, "a request was still being handled at the shutdown deadline");
        }
    }
    // A request still in flight finishes first (its writes to the queue fail fast once the queue is
    // closed), so that leaving the rooms below sees everything it joined.
    rx.close();
    if let Some(pending) = handling.take() {
        session = Some(pending.await.0);
    }
    if let Some(mut session) = session {
        session.finish();
    }
    out.close(&mut rx, reason).await;
    if reason.server_initiated() {
        stream.drain_until_closed().await;
    }
}

/// Nothing to say before the close frame: its code (4003) and reason (`session_revoked` or
/// `session_expired`) say it.
fn goodbye(_: &ConnShared, _: CloseReason) {}

impl Session {
    fn actor(&self) -> Result<&Actor, ChatError> {
        self.actor
            .as_ref()
            .ok_or_else(|| ChatError::new(ErrorCode::Unauthenticated, "send `hello` with a name or a token first"))
    }

    /// Handles one request; returns the future of its answer when that comes after a commit.
    async fn handle(&mut self, text: &str) -> Option<Answer> {
        let limits = &self.app.chat.limits;
        if !self.bucket.take() {
            let id = Envelope::parse(text).map(|e| e.id).unwrap_or(Value::Null);
            let err = ChatError::new(ErrorCode::RateLimited, format!("at most {} requests a second", limits.requests_per_second));
            self.shared.send_frame(frames::error(&id, &err)).await;
            if self.bucket.strikes > limits.rate_limit_strikes {
                self.shared.kill(CloseReason::RateLimited);
            }
            return None;
        }
        let env = match Envelope::parse(text) {
            Ok(env) => env,
            Err((id, err)) => {
                self.shared.send_frame(frames::error(&id, &err)).await;
                return None;
            }
        };
        let started = std::time::Instant::now();
        // Bounded by the shutdown's deadline too: a request still waiting on the store then (a read
        // that does not come back) is answered `unavailable`, not left without an answer.
        let app = Arc::clone(&self.app);
        let reply = app.shutdown.bounded(self.dispatch(&env)).await;
        if !matches!(reply, Ok(Reply::Later(_))) {
            crate::metrics::request("native", &env.kind, started);
        }
        match reply {
            Ok(Reply::Now(fields)) => self.shared.send_frame(frames::ack(&env.id, fields)).await,
            Ok(Reply::Joined) => {}
            Ok(Reply::Later(pending)) => {
                let (id, kind) = (env.id, env.kind);
                let app = Arc::clone(&self.app);
                return Some(Box::pin(async move {
                    let committed = app.shutdown.bounded(pending).await;
                    crate::metrics::request("native", &kind, started);
                    match committed {
                        Ok(a) => frames::ack(&id, json!({"seq": a.seq, "message_id": a.message_id, "duplicate": a.duplicate})),
                        Err(e) => frames::error(&id, &e),
                    }
                }));
            }
            Err(err) => self.shared.send_frame(frames::error(&env.id, &err)).await,
        }
        None
    }

    async fn dispatch(&mut self, env: &Envelope) -> Result<Reply, ChatError> {
        if self.actor.is_none() && env.kind != "hello" {
            self.actor()?;
        }
        let chat = Arc::clone(&self.app.chat);
        match env.kind.as_str() {
            "hello" => self.hello(env.fields()?).await,
            "ping" => Ok(Reply::Now(json!({}))),
            "rooms" => {
                let req: request::Rooms = env.fields()?;
                if req.subscribe {
                    self.app.hub.subscribe_lobby(&self.shared);
                }
                Ok(Reply::Now(json!({"rooms": chat.list_rooms(self.actor.as_ref()).await?})))
            }
            "create_room" => {
                let req: request::CreateRoom = env.fields()?;
                let kind = if req.private { RoomKind::Private } else { RoomKind::Public };
                let room = chat.create_room_of(self.actor()?, &req.room, kind).await?;
                Ok(Reply::Now(json!({"room": chat.summary(&room)})))
            }
            "members" => {
                let req: request::RoomOnly = env.fields()?;
                let (_, members) = chat.member_list(self.actor()?, &req.room).await?;
                Ok(Reply::Now(json!({"members": members})))
            }
            "invite" => {
                let req: request::Invite = env.fields()?;
                let (code, hash) = auth::new_token();
                let made = chat.invite(self.actor()?, &req.room, hash, req.max_uses, req.expires_in_secs).await?;
                Ok(Reply::Now(crate::http::rooms::invite_answer(&code, &made)))
            }
            "accept_invite" => {
                let req: request::AcceptInvite = env.fields()?;
                let room = chat.accept_invite(self.actor()?, &auth::hash_token(&req.code)).await?;
                Ok(Reply::Now(json!({"room": chat.summary(&room)})))
            }
            "add_member" => {
                let req: request::Target = env.fields()?;
                let added = match req.named()? {
                    request::Named::Actor(id) => chat.add_member(self.actor()?, &req.room, &id).await?,
                    request::Named::Username(u) => chat.add_member_by_username(self.actor()?, &req.room, &u).await?,
                };
                moderated(added)
            }
            "set_role" => {
                let req: request::SetRole = env.fields()?;
                moderated(chat.set_role(self.actor()?, &req.room, &req.actor, &req.role).await?)
            }
            "transfer" => {
                let req: request::Target = env.fields()?;
                moderated(chat.transfer(self.actor()?, &req.room, &req.target()?).await?)
            }
            "kick" => {
                let req: request::Target = env.fields()?;
                moderated(chat.kick(self.actor()?, &req.room, &req.target()?).await?)
            }
            "ban" => {
                let req: request::Target = env.fields()?;
                moderated(chat.ban(self.actor()?, &req.room, &req.target()?).await?)
            }
            "unban" => {
                let req: request::Target = env.fields()?;
                moderated(chat.unban(self.actor()?, &req.room, &req.target()?).await?)
            }
            "bans" => {
                let req: request::RoomOnly = env.fields()?;
                Ok(Reply::Now(json!({"bans": chat.bans(self.actor()?, &req.room).await?})))
            }
            "join" => self.join(env.id.clone(), env.fields()?).await,
            "leave" => {
                let req: request::RoomOnly = env.fields()?;
                let actor = self.actor()?.clone();
                self.rooms.leave(&self.app, &self.shared, &actor, &req.room).await?;
                Ok(Reply::Now(json!({})))
            }
            "send" => {
                let req: request::Send = env.fields()?;
                let room = self.joined(&req.room).await?;
                Ok(Reply::Later(chat.send(self.actor()?, self.shared.id, &room, &req.text, req.client_id).await?))
            }
            "edit" => {
                let req: request::Edit = env.fields()?;
                let room = self.joined(&req.room).await?;
                let key = MessageKey::Id(req.message_id);
                Ok(Reply::Later(chat.edit(self.actor()?, self.shared.id, &room, &key, &req.text).await?))
            }
            "delete" => {
                let req: request::Delete = env.fields()?;
                let room = self.joined(&req.room).await?;
                let key = MessageKey::Id(req.message_id);
                Ok(Reply::Later(chat.delete(self.actor()?, self.shared.id, &room, &key).await?))
            }
            "open_direct" => {
                let req: request::OpenDirect = env.fields()?;
                let (room, members) = chat.open_direct(self.actor()?, &req.with).await?;
                Ok(Reply::Now(json!({"room": {"name": room.name, "kind": room.kind, "members": members}})))
            }
            "my_rooms" => Ok(Reply::Now(json!({"rooms": chat.my_rooms(self.actor()?).await?}))),
            "history" => {
                let req: request::History = env.fields()?;
                let room = chat.visible_room(self.actor.as_ref(), &req.room).await?;
                let range = match (req.before, req.after) {
                    (Some(b), None) => EventRange::Before(b),
                    (None, Some(a)) => EventRange::After(a),
                    _ => return Err(ChatError::bad_request("history: give exactly one of `before` and `after`")),
                };
                let (events, more) = chat.history(self.actor()?, &room, range, req.limit.unwrap_or(50)).await?;
                Ok(Reply::Now(json!({"events": events, "more": more})))
            }
            other => Err(ChatError::new(ErrorCode::UnknownType, format!("unknown request type {other:?}"))),
        }
    }

    async fn hello(&mut self, req: request::Hello) -> Result<Reply, ChatError> {
        if let Some(actor) = &self.actor {
            return Ok(Reply::Now(json!({"user": actor})));
        }
        let chat = &self.app.chat;
        let (actor, token) = match (req.token, req.name) {
            (Some(token), _) => {
                let me = identity::resolve(&self.app, &token).await?;
                me.full()?;
                if let Some(id) = me.credential_id() {
                    self.app.accounts.registry.add(id, &self.shared, goodbye);
                }
                (me.actor, token)
            }
            (None, Some(_)) if self.app.accounts.guests == GuestAccess::Off => return Err(identity::guests_not_allowed()),
            (None, Some(name)) => {
                self.app.guests.take(self.peer)?;
                let (token, hash) = auth::new_token();
                (chat.create_guest(&name, &hash).await?, token)
            }
            (None, None) => return Err(ChatError::bad_request("hello: give a `name` or a `token`")),
        };
        let reply = json!({"user": &actor, "token": token});
        self.shared.set_actor(&actor.id);
        self.app.hub.people.add(&actor.id, &self.shared);
        self.actor = Some(actor);
        Ok(Reply::Now(reply))
    }

    async fn join(&mut self, id: Value, req: request::Join) -> Result<Reply, ChatError> {
        let chat = Arc::clone(&self.app.chat);
        let actor = self.actor()?.clone();
        let room = chat.room_or_create(&actor, &req.room, req.create).await?;
        let joined = self.rooms.join(&self.app, &self.shared, &actor, &room, req.since).await?;
        let mut summary = chat.summary(&room);
        summary.top_seq = joined.top_seq;
        // The join's member list is the cluster's; this node's count alone would be short.
        summary.members = joined.members.len();
        let ack = frames::ack(
            &id,
            json!({
                "room": summary,
                "top_seq": joined.top_seq,
                "members": joined.members,
                "role": joined.role,
                "replayed": joined.replay.len(),
                "complete": joined.complete,
            }),
        );
        JoinedRooms::answer(&self.shared, &room, Some(ack), joined.replay, joined.top_seq).await;
        Ok(Reply::Joined)
    }

    async fn joined(&self, name: &str) -> Result<Room, ChatError> {
        self.rooms.get(&self.app, self.actor.as_ref(), name).await
    }

    fn finish(&mut self) {
        self.rooms.release(&self.app, self.shared.id, self.actor.as_ref());
    }
}

/// The answer to a moderation request: the sequence number of the event it logged.
fn moderated(appended: Appended) -> Result<Reply, ChatError> {
    Ok(Reply::Now(json!({"seq": appended.seq})))
}

enum Reply {
    /// Answer now with these fields.
    Now(Value),
    /// The join answer was queued in order with the room's events.
    Joined,
    /// Answer when the store commits.
    Later(BoxFuture<Result<Appended, ChatError>>),
}

/// What the heartbeat does when it is due.
enum Beat {
    Ping,
    Dead,
}

/// The native connection's heartbeat: after `interval` without a frame from the client, a ping; after
/// `timeout` more without one, the connection is half-open (4004). Zero `interval`: never due.
struct Heartbeat {
    interval: std::time::Duration,
    timeout: std::time::Duration,
    last_heard: tokio::time::Instant,
    pinged: bool,
}

impl Heartbeat {
    fn new(interval: std::time::Duration, timeout: std::time::Duration) -> Self {
        Heartbeat { interval, timeout, last_heard: tokio::time::Instant::now(), pinged: false }
    }

    fn heard(&mut self) {
        self.last_heard = tokio::time::Instant::now();
        self.pinged = false;
    }

    /// Resolves when the next ping or the timeout is due.
    async fn due(&self) {
        if self.interval.is_zero() {
            return std::future::pending().await;
        }
        let wait = if self.pinged { self.interval + self.timeout } else { self.interval };
        tokio::time::sleep_until(self.last_heard + wait).await
    }

    fn act(&mut self) -> Beat {
        if self.pinged {
            Beat::Dead
        } else {
            self.pinged = true;
            Beat::Ping
        }
    }
}
