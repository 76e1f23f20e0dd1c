//! The store section "direct" on PostgreSQL: direct rooms, "my rooms", incoming webhooks
//! (migration 0004). Each write is one statement on the pool (nothing here publishes an event).
//!
//! One room per member key across nodes: the new room, its `direct_rooms` row and the memberships
//! are inserted by one statement whose key insert is `ON CONFLICT DO NOTHING`. When two nodes open
//! the same conversation at once, PostgreSQL makes the second wait for the first's commit, then its
//! key insert does nothing (and so do its memberships); the loser deletes the room row it made and
//! reads the winner's room.

use confab_core::direct::{OpenedDirect, Webhook, WebhookSecret};
use confab_core::error::{ChatError, Result};
use confab_core::model::{now_ms, Actor, ActorId, ActorKind, ActorRef, Role, Room, RoomId, RoomKind};
use tokio_postgres::Row;

use crate::read::{get, room_row, unreadable, ROOM_COLUMNS};
use crate::Db;

fn role(r: &Row, idx: usize) -> Result<Role> {
    let role: String = get(r, idx)?;
    Role::parse(&role).ok_or_else(|| unreadable(format!("role {role:?}")))
}

pub async fn actors(db: &Db, ids: &[ActorId]) -> Result<Vec<Actor>> {
    let ids: Vec<&str> = ids.iter().map(ActorId::as_str).collect();
    let rows = db.query("SELECT id, name, kind FROM actors WHERE id = ANY($1)", &[&ids]).await?;
    rows.iter().map(crate::read::actor_row).collect()
}

async fn direct_room(db: &Db, key: &str) -> Result<Option<Room>> {
    let sql = format!(
        "SELECT {ROOM_COLUMNS} FROM rooms WHERE id = (SELECT room_id FROM direct_rooms WHERE member_key = $1)"
    );
    db.query_opt(&sql, &[&key]).await?.as_ref().map(room_row).transpose()
}

pub async fn open_direct(db: &Db, key: &str, name: &str, members: &[ActorRef]) -> Result<OpenedDirect> {
    if let Some(room) = direct_room(db, key).await? {
        return Ok(OpenedDirect { room, created: false });
    }
    let Some(opener) = members.first() else {
        return Err(ChatError::bad_request("a direct room has members"));
    };
    let now = now_ms();
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let sql = "WITH r AS (
            INSERT INTO rooms (name, name_key, kind, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id),
        d AS (
            INSERT INTO direct_rooms (room_id, member_key) SELECT id, $6 FROM r
            ON CONFLICT (member_key) DO NOTHING RETURNING room_id),
        m AS (
            INSERT INTO memberships (room_id, actor_id, role, joined_at)
            SELECT d.room_id, u.id, 'member', $5 + u.ord - 1 FROM d, unnest($7::text[]) WITH ORDINALITY AS u(id, ord))
        SELECT (SELECT id FROM r), (SELECT room_id FROM d)";
    let kind = RoomKind::Direct.as_str();
    let rows = db
        .query(sql, &[&name, &name.to_lowercase(), &kind, &opener.id.as_str(), &now, &key, &ids])
        .await?;
    let row = rows.first().ok_or_else(|| ChatError::internal("open_direct: no row"))?;
    let (made, keyed): (RoomId, Option<RoomId>) = (get(row, 0)?, get(row, 1)?);
    match keyed {
        Some(id) => Ok(OpenedDirect {
            room: Room { id, name: name.to_string(), kind: RoomKind::Direct, created_at: now, top_seq: 0 },
            created: true,
        }),
        None => {
            // Another node opened it first: our room row has nothing pointing at it.
            db.execute("DELETE FROM rooms WHERE id = $1", &[&made]).await?;
            let room = direct_room(db, key).await?.ok_or_else(|| ChatError::internal("open_direct: key without room"))?;
            Ok(OpenedDirect { room, created: false })
        }
    }
}

pub async fn room_members(db: &Db, room: RoomId) -> Result<Vec<(ActorRef, Role)>> {
    let sql = "SELECT a.id, a.name, m.role FROM memberships m JOIN actors a ON a.id = m.actor_id
               WHERE m.room_id = $1 ORDER BY m.joined_at, a.id";
    let rows = db.query(sql, &[&room]).await?;
    rows.iter()
        .map(|r| Ok((ActorRef { id: ActorId::from(get::<String>(r, 0)?), name: get(r, 1)? }, role(r, 2)?)))
        .collect()
}

fn prefixed(prefix: &str) -> String {
    ROOM_COLUMNS.split(", ").map(|col| format!("{prefix}.{col}")).collect::<Vec<_>>().join(", ")
}

pub async fn my_rooms(db: &Db, actor: &ActorId) -> Result<Vec<(Room, Role)>> {
    let sql = format!(
        "SELECT {}, m.role FROM memberships m JOIN rooms r ON r.id = m.room_id
         WHERE m.actor_id = $1 ORDER BY r.name_key",
        prefixed("r")
    );
    let rows = db.query(&sql, &[&actor.as_str()]).await?;
    rows.iter().map(|r| Ok((room_row(r)?, role(r, 5)?))).collect()
}

pub async fn create_webhook(db: &Db, room: RoomId, name: &str, secret_hash: &[u8], by: &ActorId) -> Result<Webhook> {
    let id = ActorId::new_webhook();
    let now = now_ms();
    // One statement: the actor and the webhook commit together.
    let sql = "WITH a AS (
            INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES ($1, $2, $3, NULL, $6) RETURNING id)
        INSERT INTO webhooks (id, room_id, name, secret_hash, created_by, created_at)
        SELECT a.id, $4, $3, $5, $7, $6 FROM a";
    let kind = ActorKind::Webhook.as_str();
    db.execute(sql, &[&id.as_str(), &kind, &name, &room, &secret_hash, &now, &by.as_str()]).await?;
    Ok(Webhook { id, room_id: room, name: name.to_string(), created_at: now, created_by: by.clone() })
}

const WEBHOOK_COLUMNS: &str = "w.id, w.room_id, w.name, w.created_at, w.created_by";

fn webhook_row(r: &Row) -> Result<Webhook> {
    Ok(Webhook {
        id: ActorId::from(get::<String>(r, 0)?),
        room_id: get(r, 1)?,
        name: get(r, 2)?,
        created_at: get(r, 3)?,
        created_by: ActorId::from(get::<String>(r, 4)?),
    })
}

pub async fn webhooks(db: &Db, room: RoomId) -> Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.room_id = $1 AND w.revoked_at IS NULL ORDER BY w.created_at, w.id"
    );
    db.query(&sql, &[&room]).await?.iter().map(webhook_row).collect()
}

pub async fn webhook(db: &Db, id: &ActorId) -> Result<Option<WebhookSecret>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS}, w.secret_hash, {} FROM webhooks w JOIN rooms r ON r.id = w.room_id
         WHERE w.id = $1 AND w.revoked_at IS NULL",
        prefixed("r")
    );
    let Some(r) = db.query_opt(&sql, &[&id.as_str()]).await? else { return Ok(None) };
    let kind: String = get(&r, 8)?;
    let room = Room {
        id: get(&r, 6)?,
        name: get(&r, 7)?,
        kind: RoomKind::parse(&kind).ok_or_else(|| unreadable(format!("room kind {kind:?}")))?,
        created_at: get(&r, 9)?,
        top_seq: get(&r, 10)?,
    };
    Ok(Some(WebhookSecret { webhook: webhook_row(&r)?, room, secret_hash: get(&r, 5)? }))
}

pub async fn revoke_webhook(db: &Db, room: RoomId, id: &ActorId) -> Result<bool> {
    let sql = "UPDATE webhooks SET revoked_at = $1 WHERE id = $2 AND room_id = $3 AND revoked_at IS NULL";
    Ok(db.execute(sql, &[&now_ms(), &id.as_str(), &room]).await? == 1)
}
