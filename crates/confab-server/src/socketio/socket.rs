//! One Socket.IO session: the seed's event vocabulary (../shared/seed-protocol.md, docs/socketio.md)
//! translated to the chat service, with Confab's fixes: identity comes from the session, only authors
//! (and moderators, for deletes) change messages, a dropped connection leaves, and every malformed
//! event is answered with an error instead of being ignored.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_core::model::{now_ms, Actor, Room, RoomId, Seq};
use confab_core::store::{Appended, BoxFuture, MessageKey};
use confab_core::{ChatError, ErrorCode};
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::encode;
use super::engine::{EioSession, Recovery};
use super::packet::{self, SocketPacket};
use super::recovery::{self, ActorRecord, Found, Held, Record};
use crate::app::App;
use crate::conn::ratelimit::TokenBucket;
use crate::conn::rooms::JoinedRooms;
use crate::conn::queue;
use crate::conn::{CloseReason, Outbound};
use crate::http::auth;
use crate::identity::{self, Identity};
use confab_core::authz::GuestAccess;

/// Before a revoked or expired session's connection closes: an `error` event with code
/// `session_revoked` or `session_expired`, then a DISCONNECT of the namespace, so that a Socket.IO
/// client knows why (the writer sends what is queued before it closes).
fn goodbye(conn: &crate::conn::ConnShared, reason: CloseReason) {
    let err = if reason == CloseReason::SessionExpired {
        ChatError::new(ErrorCode::SessionExpired, "this session has expired; sign in again")
    } else {
        ChatError::new(ErrorCode::SessionRevoked, "this session was signed out or revoked; sign in again")
    };
    conn.offer(crate::conn::Outbound::Frame(encode::error_event(&err)));
    conn.offer(crate::conn::Outbound::Frame(Utf8Bytes::from_static("41")));
}

/// A frame to queue once a store commit resolves (an ack or an error event), or nothing.
type Answer = BoxFuture<Option<Utf8Bytes>>;

struct Socket {
    app: Arc<App>,
    session: Arc<EioSession>,
    /// Set once the client sent CONNECT for the default namespace.
    connected: bool,
    actor: Option<Actor>,
    /// The actor was made for a room creation before the client said its name; its first `user`
    /// names it.
    provisional: bool,
    rooms: JoinedRooms,
    bucket: TokenBucket,
    /// Subscribed to the lobby (after the first CONNECT).
    lobby: bool,
    /// The socket id the client was given (`s` + the Engine.IO sid, or a recovered socket's own).
    socket_id: String,
    /// The private session id, with connection state recovery on; kept as the record's key when the
    /// connection is lost.
    pid: Option<String>,
    /// The session or API token that authenticated the actor (an account's), for the recovery
    /// record: a recovered socket is registered under it again, and not recovered once it is revoked.
    credential: Option<String>,
    /// With recovery on, the position each joined room's answer gave the client (its history or
    /// replay up to it): the record's position for a room the client's offset does not name.
    given: Vec<(RoomId, Seq)>,
}

pub async fn run(app: Arc<App>, session: Arc<EioSession>, mut inbound: queue::Receiver<String>, identity: Option<Identity>) {
    let limits = &app.chat.limits;
    let _registered = app.register(&session.conn);
    if let Some(id) = identity.as_ref().and_then(Identity::credential_id) {
        app.accounts.registry.add(id, &session.conn, goodbye);
    }
    let credential = identity.as_ref().and_then(Identity::credential_id).map(str::to_string);
    let actor = identity.map(|i| i.actor);
    let bucket = TokenBucket::new(limits.requests_per_second, limits.request_burst);
    if let Some(actor) = &actor {
        app.hub.people.add(&actor.id, &session.conn);
    }
    let mut socket = Socket {
        app: Arc::clone(&app),
        session: Arc::clone(&session),
        connected: false,
        actor,
        provisional: false,
        rooms: JoinedRooms::default(),
        bucket,
        lobby: false,
        socket_id: format!("s{}", session.sid),
        pid: None,
        credential,
        given: Vec::new(),
    };
    let mut answers: FuturesOrdered<Answer> = FuturesOrdered::new();
    let mut ping = tokio::time::interval(app.engine.ping_interval);
    ping.tick().await;
    // When the oldest unanswered ping went out, and how many packets the client had sent by then: it
    // must send something (its pong) within `ping_timeout`, or the session is closed (Engine.IO's
    // heartbeat; a half-open client, polling or WebSocket, is found this way and its rooms hear it leave).
    let mut unanswered: Option<(tokio::time::Instant, u64)> = None;
    loop {
        let pong_due = unanswered.map(|(sent, _)| sent + app.engine.ping_timeout);
        tokio::select! {
            packet = inbound.recv() => match packet {
                Some(raw) => Box::pin(socket.handle(&raw, &mut answers)).await,
                None => break,
            },
            Some(answer) = answers.next(), if !answers.is_empty() => {
                if let Some(frame) = answer {
                    session.conn.send_frame(frame).await;
                }
            }
            _ = ping.tick() => {
                unanswered.get_or_insert_with(|| (tokio::time::Instant::now(), session.received()));
                session.conn.send_frame(Utf8Bytes::from_static("2")).await;
            }
            _ = tokio::time::sleep_until(pong_due.unwrap_or_else(tokio::time::Instant::now)), if pong_due.is_some() => {
                if unanswered.is_some_and(|(_, before)| session.received() == before) {
                    tracing::debug!(sid = %session.sid, "no pong within the ping timeout; closing");
                    session.conn.kill(CloseReason::Normal);
                    break;
                }
                unanswered = None;
            }
            // A kick or ban of this socket's actor was delivered: it leaves those rooms.
            rooms = session.conn.evicted() => {
                if let Some(actor) = socket.actor.clone() {
                    socket.rooms.evict(&socket.app, &session.conn, &actor, &rooms).await;
                    // The record must not bring it back into a room it was removed from.
                    socket.given.retain(|(r, _)| !rooms.contains(r));
                    socket.keep_record().await;
                }
            }
            _ = session.conn.killed() => break,
        }
    }
    if session.conn.kill_reason() == Some(CloseReason::GoingAway) {
        // The server is stopping: every commit in flight is answered (its ack, or `unavailable` at
        // the shutdown's deadline) before the transport closes; the writer waits for `settle`.
        let finish = async {
            while let Some(answer) = answers.next().await {
                if let Some(frame) = answer {
                    session.conn.offer(Outbound::Frame(frame));
                }
            }
        };
        let _ = tokio::time::timeout_at(app.shutdown.answers_by(), finish).await;
    }
    socket.finish();
    session.conn.settle();
}

#[derive(Deserialize)]
struct JoinArgs {
    room: String,
    user: Option<Value>,
}

#[derive(Deserialize)]
struct SendArgs {
    room: String,
    user: Option<Value>,
    message: String,
    message_id: Option<Value>,
}

#[derive(Deserialize)]
struct EditArgs {
    room: String,
    message_id: Value,
    new_message: String,
}

#[derive(Deserialize)]
struct OpenDirectArgs {
    with: Vec<String>,
}

#[derive(Deserialize)]
struct DeleteArgs {
    room: String,
    message_id: Value,
}

/// The event's payload as `T`. Object payloads must be JSON objects: serde would otherwise read a
/// struct from an array by position.
fn args<T: DeserializeOwned>(event: &str, args: &[Value]) -> Result<T, ChatError> {
    let first = args.first().ok_or_else(|| ChatError::bad_request(format!("{event}: missing payload")))?;
    if first.is_array() {
        return Err(ChatError::bad_request(format!("{event}: the payload is an object or a string, not a list")));
    }
    T::deserialize(first).map_err(|e| ChatError::bad_request(format!("{event}: {e}")))
}

/// A `message_id` as the seed's clients send it: a string or a number.
fn message_id(value: &Value) -> Result<String, ChatError> {
    match value {
        Value::String(s) if !s.is_empty() && s.len() <= 128 => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(ChatError::bad_request("message_id is a string of 1 to 128 characters, or a number")),
    }
}

fn user_name(user: &Option<Value>) -> Option<&str> {
    user.as_ref().and_then(Value::as_str)
}

enum Reply {
    /// Answer now: the ack payload's fields (and no error).
    Now(Value),
    /// Answer when the store commits.
    Later(BoxFuture<Result<Appended, ChatError>>, Option<String>),
}

impl Socket {
    async fn handle(&mut self, raw: &str, answers: &mut FuturesOrdered<Answer>) {
        let packet = match packet::socket(raw) {
            Ok(p) => p,
            Err(packet::Malformed(why)) => {
                let err = ChatError::new(ErrorCode::BadFrame, why);
                return self.session.conn.send_frame(encode::error_event(&err)).await;
            }
        };
        match packet {
            SocketPacket::Connect { namespace, auth } => self.connect(&namespace, auth).await,
            SocketPacket::Disconnect => self.session.close_by_client(),
            SocketPacket::BinaryEvent { ack } => {
                let err = ChatError::bad_request("binary payloads are not part of the vocabulary; send JSON");
                let frame = match ack {
                    Some(id) => encode::ack(id, &encode::failure(&err)),
                    None => encode::error_event(&err),
                };
                self.session.conn.send_frame(frame).await;
            }
            SocketPacket::Event { namespace, .. } if namespace != "/" || !self.connected => {
                let err = ChatError::bad_request("connect to the default namespace first");
                self.session.conn.send_frame(encode::error_event(&err)).await;
            }
            SocketPacket::Event { ack, name, args, .. } => {
                let limits = &self.app.chat.limits;
                let app = Arc::clone(&self.app);
                let started = std::time::Instant::now();
                let result = if self.bucket.take() {
                    // Bounded by the shutdown's deadline too: an event still waiting on the store
                    // then is answered `unavailable`, not left without an answer.
                    app.shutdown.bounded(self.event(&name, &args)).await
                } else {
                    if self.bucket.strikes > limits.rate_limit_strikes {
                        self.session.conn.kill(CloseReason::RateLimited);
                    }
                    Err(ChatError::new(
                        ErrorCode::RateLimited,
                        format!("at most {} events a second", limits.requests_per_second),
                    ))
                };
                if !matches!(result, Ok(Reply::Later(..))) {
                    crate::metrics::request("socketio", &name, started);
                }
                match result {
                    Ok(Reply::Now(fields)) => {
                        if let Some(id) = ack {
                            self.session.conn.send_frame(encode::ack(id, &encode::ok(fields))).await;
                        }
                    }
                    Ok(Reply::Later(pending, client_id)) => answers.push_back(Box::pin(async move {
                        let committed = app.shutdown.bounded(pending).await;
                        crate::metrics::request("socketio", &name, started);
                        match (committed, ack) {
                            (Ok(a), Some(id)) => {
                                let mid = encode::message_id(a.message_id.unwrap_or_default(), &client_id);
                                Some(encode::ack(id, &encode::ok(json!({"message_id": mid, "seq": a.seq}))))
                            }
                            (Ok(_), None) => None,
                            (Err(e), Some(id)) => Some(encode::ack(id, &encode::failure(&e))),
                            (Err(e), None) => Some(encode::error_event(&e)),
                        }
                    })),
                    Err(err) => {
                        let frame = match ack {
                            Some(id) => encode::ack(id, &encode::failure(&err)),
                            None => encode::error_event(&err),
                        };
                        self.session.conn.send_frame(frame).await;
                    }
                }
            }
        }
    }

    async fn connect(&mut self, namespace: &str, auth: Option<Value>) {
        if namespace != "/" {
            let frame = format!("44{namespace},{}", json!({"message": "Invalid namespace"}));
            return self.session.conn.send_frame(frame.into()).await;
        }
        if let Some(token) = auth.as_ref().and_then(|a| a.get("token")).and_then(Value::as_str) {
            match identity::resolve(&self.app, token).await.and_then(|me| me.full().cloned()) {
                Ok(me) => {
                    if let Some(id) = me.credential_id() {
                        self.app.accounts.registry.add(id, &self.session.conn, goodbye);
                        self.credential = Some(id.to_string());
                    }
                    self.session.conn.set_actor(&me.actor.id);
                    self.app.hub.people.add(&me.actor.id, &self.session.conn);
                    self.actor = Some(me.actor);
                }
                Err(e) => return self.connect_error(&e).await,
            }
        }
        let app = Arc::clone(&self.app);
        if let Some(recovery) = &app.engine.recovery {
            let pid = auth.as_ref().and_then(|a| a.get("pid")).and_then(Value::as_str);
            if let (Some(pid), false) = (pid, self.connected) {
                let offset = auth.as_ref().and_then(|a| a.get("offset"));
                if self.recover(recovery, pid, offset).await {
                    return;
                }
            }
            if self.pid.is_none() {
                self.pid = Some(recovery::new_pid());
            }
        }
        if self.actor.is_none() && self.app.accounts.guests == GuestAccess::Off {
            return self.connect_error(&identity::guests_not_allowed()).await;
        }
        self.connected = true;
        self.keep_record().await;
        self.answer_connect().await;
    }

    /// `40{"sid", "pid"}` (the pid only with recovery on), then the lobby. The seed broadcasts
    /// `update_rooms` to every client: each connected socket is a lobby subscriber, from its CONNECT
    /// answer on (nothing may reach a namespace before it).
    async fn answer_connect(&mut self) {
        let mut answer = json!({"sid": self.socket_id});
        if let Some(pid) = &self.pid {
            answer["pid"] = json!(pid);
        }
        self.session.conn.send_frame(format!("40{answer}").into()).await;
        if !std::mem::replace(&mut self.lobby, true) {
            self.app.hub.subscribe_lobby(&self.session.conn);
        }
    }

    /// Connection state recovery: when the record of `pid` is kept, no live socket holds it, and
    /// `offset` places the client in each of its rooms, answers CONNECT with the same pid, rejoins the
    /// rooms (no join is announced within the leave grace period: the member never left) and replays
    /// what each room logged after the client's position, from the database, then live events. False:
    /// nothing was done, the client gets a fresh session (a new pid, `socket.recovered` false) and
    /// rejoins as it would anyway.
    async fn recover(&mut self, recovery: &Recovery, pid: &str, offset: Option<&Value>) -> bool {
        let record = match recovery::take(recovery, pid).await {
            Found::Record(record) => record,
            Found::Live => {
                tracing::info!("a Socket.IO pid presented while its socket lives; not recovered (fresh session)");
                return false;
            }
            Found::Nothing => return false,
        };
        let Some(actor) = record.actor.actor() else { return false };
        if self.actor.as_ref().is_some_and(|a| a.id != actor.id) {
            return false;
        }
        // An account's session or token revoked meanwhile: no recovery (the pid stood for it).
        if let Some(id) = &record.credential {
            let lifetime = &self.app.accounts.lifetime;
            match self.app.accounts.store.live_credentials(std::slice::from_ref(id), now_ms(), lifetime).await {
                Ok(found) if found.live.contains(id) => {}
                _ => return false,
            }
        }
        let offset = match offset {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => match encode::parse_offset(s) {
                Some(o) => o,
                None => return false,
            },
            Some(_) => return false,
        };
        let Some(positions) = record.positions(&offset) else {
            tracing::debug!(pid, "offset not this session's; fresh session");
            return false;
        };
        let chat = Arc::clone(&self.app.chat);
        let max_replay = chat.limits.max_replay as i64;
        let mut rooms = Vec::with_capacity(positions.len());
        for (id, name, at) in positions {
            // The room as it is now: still the one recorded, not more missed than one replay, and
            // still open to the actor (a kick or ban the record did not see yet refuses here).
            match chat.room(&name).await {
                Ok(room) if room.id == id && at <= room.top_seq && room.top_seq - at <= max_replay => {
                    if chat.may_join(&actor, &room).await.is_err() {
                        return false;
                    }
                    rooms.push((room, at))
                }
                _ => return false,
            }
        }
        if let Some(id) = &record.credential {
            self.app.accounts.registry.add(id, &self.session.conn, goodbye);
            self.credential = Some(id.clone());
        }
        if self.actor.is_none() {
            self.session.conn.set_actor(&actor.id);
            self.app.hub.people.add(&actor.id, &self.session.conn);
        }
        self.actor = Some(actor.clone());
        self.connected = true;
        self.pid = Some(pid.to_string());
        self.socket_id = record.socket_id;
        self.answer_connect().await;
        let conn = Arc::clone(&self.session.conn);
        for (room, at) in rooms {
            match self.rooms.join(&self.app, &conn, &actor, &room, Some(at)).await {
                Ok(joined) if joined.complete => {
                    JoinedRooms::answer(&conn, &room, None, joined.replay, joined.top_seq).await;
                    // Where the client stands until an offset names the room: before the replay.
                    self.given.push((room.id, at));
                }
                outcome => {
                    // More was logged since the check than one replay holds, or the join failed:
                    // the client cannot have exactly what it missed here. Its connection is closed
                    // and its record removed, so its next CONNECT starts afresh and it rejoins.
                    if let Ok(joined) = outcome {
                        JoinedRooms::answer(&conn, &room, None, Vec::new(), joined.top_seq).await;
                    }
                    tracing::warn!(room = %room.name, "Socket.IO recovery could not replay a room; closing for a fresh start");
                    self.pid = None;
                    conn.kill(CloseReason::Resync);
                    return true;
                }
            }
        }
        self.keep_record().await;
        true
    }

    /// Refuses the namespace CONNECT: CONNECT_ERROR with the error's code in `data`.
    async fn connect_error(&self, e: &ChatError) {
        crate::metrics::error(e.code);
        let frame = format!("44{}", json!({"message": e.message, "data": {"code": e.code.as_str()}}));
        self.session.conn.send_frame(frame.into()).await
    }

    /// The session's actor, made from the `user` name the client sends when it has none yet.
    async fn identify(&mut self, user: Option<&str>) -> Result<Actor, ChatError> {
        match (&self.actor, user) {
            (Some(actor), Some(name)) if self.provisional => {
                let actor = self.app.chat.rename(actor, name).await?;
                self.provisional = false;
                self.actor = Some(actor.clone());
                Ok(actor)
            }
            (Some(actor), _) => Ok(actor.clone()),
            (None, Some(_)) if self.app.accounts.guests == GuestAccess::Off => Err(identity::guests_not_allowed()),
            (None, Some(name)) => {
                self.app.guests.take(self.session.peer)?;
                let (_, hash) = auth::new_token();
                let actor = self.app.chat.create_guest(name, &hash).await?;
                self.session.conn.set_actor(&actor.id);
                self.actor = Some(actor.clone());
                Ok(actor)
            }
            (None, None) => Err(ChatError::new(
                ErrorCode::Unauthenticated,
                "send a `user` name, or connect with a session token in `auth`",
            )),
        }
    }

    /// An actor for room creation before the client said its name.
    async fn some_actor(&mut self) -> Result<Actor, ChatError> {
        if self.actor.is_none() {
            self.identify(Some("guest")).await?;
            self.provisional = true;
        }
        self.identify(None).await
    }

    async fn event(&mut self, name: &str, argv: &[Value]) -> Result<Reply, ChatError> {
        let chat = Arc::clone(&self.app.chat);
        let conn = Arc::clone(&self.session.conn);
        match name {
            // A name held by a private room (or a direct conversation) the caller cannot see is answered
            // like any taken name (`room_exists`, `created: false`): names are one namespace, so that
            // the name is taken is the one thing anyone can learn, on every protocol alike; its kind,
            // members, count and history stay hidden, and joining it answers `room_not_found` exactly
            // as for a missing room (docs/protocol.md, "Private rooms").
            "check_room" => {
                let room: String = args(name, argv)?;
                // A room this socket may not see is answered as one that does not exist.
                let exists = match chat.visible_room(self.actor.as_ref(), &room).await {
                    Ok(_) => true,
                    Err(e) if e.code == ErrorCode::RoomNotFound => {
                        let actor = self.some_actor().await?;
                        match chat.create_room(&actor, &room).await {
                            Err(e) if e.code == ErrorCode::RoomExists => true,
                            Err(e) => return Err(e),
                            Ok(_) => false,
                        }
                    }
                    Err(e) => return Err(e),
                };
                conn.send_frame(encode::bare_event(if exists { "room_exists" } else { "room_created" })).await;
                Ok(Reply::Now(json!({"exists": exists})))
            }
            "create_room" => {
                let room: String = args(name, argv)?;
                let actor = self.some_actor().await?;
                let created = match chat.create_room(&actor, &room).await {
                    Ok(_) => true,
                    Err(e) if e.code == ErrorCode::RoomExists => false,
                    Err(e) => return Err(e),
                };
                self.app.hub.announce_rooms();
                Ok(Reply::Now(json!({"created": created})))
            }
            "join_room" => {
                let a: JoinArgs = args(name, argv)?;
                let actor = self.identify(user_name(&a.user)).await?;
                self.join(&actor, &a.room).await
            }
            "leave_room" => {
                let a: JoinArgs = args(name, argv)?;
                let actor = self.identify(user_name(&a.user)).await?;
                let room = self.rooms.get(&self.app, Some(&actor), &a.room).await?;
                self.rooms.leave(&self.app, &conn, &actor, &a.room).await?;
                self.given.retain(|(r, _)| *r != room.id);
                self.keep_record().await;
                Ok(Reply::Now(json!({})))
            }
            "send_message" => {
                let a: SendArgs = args(name, argv)?;
                let client_id = a.message_id.as_ref().map(message_id).transpose()?;
                let actor = self.identify(user_name(&a.user)).await?;
                let room = self.joined(&a.room).await?;
                let pending = chat.send(&actor, conn.id, &room, &a.message, client_id.clone()).await?;
                Ok(Reply::Later(pending, client_id))
            }
            "edit_message" => {
                let a: EditArgs = args(name, argv)?;
                let key = self.key(&a.message_id)?;
                let room = self.joined(&a.room).await?;
                let actor = self.identify(None).await?;
                let client_id = Some(message_id(&a.message_id)?);
                Ok(Reply::Later(chat.edit(&actor, conn.id, &room, &key, &a.new_message).await?, client_id))
            }
            "delete_message" => {
                let a: DeleteArgs = args(name, argv)?;
                let key = self.key(&a.message_id)?;
                let room = self.joined(&a.room).await?;
                let actor = self.identify(None).await?;
                let client_id = Some(message_id(&a.message_id)?);
                Ok(Reply::Later(chat.delete(&actor, conn.id, &room, &key).await?, client_id))
            }
            // Extensions (the seed has no direct messages): the same requests as on /ws.
            "open_direct" => {
                let a: OpenDirectArgs = args(name, argv)?;
                let actor = self.identify(None).await?;
                let (room, members) = chat.open_direct(&actor, &a.with).await?;
                Ok(Reply::Now(json!({"room": {"name": room.name, "kind": room.kind, "members": members}})))
            }
            "my_rooms" => {
                let actor = self.identify(None).await?;
                Ok(Reply::Now(json!({"rooms": chat.my_rooms(&actor).await?})))
            }
            other => Err(ChatError::new(ErrorCode::UnknownEvent, format!("unknown event {other:?}"))),
        }
    }

    fn key(&self, value: &Value) -> Result<MessageKey, ChatError> {
        let prefer = self.actor.as_ref().map(|a| a.id.clone()).ok_or_else(|| {
            ChatError::new(ErrorCode::Unauthenticated, "join a room first")
        })?;
        Ok(MessageKey::Client { client_id: message_id(value)?, prefer })
    }

    /// `join_room`: the room's recent history to the joiner (oldest first), then the join notice to
    /// everyone, in the room's order; the member list follows from the hub.
    async fn join(&mut self, actor: &Actor, name: &str) -> Result<Reply, ChatError> {
        let chat = Arc::clone(&self.app.chat);
        let conn = Arc::clone(&self.session.conn);
        let room = chat.visible_room(Some(actor), name).await?;
        if self.rooms.contains(&room) {
            return Ok(Reply::Now(json!({"room": room.name})));
        }
        let joined = self.rooms.join(&self.app, &conn, actor, &room, None).await?;
        let history = match chat.recent_messages(actor, &room, chat.limits.socketio_history).await {
            Ok(history) => history.into_iter().filter(|e| e.seq <= joined.top_seq).collect(),
            Err(e) => {
                tracing::warn!(room = %room.name, error = %e, "history on join failed; joining without it");
                Vec::new()
            }
        };
        JoinedRooms::answer_with_history(&conn, &room, history, joined.top_seq).await;
        self.given.retain(|(r, _)| *r != room.id);
        self.given.push((room.id, joined.top_seq));
        self.keep_record().await;
        Ok(Reply::Now(json!({"room": room.name, "seq": joined.top_seq})))
    }

    async fn joined(&self, name: &str) -> Result<Room, ChatError> {
        self.rooms.get(&self.app, self.actor.as_ref(), name).await
    }

    fn finish(&mut self) {
        self.app.engine.remove(&self.session.sid);
        self.finish_record();
        let conn = &self.session.conn;
        self.rooms.release(&self.app, conn.id, self.actor.as_ref());
        conn.kill(CloseReason::Normal);
    }

    /// The recovery record as the socket stands now; `None` before there is anything to recover
    /// (recovery off, no CONNECT answered, no actor).
    fn record(&self) -> Option<Record> {
        let actor = self.actor.as_ref()?;
        if !self.connected || self.pid.is_none() {
            return None;
        }
        let given = |id: RoomId| self.given.iter().find(|(r, _)| *r == id).map(|(_, at)| *at);
        Some(Record {
            socket_id: self.socket_id.clone(),
            actor: ActorRecord::of(actor),
            rooms: self.rooms.rooms().filter_map(|r| Some((r.id, r.name.clone(), given(r.id)?))).collect(),
            credential: self.credential.clone(),
        })
    }

    /// With recovery on, (re)writes the record this live socket holds, so that it can be recovered
    /// elsewhere even if this node dies without a word. When another session holds the pid now, this
    /// one closes: one pid, one live socket.
    async fn keep_record(&mut self) {
        let app = Arc::clone(&self.app);
        let (Some(recovery), Some(pid), Some(record)) = (&app.engine.recovery, &self.pid, self.record()) else { return };
        if recovery::hold(recovery, pid, &self.session.sid, &record).await == Held::Lost {
            tracing::warn!("Socket.IO session taken over by another connection; closing this one");
            self.pid = None;
            self.session.conn.kill(CloseReason::Normal);
        }
    }

    /// With recovery on: a connection that was lost (not closed by its client) leaves its record as a
    /// final one for the recovery window; one its client closed removes it. Before the rooms are
    /// released.
    fn finish_record(&mut self) {
        let record = self.record();
        let Some(pid) = self.pid.take() else { return };
        if self.app.engine.recovery.is_none() || !self.connected {
            return;
        }
        let keep = record.filter(|_| !self.session.closed_by_client());
        let app = Arc::clone(&self.app);
        let holder = self.session.sid.clone();
        tokio::spawn(async move {
            if let Some(recovery) = &app.engine.recovery {
                recovery::finish(recovery, &pid, &holder, keep.as_ref()).await;
            }
        });
    }
}
