//! The store section "direct": direct rooms, "my rooms", incoming webhooks (migration 0005).
//! Reads run on the read pool; writes run on the writer thread ([`crate::writer::Cmd::Exec`]), which
//! serialises them with every other write, so "find the room of this member key, or create it" needs
//! no more than one transaction.

use confab_core::direct::{OpenedDirect, Webhook, WebhookSecret};
use confab_core::error::{ChatError, ErrorCode, Result};
use confab_core::model::{now_ms, Actor, ActorId, ActorKind, ActorRef, Role, Room, RoomId, RoomKind};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::read::{db, internal, room_row, unknown, ROOM_COLUMNS};

fn role(r: &Row<'_>, idx: usize) -> rusqlite::Result<Role> {
    let role: String = r.get(idx)?;
    Role::parse(&role).ok_or_else(|| unknown("role", &role))
}

pub fn actors(c: &Connection, ids: &[ActorId]) -> Result<Vec<Actor>> {
    let mut s = c.prepare_cached("SELECT id, name, kind FROM actors WHERE id = ?1").map_err(db)?;
    let mut out = Vec::new();
    for id in ids {
        let found = s
            .query_row([id.as_str()], crate::read::actor_row)
            .optional()
            .map_err(internal)?;
        out.extend(found);
    }
    Ok(out)
}

/// On the writer: the room of `key`, or a new one with every member.
pub fn open_direct(c: &Connection, key: &str, name: &str, members: &[ActorRef]) -> Result<OpenedDirect> {
    let existing = c
        .prepare_cached(&format!(
            "SELECT {ROOM_COLUMNS} FROM rooms WHERE id = (SELECT room_id FROM direct_rooms WHERE member_key = ?1)"
        ))
        .and_then(|mut s| s.query_row([key], room_row).optional())
        .map_err(internal)?;
    if let Some(room) = existing {
        return Ok(OpenedDirect { room, created: false });
    }
    let Some(opener) = members.first() else {
        return Err(ChatError::bad_request("a direct room has members"));
    };
    let now = now_ms();
    let inserted = c
        .query_row(
            "INSERT INTO rooms (name, name_key, kind, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name_key) DO NOTHING RETURNING id",
            (name, name.to_lowercase(), RoomKind::Direct.as_str(), opener.id.as_str(), now),
            |r| r.get::<_, RoomId>(0),
        )
        .optional()
        .map_err(db)?;
    // 100 random bits: a taken name means something is wrong, not bad luck worth retrying.
    let id = inserted.ok_or_else(|| ChatError::new(ErrorCode::RoomExists, "direct room name taken"))?;
    c.execute("INSERT INTO direct_rooms (room_id, member_key) VALUES (?1, ?2)", (id, key)).map_err(db)?;
    let mut add = c
        .prepare_cached("INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES (?1, ?2, 'member', ?3)")
        .map_err(db)?;
    for (i, m) in members.iter().enumerate() {
        // joined_at orders the members as they were named (the opener first).
        add.execute((id, m.id.as_str(), now + i as i64)).map_err(db)?;
    }
    let room = Room { id, name: name.to_string(), kind: RoomKind::Direct, created_at: now, top_seq: 0 };
    Ok(OpenedDirect { room, created: true })
}

pub fn room_members(c: &Connection, room: RoomId) -> Result<Vec<(ActorRef, Role)>> {
    let mut s = c
        .prepare_cached(
            "SELECT a.id, a.name, m.role FROM memberships m JOIN actors a ON a.id = m.actor_id
             WHERE m.room_id = ?1 ORDER BY m.joined_at, a.id",
        )
        .map_err(db)?;
    let rows = s
        .query_map([room], |r| Ok((ActorRef { id: ActorId::from(r.get::<_, String>(0)?), name: r.get(1)? }, role(r, 2)?)))
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn my_rooms(c: &Connection, actor: &ActorId) -> Result<Vec<(Room, Role)>> {
    let cols = ROOM_COLUMNS.split(", ").map(|col| format!("r.{col}")).collect::<Vec<_>>().join(", ");
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {cols}, m.role FROM memberships m JOIN rooms r ON r.id = m.room_id
             WHERE m.actor_id = ?1 ORDER BY r.name_key"
        ))
        .map_err(db)?;
    let rows = s.query_map([actor.as_str()], |r| Ok((room_row(r)?, role(r, 5)?))).map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

/// On the writer: the webhook's actor and its row, together.
pub fn create_webhook(c: &Connection, id: &ActorId, room: RoomId, name: &str, secret_hash: &[u8], by: &ActorId) -> Result<Webhook> {
    let now = now_ms();
    c.execute(
        "INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES (?1, ?2, ?3, NULL, ?4)",
        (id.as_str(), ActorKind::Webhook.as_str(), name, now),
    )
    .map_err(db)?;
    c.execute(
        "INSERT INTO webhooks (id, room_id, name, secret_hash, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        (id.as_str(), room, name, secret_hash, by.as_str(), now),
    )
    .map_err(db)?;
    Ok(Webhook { id: id.clone(), room_id: room, name: name.to_string(), created_at: now, created_by: by.clone() })
}

fn webhook_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        id: ActorId::from(r.get::<_, String>(0)?),
        room_id: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
        created_by: ActorId::from(r.get::<_, String>(4)?),
    })
}

const WEBHOOK_COLUMNS: &str = "w.id, w.room_id, w.name, w.created_at, w.created_by";

pub fn webhooks(c: &Connection, room: RoomId) -> Result<Vec<Webhook>> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.room_id = ?1 AND w.revoked_at IS NULL ORDER BY w.created_at, w.id"
        ))
        .map_err(db)?;
    let rows = s.query_map([room], webhook_row).map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(internal)
}

pub fn webhook(c: &Connection, id: &ActorId) -> Result<Option<WebhookSecret>> {
    let cols = ROOM_COLUMNS.split(", ").map(|col| format!("r.{col}")).collect::<Vec<_>>().join(", ");
    c.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS}, w.secret_hash, {cols} FROM webhooks w JOIN rooms r ON r.id = w.room_id
         WHERE w.id = ?1 AND w.revoked_at IS NULL"
    ))
    .and_then(|mut s| {
        s.query_row([id.as_str()], |r| {
            let room = Room {
                id: r.get(6)?,
                name: r.get(7)?,
                kind: {
                    let kind: String = r.get(8)?;
                    RoomKind::parse(&kind).ok_or_else(|| unknown("room kind", &kind))?
                },
                created_at: r.get(9)?,
                top_seq: r.get(10)?,
            };
            Ok(WebhookSecret { webhook: webhook_row(r)?, room, secret_hash: r.get(5)? })
        })
        .optional()
    })
    .map_err(internal)
}

/// On the writer.
pub fn revoke_webhook(c: &Connection, room: RoomId, id: &ActorId) -> Result<bool> {
    let changed = c
        .execute(
            "UPDATE webhooks SET revoked_at = ?1 WHERE id = ?2 AND room_id = ?3 AND revoked_at IS NULL",
            (now_ms(), id.as_str(), room),
        )
        .map_err(db)?;
    Ok(changed == 1)
}
