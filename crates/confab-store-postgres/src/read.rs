//! Reads, and the writes that publish no event (guests, renames, new rooms): one statement each,
//! through [`Db`] (a pooled connection, the store's timeout). Rows are read with `try_get` and values the code
//! does not know (a room kind, an actor kind, a role, an event body) are errors, never defaults.

use confab_core::error::{ChatError, ErrorCode, Result};
use confab_core::event::{Event, EventBody, MessageView};
use confab_core::model::{
    now_ms, Actor, ActorId, ActorKind, ActorRef, Member, Membership, NewInvite, Role, Room, RoomId, RoomKind, Seq, StoredMessage,
};
use confab_core::store::{EventRange, MessageKey};
use tokio_postgres::Row;

use crate::Db;

/// A value this version of the code cannot read: `internal`, and logged.
pub(crate) fn unreadable(what: impl std::fmt::Display) -> ChatError {
    ChatError::internal(format!("unreadable value in the database: {what}"))
}

pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(unreadable)
}

pub async fn create_guest(db: &Db, id: String, name: &str, token_hash: &[u8]) -> Result<Actor> {
    let sql = "INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
    db.execute(sql, &[&id, &ActorKind::Guest.as_str(), &name, &token_hash, &now_ms()]).await?;
    Ok(Actor::guest(ActorId::from(id), name))
}

/// An actor from a row of `id, name, kind` (an account's `admin` is read by the accounts queries).
pub(crate) fn actor_row(r: &Row) -> Result<Actor> {
    let kind: String = get(r, 2)?;
    Ok(Actor {
        id: ActorId::from(get::<String>(r, 0)?),
        name: get(r, 1)?,
        kind: ActorKind::parse(&kind).ok_or_else(|| unreadable(format!("actor kind {kind:?}")))?,
        admin: false,
    })
}

pub async fn actor_by_token(db: &Db, hash: &[u8]) -> Result<Option<Actor>> {
    let row = db.query_opt("SELECT id, name, kind FROM actors WHERE token_hash = $1", &[&hash]).await?;
    row.map(|r| actor_row(&r)).transpose()
}

pub async fn touch_actor(db: &Db, id: &ActorId, at_ms: i64) -> Result<()> {
    db.execute("UPDATE actors SET last_seen = $1 WHERE id = $2", &[&at_ms, &id.as_str()]).await.map(drop)
}

pub async fn expire_idle_guests(db: &Db, before_ms: i64) -> Result<usize> {
    let sql = "UPDATE actors SET token_hash = NULL, expired_at = $1
               WHERE kind = $2 AND token_hash IS NOT NULL AND COALESCE(last_seen, created_at) < $3";
    let n = db.execute(sql, &[&now_ms(), &ActorKind::Guest.as_str(), &before_ms]).await?;
    Ok(n as usize)
}

pub async fn rename_actor(db: &Db, id: &ActorId, name: &str) -> Result<()> {
    db.execute("UPDATE actors SET name = $1 WHERE id = $2", &[&name, &id.as_str()]).await.map(drop)
}

pub async fn create_room(db: &Db, name: &str, kind: RoomKind, owner: &ActorRef) -> Result<Room> {
    let now = now_ms();
    // One statement, so the room and its owner's membership commit together.
    let sql = "WITH r AS (
            INSERT INTO rooms (name, name_key, kind, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (name_key) DO NOTHING RETURNING id),
        m AS (INSERT INTO memberships (room_id, actor_id, role, joined_at) SELECT id, $4, 'owner', $5 FROM r)
        SELECT id FROM r";
    let row = db.query_opt(sql, &[&name, &name.to_lowercase(), &kind.as_str(), &owner.id.as_str(), &now]).await?;
    match row {
        Some(row) => Ok(Room { id: get(&row, 0)?, name: name.to_string(), kind, created_at: now, top_seq: 0 }),
        None => Err(ChatError::new(ErrorCode::RoomExists, format!("a room named {name:?} already exists"))),
    }
}

pub(crate) const ROOM_COLUMNS: &str = "id, name, kind, created_at, top_seq";

pub(crate) fn room_row(r: &Row) -> Result<Room> {
    let kind: String = get(r, 2)?;
    Ok(Room {
        id: get(r, 0)?,
        name: get(r, 1)?,
        kind: RoomKind::parse(&kind).ok_or_else(|| unreadable(format!("room kind {kind:?}")))?,
        created_at: get(r, 3)?,
        top_seq: get(r, 4)?,
    })
}

pub async fn room_by_key(db: &Db, key: &str) -> Result<Option<Room>> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE name_key = $1");
    db.query_opt(&sql, &[&key]).await?.as_ref().map(room_row).transpose()
}

pub async fn rooms(db: &Db) -> Result<Vec<Room>> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms ORDER BY name_key");
    db.query(&sql, &[]).await?.iter().map(room_row).collect()
}

pub async fn listed(db: &Db) -> Result<Vec<(RoomId, ActorRef)>> {
    let rows = db.query(confab_core::store::LISTED_SQL, &[]).await?;
    rows.iter()
        .map(|r| Ok((get(r, 0)?, ActorRef { id: ActorId::from(get::<String>(r, 1)?), name: get(r, 2)? })))
        .collect()
}

pub async fn top_seq(db: &Db, room: RoomId) -> Result<Seq> {
    match db.query_opt("SELECT top_seq FROM rooms WHERE id = $1", &[&room]).await? {
        Some(row) => get(&row, 0),
        None => Err(ChatError::new(ErrorCode::RoomNotFound, "no such room")),
    }
}

pub async fn role(db: &Db, room: RoomId, actor: &ActorId) -> Result<Option<Role>> {
    let sql = "SELECT role FROM memberships WHERE room_id = $1 AND actor_id = $2";
    let row = db.query_opt(sql, &[&room, &actor.as_str()]).await?;
    row.map(|r| {
        let role: String = get(&r, 0)?;
        Role::parse(&role).ok_or_else(|| unreadable(format!("role {role:?}")))
    })
    .transpose()
}

fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| unreadable(format!("role {role:?}")))
}

pub async fn membership(db: &Db, room: RoomId, actor: &ActorId) -> Result<Membership> {
    let sql = "SELECT (SELECT role FROM memberships WHERE room_id = $1 AND actor_id = $2),
                      EXISTS (SELECT 1 FROM bans WHERE room_id = $1 AND actor_id = $2)";
    let row = db.query_opt(sql, &[&room, &actor.as_str()]).await?.ok_or_else(|| unreadable("no row from a scalar select"))?;
    let role: Option<String> = get(&row, 0)?;
    Ok(Membership { role: role.as_deref().map(parse_role).transpose()?, banned: get(&row, 1)? })
}

pub async fn members_of(db: &Db, room: RoomId) -> Result<Vec<Member>> {
    let sql = "SELECT m.actor_id, a.name, m.role FROM memberships m JOIN actors a ON a.id = m.actor_id
               WHERE m.room_id = $1 ORDER BY m.joined_at, m.actor_id";
    db.query(sql, &[&room])
        .await?
        .iter()
        .map(|r| Ok(Member { id: ActorId::from(get::<String>(r, 0)?), name: get(r, 1)?, role: parse_role(&get::<String>(r, 2)?)? }))
        .collect()
}

pub async fn bans(db: &Db, room: RoomId) -> Result<Vec<ActorRef>> {
    let sql = "SELECT actor_id, actor_name FROM bans WHERE room_id = $1 ORDER BY banned_at, actor_id";
    db.query(sql, &[&room])
        .await?
        .iter()
        .map(|r| Ok(ActorRef { id: ActorId::from(get::<String>(r, 0)?), name: get(r, 1)? }))
        .collect()
}

pub async fn memberships_of(db: &Db, actor: &ActorId) -> Result<Vec<(RoomId, Role)>> {
    let sql = "SELECT room_id, role FROM memberships WHERE actor_id = $1";
    db.query(sql, &[&actor.as_str()]).await?.iter().map(|r| Ok((get(r, 0)?, parse_role(&get::<String>(r, 1)?)?))).collect()
}

pub async fn actor(db: &Db, id: &ActorId) -> Result<Option<Actor>> {
    let row = db.query_opt("SELECT id, name, kind FROM actors WHERE id = $1", &[&id.as_str()]).await?;
    row.map(|r| actor_row(&r)).transpose()
}

pub async fn create_room_invite(db: &Db, i: &NewInvite) -> Result<()> {
    let sql = "INSERT INTO room_invites (code_hash, room_id, created_by, created_at, expires_at, max_uses)
               VALUES ($1, $2, $3, $4, $5, $6)";
    db.execute(sql, &[&i.code_hash, &i.room, &i.created_by.as_str(), &i.created_at, &i.expires_at, &i.max_uses]).await.map(drop)
}

/// One statement: the row lock the `UPDATE` takes makes two accepts of the last use take turns, and
/// the second finds no use left.
pub async fn use_room_invite(db: &Db, code_hash: &[u8], now: i64) -> Result<Room> {
    let sql = format!(
        "WITH i AS (UPDATE room_invites SET uses = uses + 1
                    WHERE code_hash = $1 AND expires_at > $2 AND uses < max_uses RETURNING room_id)
         SELECT {ROOM_COLUMNS} FROM rooms WHERE id = (SELECT room_id FROM i)"
    );
    match db.query_opt(&sql, &[&code_hash, &now]).await? {
        Some(row) => room_row(&row),
        None => Err(ChatError::invite_invalid()),
    }
}

pub async fn message(db: &Db, room: RoomId, key: &MessageKey) -> Result<Option<StoredMessage>> {
    const COLS: &str = "id, room_id, author_id, client_id, deleted_at";
    let row = match key {
        MessageKey::Id(id) => {
            let sql = format!("SELECT {COLS} FROM messages WHERE id = $1 AND room_id = $2");
            db.query_opt(&sql, &[id, &room]).await?
        }
        MessageKey::Client { client_id, prefer } => {
            let sql = format!(
                "SELECT {COLS} FROM messages WHERE room_id = $1 AND client_id = $2
                 ORDER BY (deleted_at IS NULL) DESC, (author_id = $3) DESC, created_seq DESC LIMIT 1"
            );
            db.query_opt(&sql, &[&room, client_id, &prefer.as_str()]).await?
        }
    };
    row.map(|r| {
        Ok(StoredMessage {
            id: get(&r, 0)?,
            room_id: get(&r, 1)?,
            author: ActorId::from(get::<String>(&r, 2)?),
            client_id: get(&r, 3)?,
            deleted: get::<Option<i64>>(&r, 4)?.is_some(),
        })
    })
    .transpose()
}

/// The columns [`event_row`] reads, from `events e`, `rooms r` and `messages m`.
const EVENT_COLUMNS: &str = "e.seq, e.kind, e.actor_id, e.actor_name, e.at, e.data,
     m.id, m.client_id, m.content, m.edited_at, m.deleted_at, r.name";

/// Builds an event from a row of [`EVENT_COLUMNS`]; message events take the message's current state.
fn event_row(room_id: RoomId, r: &Row) -> Result<Event> {
    let kind: String = get(r, 1)?;
    let body = if kind == "message" {
        let content: String = get(r, 8)?;
        EventBody::Message {
            message: MessageView {
                id: get(r, 6)?,
                client_id: get(r, 7)?,
                content: serde_json::from_str(&content).map_err(|e| unreadable(format!("message content: {e}")))?,
                edited_at: get(r, 9)?,
                deleted: get::<Option<i64>>(r, 10)?.is_some(),
            },
        }
    } else {
        let data: String = get(r, 5)?;
        serde_json::from_str(&data).map_err(|e| unreadable(format!("{kind} event: {e}")))?
    };
    Ok(Event {
        room: get(r, 11)?,
        room_id,
        seq: get(r, 0)?,
        at: get(r, 4)?,
        actor: ActorRef { id: ActorId::from(get::<String>(r, 2)?), name: get(r, 3)? },
        body,
    })
}

pub async fn events(db: &Db, room: RoomId, range: EventRange, limit: usize) -> Result<Vec<Event>> {
    let (cond, order, seq) = match range {
        EventRange::After(s) => ("e.seq > $2", "ASC", s),
        EventRange::Before(s) => ("e.seq < $2", "DESC", s),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN rooms r ON r.id = e.room_id
         LEFT JOIN messages m ON e.kind = 'message' AND m.id = e.message_id
         WHERE e.room_id = $1 AND {cond} ORDER BY e.seq {order} LIMIT $3"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = db.query(&sql, &[&room, &seq, &limit]).await?;
    let mut events = rows.iter().map(|r| event_row(room, r)).collect::<Result<Vec<_>>>()?;
    if order == "DESC" {
        events.reverse();
    }
    Ok(events)
}

pub async fn recent_messages(db: &Db, room: RoomId, limit: usize) -> Result<Vec<Event>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM messages m JOIN events e ON e.room_id = m.room_id AND e.seq = m.created_seq
         JOIN rooms r ON r.id = m.room_id
         WHERE m.room_id = $1 AND m.deleted_at IS NULL ORDER BY m.created_seq DESC LIMIT $2"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = db.query(&sql, &[&room, &limit]).await?;
    let mut events = rows.iter().map(|r| event_row(room, r)).collect::<Result<Vec<_>>>()?;
    events.reverse();
    Ok(events)
}
