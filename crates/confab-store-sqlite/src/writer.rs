//! The single writer: group commit on a dedicated thread.
//!
//! Requests arrive on an unbounded channel (callers never block; the queue is bounded in practice by
//! the connections' own rate limits). The thread blocks for the first request, takes every other one
//! already waiting (up to [`MAX_BATCH`]), runs them in one `BEGIN IMMEDIATE … COMMIT`, each inside a
//! savepoint, then hands the committed events to the sink in commit order and answers each caller.
//! If the commit fails nothing is published and every caller in the batch gets `unavailable`.

use std::sync::mpsc;
use std::sync::Arc;

use confab_core::error::{ChatError, ErrorCode, Result};
use confab_core::event::{Event, EventBody, MessageView};
use confab_core::model::{now_ms, Actor, ActorId, ActorKind, ActorRef, Content, Room, RoomId, RoomKind, Seq};
use confab_core::store::{Appended, EventSink, NewEvent};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::read::db;

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 1024;

pub enum Cmd {
    CreateGuest { id: String, name: String, token_hash: Vec<u8>, reply: oneshot::Sender<Result<Actor>> },
    Rename { id: ActorId, name: String, reply: oneshot::Sender<Result<()>> },
    CreateRoom { name: String, kind: RoomKind, owner: ActorRef, reply: oneshot::Sender<Result<Room>> },
    Append { room_id: RoomId, room_name: String, actor: ActorRef, new: NewEvent, reply: oneshot::Sender<Result<Appended>> },
}

pub struct Writer {
    tx: mpsc::Sender<Cmd>,
}

impl Writer {
    pub fn start(conn: Connection, sink: Arc<dyn EventSink>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || run(conn, rx, sink))?;
        Ok(Writer { tx })
    }

    /// Queues a request; it is applied in the order submitted.
    pub fn submit(&self, cmd: Cmd) -> Result<()> {
        self.tx.send(cmd).map_err(|_| ChatError::unavailable("store writer stopped"))
    }
}

/// A finished request waiting for the commit before its caller is answered.
enum Done {
    Guest(oneshot::Sender<Result<Actor>>, Result<Actor>),
    Room(oneshot::Sender<Result<Room>>, Result<Room>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
    Append(oneshot::Sender<Result<Appended>>, Result<Appended>),
}

impl Done {
    fn answer(self, failed: Option<&ChatError>) {
        // A caller that went away (its connection closed) no longer needs the answer.
        match (self, failed) {
            (Done::Guest(tx, r), f) => drop(tx.send(f.map_or(r, |e| Err(e.clone())))),
            (Done::Room(tx, r), f) => drop(tx.send(f.map_or(r, |e| Err(e.clone())))),
            (Done::Unit(tx, r), f) => drop(tx.send(f.map_or(r, |e| Err(e.clone())))),
            (Done::Append(tx, r), f) => drop(tx.send(f.map_or(r, |e| Err(e.clone())))),
        }
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Cmd>, sink: Arc<dyn EventSink>) {
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
    }
    tracing::info!("store writer stopped");
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Cmd>, sink: &dyn EventSink) {
    let mut done = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = ChatError::unavailable(e);
        for cmd in batch.drain(..) {
            reject(cmd, &err);
        }
        return;
    }
    for cmd in batch.drain(..) {
        done.push(apply_in_savepoint(conn, cmd, &mut events));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            if !events.is_empty() {
                sink.committed(events);
            }
            for d in done {
                d.answer(None);
            }
        }
        Err(e) => {
            let err = ChatError::unavailable(e);
            let _ = conn.execute_batch("ROLLBACK");
            for d in done {
                d.answer(Some(&err));
            }
        }
    }
}

fn reject(cmd: Cmd, err: &ChatError) {
    match cmd {
        Cmd::CreateGuest { reply, .. } => drop(reply.send(Err(err.clone()))),
        Cmd::CreateRoom { reply, .. } => drop(reply.send(Err(err.clone()))),
        Cmd::Rename { reply, .. } => drop(reply.send(Err(err.clone()))),
        Cmd::Append { reply, .. } => drop(reply.send(Err(err.clone()))),
    }
}

/// Runs one request inside a savepoint: its failure rolls back only its own writes.
fn apply_in_savepoint(conn: &Connection, cmd: Cmd, events: &mut Vec<Event>) -> Done {
    if let Err(e) = run_cached(conn, "SAVEPOINT req") {
        let err = ChatError::unavailable(e);
        reject_done(cmd, err)
    } else {
        let mark = events.len();
        let done = apply(conn, cmd, events);
        let ok = match &done {
            Done::Guest(_, r) => r.is_ok(),
            Done::Room(_, r) => r.is_ok(),
            Done::Unit(_, r) => r.is_ok(),
            Done::Append(_, r) => r.is_ok(),
        };
        if !ok {
            events.truncate(mark);
        }
        let ended = if ok {
            run_cached(conn, "RELEASE req")
        } else {
            run_cached(conn, "ROLLBACK TO req").and_then(|_| run_cached(conn, "RELEASE req"))
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, "savepoint end failed");
        }
        done
    }
}

/// Runs a statement from the connection's cache: savepoints run twice per request, and parsing them
/// each time showed in the profile.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn reject_done(cmd: Cmd, err: ChatError) -> Done {
    match cmd {
        Cmd::CreateGuest { reply, .. } => Done::Guest(reply, Err(err)),
        Cmd::CreateRoom { reply, .. } => Done::Room(reply, Err(err)),
        Cmd::Rename { reply, .. } => Done::Unit(reply, Err(err)),
        Cmd::Append { reply, .. } => Done::Append(reply, Err(err)),
    }
}

fn apply(conn: &Connection, cmd: Cmd, events: &mut Vec<Event>) -> Done {
    match cmd {
        Cmd::CreateGuest { id, name, token_hash, reply } => {
            let r = conn
                .execute(
                    "INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (&id, ActorKind::Guest.as_str(), &name, &token_hash, now_ms()),
                )
                .map(|_| Actor { id: ActorId::from(id), name, kind: ActorKind::Guest })
                .map_err(db);
            Done::Guest(reply, r)
        }
        Cmd::Rename { id, name, reply } => {
            let r = conn
                .execute("UPDATE actors SET name = ?1 WHERE id = ?2", (&name, id.as_str()))
                .map(drop)
                .map_err(db);
            Done::Unit(reply, r)
        }
        Cmd::CreateRoom { name, kind, owner, reply } => Done::Room(reply, create_room(conn, name, kind, &owner)),
        Cmd::Append { room_id, room_name, actor, new, reply } => {
            let r = append(conn, room_id, &room_name, actor, new, events);
            Done::Append(reply, r)
        }
    }
}

fn create_room(conn: &Connection, name: String, kind: RoomKind, owner: &ActorRef) -> Result<Room> {
    let now = now_ms();
    let inserted = conn.query_row(
        "INSERT INTO rooms (name, name_key, kind, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name_key) DO NOTHING RETURNING id",
        (&name, name.to_lowercase(), kind.as_str(), owner.id.as_str(), now),
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
    Ok(Room { id, name, kind, created_at: now, top_seq: 0 })
}

fn next_seq(conn: &Connection, room: RoomId) -> Result<Seq> {
    conn.prepare_cached("UPDATE rooms SET top_seq = top_seq + 1 WHERE id = ?1 RETURNING top_seq")
        .and_then(|mut s| s.query_row([room], |r| r.get(0)))
        .map_err(db)
}

fn append(
    conn: &Connection,
    room_id: RoomId,
    room_name: &str,
    actor: ActorRef,
    new: NewEvent,
    events: &mut Vec<Event>,
) -> Result<Appended> {
    let at = now_ms();
    let (body, message_id) = match new {
        NewEvent::Message { content, client_id } => {
            if let Some(cid) = &client_id {
                let existing = conn
                    .prepare_cached(
                        "SELECT id, created_seq FROM messages WHERE room_id = ?1 AND author_id = ?2 AND client_id = ?3",
                    )
                    .and_then(|mut s| {
                        s.query_row((room_id, actor.id.as_str(), cid), |r| Ok((r.get(0)?, r.get(1)?))).optional()
                    })
                    .map_err(db)?;
                if let Some((id, seq)) = existing {
                    return Ok(Appended { seq, message_id: Some(id), duplicate: true });
                }
            }
            let seq = next_seq(conn, room_id)?;
            let content_json = serde_json::to_string(&content).map_err(ChatError::internal)?;
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO messages (room_id, author_id, client_id, content, created_seq, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_row((room_id, actor.id.as_str(), &client_id, &content_json, seq, at), |r| r.get(0))
                })
                .map_err(db)?;
            let message = MessageView { id, client_id, content, edited_at: None, deleted: false };
            return finish(conn, room_id, room_name, seq, at, actor, EventBody::Message { message }, Some(id), events);
        }
        NewEvent::Edit { message_id, content } => {
            let content_json = serde_json::to_string(&content).map_err(ChatError::internal)?;
            let client_id = change_message(
                conn,
                "UPDATE messages SET content = ?1, edited_at = ?2 WHERE id = ?3 AND room_id = ?4 AND deleted_at IS NULL RETURNING client_id",
                &content_json,
                at,
                message_id,
                room_id,
            )?;
            (EventBody::Edit { message_id, client_id, content, edited_at: at }, Some(message_id))
        }
        NewEvent::Delete { message_id } => {
            let empty = serde_json::to_string(&Content::default()).map_err(ChatError::internal)?;
            let client_id = change_message(
                conn,
                "UPDATE messages SET content = ?1, deleted_at = ?2 WHERE id = ?3 AND room_id = ?4 AND deleted_at IS NULL RETURNING client_id",
                &empty,
                at,
                message_id,
                room_id,
            )?;
            (EventBody::Delete { message_id, client_id }, Some(message_id))
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
        NewEvent::Leave { reason } => (EventBody::Leave { reason }, None),
    };
    let seq = next_seq(conn, room_id)?;
    finish(conn, room_id, room_name, seq, at, actor, body, message_id, events)
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

#[allow(clippy::too_many_arguments)]
fn finish(
    conn: &Connection,
    room_id: RoomId,
    room_name: &str,
    seq: Seq,
    at: i64,
    actor: ActorRef,
    body: EventBody,
    message_id: Option<i64>,
    events: &mut Vec<Event>,
) -> Result<Appended> {
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
    events.push(Event { room: room_name.to_string(), room_id, seq, at, actor, body });
    Ok(Appended { seq, message_id, duplicate: false })
}
