//! Reads, on a small pool of connections used from tokio's blocking threads.

use std::path::PathBuf;

use confab_core::error::{ChatError, Result};
use confab_core::event::{Event, EventBody, MessageView};
use confab_core::model::{Actor, ActorId, ActorKind, ActorRef, Member, Membership, Role, Room, RoomId, RoomKind, Seq, StoredMessage};
use confab_core::store::{EventRange, MessageKey};
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::schema;

/// Read connections open at most: SQLite reads are short, and every connection carries its own page
/// cache, so a burst of joins should queue for a few connections rather than open hundreds.
const MAX_READERS: usize = 4;

pub struct Readers {
    path: PathBuf,
    /// `--database-max-bytes`: the accounts' writes (`accounts.rs`) run on these connections too,
    /// so they carry the same cap as the writer's, or they would grow the file past the quota.
    max_bytes: Option<u64>,
    idle: Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
}

impl Readers {
    pub fn new(path: PathBuf, max_bytes: Option<u64>) -> Self {
        Readers { path, max_bytes, idle: Mutex::new(Vec::new()), permits: tokio::sync::Semaphore::new(MAX_READERS) }
    }

    /// Runs `f` on an idle read connection (opening one if none is idle) on a blocking thread.
    pub async fn run<T, F>(self: &std::sync::Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(ChatError::internal)?;
        let readers = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = match readers.idle.lock().pop() {
                Some(c) => c,
                None => schema::connect_limited(&readers.path, schema::Use::Read, readers.max_bytes).map_err(ChatError::unavailable)?,
            };
            let out = f(&conn);
            readers.idle.lock().push(conn);
            out
        })
        .await
        .map_err(ChatError::internal)?
    }
}

/// A failure of the database itself: `storage_full` when SQLite ran out of space (`SQLITE_FULL`:
/// the disk is full, as the unix VFS reports ENOSPC on a database or WAL write, or the write
/// connection reached `--database-max-bytes`), `unavailable` otherwise.
pub fn db(e: rusqlite::Error) -> ChatError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => ChatError::storage_full(e),
        _ => ChatError::unavailable(e),
    }
}

/// Reads fail as `internal` when a row holds what the code cannot read (an unknown kind), and as
/// `unavailable` when the database itself failed.
pub(crate) fn internal(e: rusqlite::Error) -> ChatError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) => ChatError::internal(e),
        other => db(other),
    }
}

/// A value in the database that this version of the code does not know: refused, never defaulted
/// (reading an unknown room kind as public would open a room to everyone).
pub(crate) fn unknown(what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("unknown {what} {value:?}").into())
}

/// An actor from a row of `id, name, kind` (an account's `admin` is read by the accounts queries).
pub(crate) fn actor_row(r: &Row<'_>) -> rusqlite::Result<Actor> {
    let kind: String = r.get(2)?;
    Ok(Actor {
        id: ActorId::from(r.get::<_, String>(0)?),
        name: r.get(1)?,
        kind: ActorKind::parse(&kind).ok_or_else(|| unknown("actor kind", &kind))?,
        admin: false,
    })
}

pub fn actor_by_token(c: &Connection, hash: &[u8]) -> Result<Option<Actor>> {
    c.prepare_cached("SELECT id, name, kind FROM actors WHERE token_hash = ?1")
        .and_then(|mut s| {
            s.query_row([hash], actor_row)
            .optional()
        })
        .map_err(internal)
}

pub(crate) const ROOM_COLUMNS: &str = "id, name, kind, created_at, top_seq";

pub(crate) fn room_row(r: &Row<'_>) -> rusqlite::Result<Room> {
    let kind: String = r.get(2)?;
    Ok(Room {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: RoomKind::parse(&kind).ok_or_else(|| unknown("room kind", &kind))?,
        created_at: r.get(3)?,
        top_seq: r.get(4)?,
    })
}

pub fn room_by_key(c: &Connection, key: &str) -> Result<Option<Room>> {
    c.prepare_cached(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE name_key = ?1"))
        .and_then(|mut s| s.query_row([key], room_row).optional())
        .map_err(internal)
}

pub fn room_by_id(c: &Connection, id: RoomId) -> Result<Option<Room>> {
    c.prepare_cached(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], room_row).optional())
        .map_err(internal)
}

pub fn rooms(c: &Connection) -> Result<Vec<Room>> {
    let mut s = c.prepare_cached(&format!("SELECT {ROOM_COLUMNS} FROM rooms ORDER BY name_key")).map_err(db)?;
    let rows = s.query_map([], room_row).map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn listed(c: &Connection) -> Result<Vec<(RoomId, ActorRef)>> {
    let mut s = c.prepare_cached(confab_core::store::LISTED_SQL).map_err(db)?;
    let rows = s
        .query_map([], |r| Ok((r.get(0)?, ActorRef { id: ActorId::from(r.get::<_, String>(1)?), name: r.get(2)? })))
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn top_seq(c: &Connection, room: RoomId) -> Result<Seq> {
    c.prepare_cached("SELECT top_seq FROM rooms WHERE id = ?1")
        .and_then(|mut s| s.query_row([room], |r| r.get(0)))
        .map_err(db)
}

pub fn role(c: &Connection, room: RoomId, actor: &ActorId) -> Result<Option<Role>> {
    let role: Option<String> = c
        .prepare_cached("SELECT role FROM memberships WHERE room_id = ?1 AND actor_id = ?2")
        .and_then(|mut s| s.query_row((room, actor.as_str()), |r| r.get(0)).optional())
        .map_err(db)?;
    role.map(|r| Role::parse(&r).ok_or_else(|| ChatError::internal(format!("unknown role {r:?} in the database"))))
        .transpose()
}

fn parse_role(r: &str) -> rusqlite::Result<Role> {
    Role::parse(r).ok_or_else(|| unknown("role", r))
}

pub fn membership(c: &Connection, room: RoomId, actor: &ActorId) -> Result<Membership> {
    c.prepare_cached(
        "SELECT (SELECT role FROM memberships WHERE room_id = ?1 AND actor_id = ?2),
                EXISTS (SELECT 1 FROM bans WHERE room_id = ?1 AND actor_id = ?2)",
    )
    .and_then(|mut s| {
        s.query_row((room, actor.as_str()), |r| {
            let role: Option<String> = r.get(0)?;
            Ok(Membership { role: role.as_deref().map(parse_role).transpose()?, banned: r.get(1)? })
        })
    })
    .map_err(internal)
}

pub fn members_of(c: &Connection, room: RoomId) -> Result<Vec<Member>> {
    let mut s = c
        .prepare_cached(
            "SELECT m.actor_id, a.name, m.role FROM memberships m JOIN actors a ON a.id = m.actor_id
             WHERE m.room_id = ?1 ORDER BY m.joined_at, m.actor_id",
        )
        .map_err(db)?;
    let rows = s
        .query_map([room], |r| {
            let role: String = r.get(2)?;
            Ok(Member { id: ActorId::from(r.get::<_, String>(0)?), name: r.get(1)?, role: parse_role(&role)? })
        })
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn bans(c: &Connection, room: RoomId) -> Result<Vec<ActorRef>> {
    let mut s = c
        .prepare_cached("SELECT actor_id, actor_name FROM bans WHERE room_id = ?1 ORDER BY banned_at, actor_id")
        .map_err(db)?;
    let rows = s
        .query_map([room], |r| Ok(ActorRef { id: ActorId::from(r.get::<_, String>(0)?), name: r.get(1)? }))
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn memberships_of(c: &Connection, actor: &ActorId) -> Result<Vec<(RoomId, Role)>> {
    let mut s = c.prepare_cached("SELECT room_id, role FROM memberships WHERE actor_id = ?1").map_err(db)?;
    let rows = s
        .query_map([actor.as_str()], |r| {
            let role: String = r.get(1)?;
            Ok((r.get(0)?, parse_role(&role)?))
        })
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn actor(c: &Connection, id: &ActorId) -> Result<Option<Actor>> {
    c.prepare_cached("SELECT id, name, kind FROM actors WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id.as_str()], actor_row)
            .optional()
        })
        .map_err(internal)
}

pub fn message(c: &Connection, room: RoomId, key: &MessageKey) -> Result<Option<StoredMessage>> {
    let row = |r: &Row<'_>| {
        Ok(StoredMessage {
            id: r.get(0)?,
            room_id: r.get(1)?,
            author: ActorId::from(r.get::<_, String>(2)?),
            client_id: r.get(3)?,
            deleted: r.get::<_, Option<i64>>(4)?.is_some(),
        })
    };
    const COLS: &str = "id, room_id, author_id, client_id, deleted_at";
    let found = match key {
        MessageKey::Id(id) => c
            .prepare_cached(&format!("SELECT {COLS} FROM messages WHERE id = ?1 AND room_id = ?2"))
            .and_then(|mut s| s.query_row((id, room), row).optional()),
        MessageKey::Client { client_id, prefer } => c
            .prepare_cached(&format!(
                "SELECT {COLS} FROM messages WHERE room_id = ?1 AND client_id = ?2
                 ORDER BY (deleted_at IS NULL) DESC, (author_id = ?3) DESC, id DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row((room, client_id, prefer.as_str()), row).optional()),
    };
    found.map_err(db)
}

const EVENT_COLUMNS: &str = "e.seq, e.kind, e.actor_id, e.actor_name, e.at, e.data,
     m.id, m.client_id, m.content, m.edited_at, m.deleted_at";

/// Builds an event from a row of [`EVENT_COLUMNS`]; message events take the message's current state.
fn event_row(room_name: &str, room_id: RoomId, r: &Row<'_>) -> rusqlite::Result<Event> {
    let kind: String = r.get(1)?;
    let body = if kind == "message" {
        let content: String = r.get(8)?;
        EventBody::Message {
            message: MessageView {
                id: r.get(6)?,
                client_id: r.get(7)?,
                content: serde_json::from_str(&content).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
                })?,
                edited_at: r.get(9)?,
                deleted: r.get::<_, Option<i64>>(10)?.is_some(),
            },
        }
    } else {
        let data: String = r.get(5)?;
        serde_json::from_str(&data)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e)))?
    };
    Ok(Event {
        room: room_name.to_string(),
        room_id,
        seq: r.get(0)?,
        at: r.get(4)?,
        actor: ActorRef { id: ActorId::from(r.get::<_, String>(2)?), name: r.get(3)? },
        body,
    })
}

fn room_name(c: &Connection, room: RoomId) -> Result<String> {
    c.prepare_cached("SELECT name FROM rooms WHERE id = ?1")
        .and_then(|mut s| s.query_row([room], |r| r.get(0)))
        .map_err(db)
}

pub fn events(c: &Connection, room: RoomId, range: EventRange, limit: usize) -> Result<Vec<Event>> {
    let name = room_name(c, room)?;
    let (cond, order, seq) = match range {
        EventRange::After(s) => ("e.seq > ?2", "ASC", s),
        EventRange::Before(s) => ("e.seq < ?2", "DESC", s),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON e.kind = 'message' AND m.id = e.message_id
         WHERE e.room_id = ?1 AND {cond} ORDER BY e.seq {order} LIMIT ?3"
    );
    let mut s = c.prepare_cached(&sql).map_err(db)?;
    let rows = s.query_map((room, seq, limit as i64), |r| event_row(&name, room, r)).map_err(db)?;
    let mut events: Vec<Event> = rows.collect::<rusqlite::Result<_>>().map_err(internal)?;
    if order == "DESC" {
        events.reverse();
    }
    Ok(events)
}

pub fn recent_messages(c: &Connection, room: RoomId, limit: usize) -> Result<Vec<Event>> {
    let name = room_name(c, room)?;
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM messages m JOIN events e ON e.room_id = m.room_id AND e.seq = m.created_seq
         WHERE m.room_id = ?1 AND m.deleted_at IS NULL ORDER BY m.id DESC LIMIT ?2"
    );
    let mut s = c.prepare_cached(&sql).map_err(db)?;
    let rows = s.query_map((room, limit as i64), |r| event_row(&name, room, r)).map_err(db)?;
    let mut events: Vec<Event> = rows.collect::<rusqlite::Result<_>>().map_err(internal)?;
    events.reverse();
    Ok(events)
}

