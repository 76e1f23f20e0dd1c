//! The single writer: group commit on a dedicated thread.
//!
//! Requests arrive on an unbounded channel (callers never block; the queue is bounded in practice by
//! the connections' own rate limits). The thread blocks for the first request, takes every other one
//! already waiting (up to [`MAX_BATCH`]), runs them in one `BEGIN IMMEDIATE … COMMIT` (see
//! [`commit_batch`] for how one failing request is kept from failing the others), then hands the
//! committed events to the sink in commit order and answers each caller. If the commit fails nothing
//! is published and every caller in the batch gets `unavailable`. WAL checkpoints run on their own
//! thread ([`crate::checkpoint`]), not inside a commit.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;

use confab_core::error::{ChatError, ErrorCode, Result};
use confab_core::event::{Event, EventBody, MessageView};
use confab_core::model::{now_ms, Actor, ActorId, ActorKind, ActorRef, Content, NewInvite, Room, RoomId, RoomKind, Seq};
use confab_core::store::{Appended, EventSink, NewEvent};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::checkpoint::Checkpoints;
use crate::read::db;

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 4096;

pub enum Cmd {
    CreateGuest { id: String, name: String, token_hash: Vec<u8>, reply: oneshot::Sender<Result<Actor>> },
    Rename { id: ActorId, name: String, reply: oneshot::Sender<Result<()>> },
    CreateRoom { name: String, kind: RoomKind, owner: ActorRef, reply: oneshot::Sender<Result<Room>> },
    Append { room_id: RoomId, room_name: String, actor: ActorRef, new: NewEvent, reply: oneshot::Sender<Result<Appended>> },
    CreateRoomInvite { invite: NewInvite, reply: oneshot::Sender<Result<()>> },
    UseRoomInvite { code_hash: Vec<u8>, now: i64, reply: oneshot::Sender<Result<Room>> },
}

pub struct Writer {
    tx: mpsc::Sender<Cmd>,
}

impl Writer {
    pub fn start(conn: Connection, sink: Arc<dyn EventSink>, checkpoints: Checkpoints) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || run(conn, rx, sink, checkpoints))?;
        Ok(Writer { tx })
    }

    /// Queues a request; it is applied in the order submitted.
    pub fn submit(&self, cmd: Cmd) -> Result<()> {
        self.tx.send(cmd).map_err(|_| ChatError::unavailable("store writer stopped"))
    }
}

/// What one request produced, held until the commit decides whether its caller gets it.
enum Outcome {
    Guest(Result<Actor>),
    Room(Result<Room>),
    Unit(Result<()>),
    Append(Result<Appended>),
}

impl Outcome {
    fn is_ok(&self) -> bool {
        match self {
            Outcome::Guest(r) => r.is_ok(),
            Outcome::Room(r) => r.is_ok(),
            Outcome::Unit(r) => r.is_ok(),
            Outcome::Append(r) => r.is_ok(),
        }
    }
}

/// Answers a request's caller with its outcome. A caller that went away (its connection closed) no
/// longer needs the answer.
fn answer(cmd: Cmd, outcome: Outcome) {
    match (cmd, outcome) {
        (Cmd::CreateGuest { reply, .. }, Outcome::Guest(r)) => drop(reply.send(r)),
        (Cmd::CreateRoom { reply, .. } | Cmd::UseRoomInvite { reply, .. }, Outcome::Room(r)) => drop(reply.send(r)),
        (Cmd::Rename { reply, .. } | Cmd::CreateRoomInvite { reply, .. }, Outcome::Unit(r)) => drop(reply.send(r)),
        (Cmd::Append { reply, .. }, Outcome::Append(r)) => drop(reply.send(r)),
        (cmd, _) => reject(cmd, &ChatError::internal("store writer: outcome does not match its request")),
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Cmd>, sink: Arc<dyn EventSink>, checkpoints: Checkpoints) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch, sink.as_ref());
        checkpoints.wrote(&conn);
    }
    tracing::info!("store writer stopped");
}

/// How a batch's requests are kept apart inside its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// No savepoints: the cheap path, valid while every request succeeds.
    None,
    /// A savepoint per request, so a failing request rolls back only its own writes.
    PerRequest,
}

/// Commits a batch. It first runs without savepoints (each costs two statements and a statement
/// journal per message); if any request fails, the transaction is rolled back and the batch runs
/// again with a savepoint per request. Failures are rare (an edit of a message just deleted, a room
/// name just taken), so the retry costs little on average.
fn commit_batch(conn: &Connection, batch: &mut Vec<Cmd>, sink: &dyn EventSink) {
    let started = std::time::Instant::now();
    let outcome = match run_batch(conn, batch, Isolation::None) {
        Ok(Some(done)) => Ok(done),
        Ok(None) => run_batch(conn, batch, Isolation::PerRequest).map(|d| d.unwrap_or_default()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((outcomes, events)) => {
            confab_core::observe::committed("sqlite", batch.len(), &events, started.elapsed());
            if !events.is_empty() {
                sink.committed(events);
            }
            for (cmd, outcome) in batch.drain(..).zip(outcomes) {
                answer(cmd, outcome);
            }
        }
        Err(err) => {
            for cmd in batch.drain(..) {
                reject(cmd, &err);
            }
        }
    }
}

type Applied = (Vec<Outcome>, Vec<Event>);

/// Runs the batch in one transaction and commits it. `Ok(None)`: a request failed under
/// [`Isolation::None`] and the transaction was rolled back. `Err`: the transaction itself failed.
fn run_batch(conn: &Connection, batch: &[Cmd], isolation: Isolation) -> Result<Option<Applied>> {
    run_cached(conn, "BEGIN IMMEDIATE").map_err(ChatError::unavailable)?;
    let mut txn = Txn { conn, events: Vec::new(), seqs: HashMap::new() };
    let mut outcomes = Vec::with_capacity(batch.len());
    for cmd in batch {
        let outcome = match isolation {
            Isolation::None => txn.apply(cmd),
            Isolation::PerRequest => txn.apply_in_savepoint(cmd),
        };
        if isolation == Isolation::None && !outcome.is_ok() {
            let _ = run_cached(conn, "ROLLBACK");
            return Ok(None);
        }
        outcomes.push(outcome);
    }
    match txn.store_seqs().and_then(|()| run_cached(conn, "COMMIT").map_err(ChatError::unavailable)) {
        Ok(()) => Ok(Some((outcomes, txn.events))),
        Err(e) => {
            let _ = run_cached(conn, "ROLLBACK");
            Err(e)
        }
    }
}

/// Answers a request's caller with `err`.
fn reject(cmd: Cmd, err: &ChatError) {
    let outcome = failed(&cmd, err.clone());
    answer(cmd, outcome);
}

/// Runs a statement from the connection's cache (parsing `BEGIN`/`COMMIT` and the savepoints each
/// time showed in the profile).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn failed(cmd: &Cmd, err: ChatError) -> Outcome {
    match cmd {
        Cmd::CreateGuest { .. } => Outcome::Guest(Err(err)),
        Cmd::CreateRoom { .. } | Cmd::UseRoomInvite { .. } => Outcome::Room(Err(err)),
        Cmd::Rename { .. } | Cmd::CreateRoomInvite { .. } => Outcome::Unit(Err(err)),
        Cmd::Append { .. } => Outcome::Append(Err(err)),
    }
}

/// One open write transaction.
struct Txn<'c> {
    conn: &'c Connection,
    /// Events appended so far, in sequence order per room.
    events: Vec<Event>,
    /// Each touched room's top sequence: (as stored when first touched, as handed out since). Read
    /// once per room inside the transaction (which holds SQLite's write lock, so no other writer can
    /// move it) and written back once before the commit, instead of an `UPDATE … RETURNING` per event.
    seqs: HashMap<RoomId, (Seq, Seq)>,
}

impl Txn<'_> {
    /// Runs one request inside a savepoint: its failure rolls back only its own writes.
    fn apply_in_savepoint(&mut self, cmd: &Cmd) -> Outcome {
        if let Err(e) = run_cached(self.conn, "SAVEPOINT req") {
            return failed(cmd, ChatError::unavailable(e));
        }
        let mark = self.events.len();
        // An append touches one room's counter: what it was before, to put back on failure.
        let counter = match cmd {
            Cmd::Append { room_id, .. } => Some((*room_id, self.seqs.get(room_id).copied())),
            _ => None,
        };
        let outcome = self.apply(cmd);
        let ended = if outcome.is_ok() {
            run_cached(self.conn, "RELEASE req")
        } else {
            self.events.truncate(mark);
            match counter {
                Some((room, Some(before))) => drop(self.seqs.insert(room, before)),
                Some((room, None)) => drop(self.seqs.remove(&room)),
                None => {}
            }
            run_cached(self.conn, "ROLLBACK TO req").and_then(|_| run_cached(self.conn, "RELEASE req"))
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, "savepoint end failed");
        }
        outcome
    }

    fn apply(&mut self, cmd: &Cmd) -> Outcome {
        let conn = self.conn;
        match cmd {
            Cmd::CreateGuest { id, name, token_hash, .. } => Outcome::Guest(
                conn.execute(
                    "INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (id, ActorKind::Guest.as_str(), name, token_hash, now_ms()),
                )
                .map(|_| Actor::guest(ActorId::from(id.clone()), name.clone()))
                .map_err(db),
            ),
            Cmd::Rename { id, name, .. } => Outcome::Unit(
                conn.execute("UPDATE actors SET name = ?1 WHERE id = ?2", (name, id.as_str())).map(drop).map_err(db),
            ),
            Cmd::CreateRoom { name, kind, owner, .. } => Outcome::Room(create_room(conn, name, *kind, owner)),
            Cmd::CreateRoomInvite { invite, .. } => Outcome::Unit(
                conn.execute(
                    "INSERT INTO room_invites (code_hash, room_id, created_by, created_at, expires_at, max_uses)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    (&invite.code_hash, invite.room, invite.created_by.as_str(), invite.created_at, invite.expires_at, invite.max_uses),
                )
                .map(drop)
                .map_err(db),
            ),
            Cmd::UseRoomInvite { code_hash, now, .. } => Outcome::Room(use_room_invite(conn, code_hash, *now)),
            Cmd::Append { room_id, room_name, actor, new, .. } => {
                Outcome::Append(self.append(*room_id, room_name, actor, new))
            }
        }
    }

    /// The sequence number the room's next event gets (not yet taken: see [`Txn::take_seq`]).
    fn next_seq(&mut self, room: RoomId) -> Result<Seq> {
        if let Some((_, top)) = self.seqs.get(&room) {
            return Ok(top + 1);
        }
        let stored: Seq = self
            .conn
            .prepare_cached("SELECT top_seq FROM rooms WHERE id = ?1")
            .and_then(|mut s| s.query_row([room], |r| r.get(0)))
            .map_err(db)?;
        self.seqs.insert(room, (stored, stored));
        Ok(stored + 1)
    }

    fn take_seq(&mut self, room: RoomId, seq: Seq) {
        if let Some((_, top)) = self.seqs.get_mut(&room) {
            *top = seq;
        }
    }

    /// Writes every touched room's new top sequence back.
    fn store_seqs(&self) -> Result<()> {
        let mut update =
            self.conn.prepare_cached("UPDATE rooms SET top_seq = ?1 WHERE id = ?2").map_err(ChatError::unavailable)?;
        for (room, (stored, top)) in &self.seqs {
            if top != stored {
                update.execute((top, room)).map_err(ChatError::unavailable)?;
            }
        }
        Ok(())
    }

    fn append(&mut self, room_id: RoomId, room_name: &str, actor: &ActorRef, new: &NewEvent) -> Result<Appended> {
        let conn = self.conn;
        let at = now_ms();
        let seq = self.next_seq(room_id)?;
        let (body, message_id) = match new {
            NewEvent::Message { content, client_id } => {
                let content_json = serde_json::to_string(content).map_err(ChatError::internal)?;
                // The unique (room, client id, author) index makes a resent message a no-op.
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO messages (room_id, author_id, client_id, content, created_seq, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    )
                    .and_then(|mut s| s.execute((room_id, actor.id.as_str(), client_id, &content_json, seq, at)))
                    .map_err(db)?;
                if inserted == 0 {
                    return self.duplicate(room_id, actor, client_id.as_deref());
                }
                let id = conn.last_insert_rowid();
                let message = MessageView {
                    id,
                    client_id: client_id.clone(),
                    content: content.clone(),
                    edited_at: None,
                    deleted: false,
                };
                (EventBody::Message { message }, Some(id))
            }
            NewEvent::Edit { message_id, content } => {
                let content_json = serde_json::to_string(content).map_err(ChatError::internal)?;
                let client_id = change_message(
                    conn,
                    "UPDATE messages SET content = ?1, edited_at = ?2 WHERE id = ?3 AND room_id = ?4 AND deleted_at IS NULL RETURNING client_id",
                    &content_json,
                    at,
                    *message_id,
                    room_id,
                )?;
                let body = EventBody::Edit { message_id: *message_id, client_id, content: content.clone(), edited_at: at };
                (body, Some(*message_id))
            }
            NewEvent::Delete { message_id } => {
                let empty = serde_json::to_string(&Content::default()).map_err(ChatError::internal)?;
                let client_id = change_message(
                    conn,
                    "UPDATE messages SET content = ?1, deleted_at = ?2 WHERE id = ?3 AND room_id = ?4 AND deleted_at IS NULL RETURNING client_id",
                    &empty,
                    at,
                    *message_id,
                    room_id,
                )?;
                (EventBody::Delete { message_id: *message_id, client_id }, Some(*message_id))
            }
            NewEvent::Join => {
                conn.prepare_cached(
                    "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES (?1, ?2, 'member', ?3)
                     ON CONFLICT (room_id, actor_id) DO NOTHING",
                )
                .and_then(|mut s| s.execute((room_id, actor.id.as_str(), at)))
                .map_err(db)?;
                (EventBody::Join, None)
            }
            NewEvent::Leave { reason } => (EventBody::Leave { reason: *reason }, None),
            NewEvent::Role { target, role } => {
                conn.prepare_cached(
                    "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (room_id, actor_id) DO UPDATE SET role = excluded.role",
                )
                .and_then(|mut s| s.execute((room_id, target.id.as_str(), role.as_str(), at)))
                .map_err(db)?;
                (EventBody::Role { target: target.clone(), role: *role }, None)
            }
            NewEvent::Kick { target } => {
                remove_member(conn, room_id, &target.id)?;
                (EventBody::Kick { target: target.clone() }, None)
            }
            NewEvent::Ban { target } => {
                remove_member(conn, room_id, &target.id)?;
                conn.prepare_cached(
                    "INSERT INTO bans (room_id, actor_id, actor_name, banned_by, banned_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (room_id, actor_id) DO NOTHING",
                )
                .and_then(|mut s| s.execute((room_id, target.id.as_str(), &target.name, actor.id.as_str(), at)))
                .map_err(db)?;
                (EventBody::Ban { target: target.clone() }, None)
            }
            NewEvent::Unban { target } => {
                conn.prepare_cached("DELETE FROM bans WHERE room_id = ?1 AND actor_id = ?2")
                    .and_then(|mut s| s.execute((room_id, target.id.as_str())))
                    .map_err(db)?;
                (EventBody::Unban { target: target.clone() }, None)
            }
            NewEvent::Added { target } => {
                conn.prepare_cached(
                    "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES (?1, ?2, 'member', ?3)
                     ON CONFLICT (room_id, actor_id) DO NOTHING",
                )
                .and_then(|mut s| s.execute((room_id, target.id.as_str(), at)))
                .map_err(db)?;
                (EventBody::Added { target: target.clone() }, None)
            }
        };
        // Message events keep their content in `messages` (its current state); others carry it here.
        let data = match &body {
            EventBody::Message { .. } => "{}".to_string(),
            other => serde_json::to_string(other).map_err(ChatError::internal)?,
        };
        conn.prepare_cached(
            "INSERT INTO events (room_id, seq, kind, actor_id, actor_name, at, message_id, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut s| s.execute((room_id, seq, body.kind(), actor.id.as_str(), &actor.name, at, message_id, &data)))
        .map_err(db)?;
        self.take_seq(room_id, seq);
        self.events.push(Event { room: room_name.to_string(), room_id, seq, at, actor: actor.clone(), body });
        Ok(Appended { seq, message_id, duplicate: false })
    }

    /// The answer to a message whose client id this author already used in this room: the stored one.
    fn duplicate(&self, room_id: RoomId, actor: &ActorRef, client_id: Option<&str>) -> Result<Appended> {
        let (id, seq) = self
            .conn
            .prepare_cached("SELECT id, created_seq FROM messages WHERE room_id = ?1 AND client_id = ?2 AND author_id = ?3")
            .and_then(|mut s| s.query_row((room_id, client_id, actor.id.as_str()), |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(db)?;
        Ok(Appended { seq, message_id: Some(id), duplicate: true })
    }
}

fn create_room(conn: &Connection, name: &str, kind: RoomKind, owner: &ActorRef) -> Result<Room> {
    let now = now_ms();
    let inserted = conn.query_row(
        "INSERT INTO rooms (name, name_key, kind, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name_key) DO NOTHING RETURNING id",
        (name, name.to_lowercase(), kind.as_str(), owner.id.as_str(), now),
        |r| r.get::<_, RoomId>(0),
    );
    let id = match inserted.optional().map_err(db)? {
        Some(id) => id,
        None => return Err(ChatError::new(ErrorCode::RoomExists, format!("a room named {name:?} already exists"))),
    };
    conn.execute(
        "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES (?1, ?2, 'owner', ?3)",
        (id, owner.id.as_str(), now),
    )
    .map_err(db)?;
    Ok(Room { id, name: name.to_string(), kind, created_at: now, top_seq: 0 })
}

fn remove_member(conn: &Connection, room_id: RoomId, actor: &ActorId) -> Result<()> {
    conn.prepare_cached("DELETE FROM memberships WHERE room_id = ?1 AND actor_id = ?2")
        .and_then(|mut s| s.execute((room_id, actor.as_str())))
        .map(drop)
        .map_err(db)
}

/// Takes one use of a valid invite, in the writer's transaction (so two accepts of the last use
/// cannot both get it); `invite_invalid` for an unknown, expired or used-up code.
fn use_room_invite(conn: &Connection, code_hash: &[u8], now: i64) -> Result<Room> {
    let room: Option<RoomId> = conn
        .prepare_cached(
            "UPDATE room_invites SET uses = uses + 1 WHERE code_hash = ?1 AND expires_at > ?2 AND uses < max_uses
             RETURNING room_id",
        )
        .and_then(|mut s| s.query_row((code_hash, now), |r| r.get(0)).optional())
        .map_err(db)?;
    let Some(room) = room else { return Err(ChatError::invite_invalid()) };
    crate::read::room_by_id(conn, room)?.ok_or_else(ChatError::invite_invalid)
}

/// Updates a live message; `message_not_found` when it is gone. Returns its client id.
fn change_message(
    conn: &Connection,
    sql: &str,
    content_json: &str,
    at: i64,
    message_id: i64,
    room_id: RoomId,
) -> Result<Option<String>> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row((content_json, at, message_id, room_id), |r| r.get(0)).optional())
        .map_err(db)?;
    changed.ok_or_else(ChatError::message_not_found)
}
