//! One writer transaction's statements: how each kind of append takes its room's next sequence
//! number and stores its event, with the room's row already locked by the writer
//! ([`crate::writer`]). Consecutive messages go out as one pipeline.

use confab_core::error::ChatError;
use confab_core::event::{Event, EventBody, MessageView};
use confab_core::model::{now_ms, Content, MessageId, RoomId, Seq};
use confab_core::store::{Appended, NewEvent};
use deadpool_postgres::Object;
use tokio_postgres::Row;

use crate::writer::Request;

/// Why one append failed.
pub enum Failure {
    /// A chat rule (`message_not_found`): nothing was written, the transaction goes on.
    Rule(ChatError),
    /// PostgreSQL refused a statement (or answered what cannot be read): the transaction is aborted.
    Aborted(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Aborted(e.to_string())
    }
}

/// One open transaction of the writer, with the events it stored so far.
pub struct Txn<'c> {
    pub client: &'c Object,
    pub events: Vec<Event>,
}

/// A new message: inserted with the room's next sequence number, then that number made the room's
/// top and the event stored, in one statement (one round trip). It reads `top_seq` without
/// `UPDATE … RETURNING` because the transaction already holds the room's row lock, so nobody else
/// can move it; and because `ON CONFLICT DO NOTHING` then leaves the counter untouched, a resend
/// consumes no sequence number.
const INSERT_MESSAGE: &str = "WITH m AS (
        INSERT INTO messages (room_id, author_id, client_id, content, created_seq, created_at)
        SELECT id, $2, $3, $4, top_seq + 1, $5 FROM rooms WHERE id = $1
        ON CONFLICT DO NOTHING RETURNING id, created_seq),
    s AS (UPDATE rooms SET top_seq = m.created_seq FROM m WHERE rooms.id = $1),
    e AS (INSERT INTO events (room_id, seq, kind, actor_id, actor_name, at, message_id, data)
        SELECT $1, created_seq, 'message', $2, $6, $5, id, '{}' FROM m)
    SELECT id, created_seq FROM m";

/// Any other event: the next sequence number and the event, in one statement.
const INSERT_EVENT: &str = "WITH s AS (UPDATE rooms SET top_seq = top_seq + 1 WHERE id = $1 RETURNING top_seq)
    INSERT INTO events (room_id, seq, kind, actor_id, actor_name, at, message_id, data)
    SELECT $1, top_seq, $2, $3, $4, $5, $6, $7 FROM s RETURNING seq";

const REMOVE_MEMBER: &str = "DELETE FROM memberships WHERE room_id = $1 AND actor_id = $2";

impl Txn<'_> {
    pub async fn append(&mut self, r: &Request) -> Result<Appended, Failure> {
        let at = now_ms();
        let (body, message_id) = match &r.new {
            NewEvent::Message { .. } => {
                let mut one = self.messages(std::slice::from_ref(r)).await;
                return one.pop().unwrap_or_else(|| Err(Failure::Aborted("a message without an outcome".into())));
            }
            NewEvent::Edit { message_id, content } => {
                let client_id = self
                    .change_message(
                        "UPDATE messages SET content = $1, edited_at = $2
                         WHERE id = $3 AND room_id = $4 AND deleted_at IS NULL RETURNING client_id",
                        content,
                        at,
                        *message_id,
                        r.room_id,
                    )
                    .await?;
                let body = EventBody::Edit { message_id: *message_id, client_id, content: content.clone(), edited_at: at };
                (body, Some(*message_id))
            }
            NewEvent::Delete { message_id } => {
                let client_id = self
                    .change_message(
                        "UPDATE messages SET content = $1, deleted_at = $2
                         WHERE id = $3 AND room_id = $4 AND deleted_at IS NULL RETURNING client_id",
                        &Content::default(),
                        at,
                        *message_id,
                        r.room_id,
                    )
                    .await?;
                (EventBody::Delete { message_id: *message_id, client_id }, Some(*message_id))
            }
            NewEvent::Join => {
                let join = self
                    .client
                    .prepare_cached(
                        "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES ($1, $2, 'member', $3)
                         ON CONFLICT (room_id, actor_id) DO NOTHING",
                    )
                    .await?;
                self.client.execute(&join, &[&r.room_id, &r.actor.id.as_str(), &at]).await?;
                (EventBody::Join, None)
            }
            NewEvent::Leave { reason } => (EventBody::Leave { reason: *reason }, None),
            NewEvent::Role { target, role } => {
                self.exec(
                    "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (room_id, actor_id) DO UPDATE SET role = excluded.role",
                    &[&r.room_id, &target.id.as_str(), &role.as_str(), &at],
                )
                .await?;
                (EventBody::Role { target: target.clone(), role: *role }, None)
            }
            NewEvent::Kick { target } => {
                self.exec(REMOVE_MEMBER, &[&r.room_id, &target.id.as_str()]).await?;
                (EventBody::Kick { target: target.clone() }, None)
            }
            NewEvent::Ban { target } => {
                self.exec(REMOVE_MEMBER, &[&r.room_id, &target.id.as_str()]).await?;
                self.exec(
                    "INSERT INTO bans (room_id, actor_id, actor_name, banned_by, banned_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (room_id, actor_id) DO NOTHING",
                    &[&r.room_id, &target.id.as_str(), &target.name, &r.actor.id.as_str(), &at],
                )
                .await?;
                (EventBody::Ban { target: target.clone() }, None)
            }
            NewEvent::Unban { target } => {
                self.exec("DELETE FROM bans WHERE room_id = $1 AND actor_id = $2", &[&r.room_id, &target.id.as_str()]).await?;
                (EventBody::Unban { target: target.clone() }, None)
            }
            NewEvent::Added { target } => {
                self.exec(
                    "INSERT INTO memberships (room_id, actor_id, role, joined_at) VALUES ($1, $2, 'member', $3)
                     ON CONFLICT (room_id, actor_id) DO NOTHING",
                    &[&r.room_id, &target.id.as_str(), &at],
                )
                .await?;
                (EventBody::Added { target: target.clone() }, None)
            }
        };
        let data = serde_json::to_string(&body).map_err(|e| Failure::Aborted(e.to_string()))?;
        let insert = self.client.prepare_cached(INSERT_EVENT).await?;
        let row = self
            .client
            .query_opt(&insert, &[&r.room_id, &body.kind(), &r.actor.id.as_str(), &r.actor.name, &at, &message_id, &data])
            .await?
            .ok_or_else(|| Failure::Aborted(format!("room {} vanished inside its own lock", r.room_id)))?;
        let seq: Seq = row.try_get(0)?;
        self.events.push(Event { room: r.room_name.clone(), room_id: r.room_id, seq, at, actor: r.actor.clone(), body });
        Ok(Appended { seq, message_id, duplicate: false })
    }

    /// One statement of a membership change, in the transaction.
    async fn exec(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<(), Failure> {
        let statement = self.client.prepare_cached(sql).await?;
        self.client.execute(&statement, params).await?;
        Ok(())
    }

    /// New messages, in order, sent as one pipeline: each statement goes out without waiting for
    /// the answer to the one before (PostgreSQL still runs them one after the other, in order), so a
    /// batch of messages costs about one round trip instead of one per message. An outcome per
    /// message, except when one aborted the transaction: then the list may stop at that failure
    /// (the caller rolls the batch back on the first `Aborted`).
    pub async fn messages(&mut self, run: &[Request]) -> Vec<Result<Appended, Failure>> {
        struct Item<'r> {
            request: &'r Request,
            author: &'r str,
            client_id: Option<&'r str>,
            content: &'r Content,
            json: String,
        }
        let insert = match self.client.prepare_cached(INSERT_MESSAGE).await {
            Ok(statement) => statement,
            Err(e) => return vec![Err(e.into())],
        };
        let at = now_ms();
        let mut items = Vec::with_capacity(run.len());
        for request in run {
            let NewEvent::Message { content, client_id } = &request.new else {
                return vec![Err(Failure::Aborted("a pipeline of messages got something else".into()))];
            };
            match serde_json::to_string(content) {
                Ok(json) => items.push(Item { request, author: request.actor.id.as_str(), client_id: client_id.as_deref(), content, json }),
                Err(e) => return vec![Err(Failure::Aborted(e.to_string()))],
            }
        }
        let params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 6]> = items
            .iter()
            .map(|i| -> [&(dyn tokio_postgres::types::ToSql + Sync); 6] {
                [&i.request.room_id, &i.author, &i.client_id, &i.json, &at, &i.request.actor.name]
            })
            .collect();
        let client = self.client;
        let rows = futures_util::future::join_all(params.iter().map(|p| client.query_opt(&insert, p))).await;
        let mut outcomes = Vec::with_capacity(items.len());
        for (item, row) in items.iter().zip(rows) {
            let outcome = match row {
                Err(e) => Err(e.into()),
                // A resend: the lookup is rare, so it is not pipelined.
                Ok(None) => self.duplicate(item.request, item.client_id).await,
                Ok(Some(row)) => self.stored_message(item.request, item.content, item.client_id, at, &row),
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    fn stored_message(&mut self, r: &Request, content: &Content, client_id: Option<&str>, at: i64, row: &Row) -> Result<Appended, Failure> {
        let (id, seq): (MessageId, Seq) = (row.try_get(0)?, row.try_get(1)?);
        let message = MessageView { id, client_id: client_id.map(str::to_string), content: content.clone(), edited_at: None, deleted: false };
        self.events.push(Event {
            room: r.room_name.clone(),
            room_id: r.room_id,
            seq,
            at,
            actor: r.actor.clone(),
            body: EventBody::Message { message },
        });
        Ok(Appended { seq, message_id: Some(id), duplicate: false })
    }

    /// The answer to a message whose client id this author already used in this room: the stored one.
    async fn duplicate(&self, r: &Request, client_id: Option<&str>) -> Result<Appended, Failure> {
        let find = self
            .client
            .prepare_cached("SELECT id, created_seq FROM messages WHERE room_id = $1 AND client_id = $2 AND author_id = $3")
            .await?;
        let row = self
            .client
            .query_opt(&find, &[&r.room_id, &client_id, &r.actor.id.as_str()])
            .await?
            .ok_or_else(|| Failure::Aborted("a message was neither stored nor found as a duplicate".into()))?;
        Ok(Appended { seq: row.try_get(1)?, message_id: Some(row.try_get(0)?), duplicate: true })
    }

    /// Updates a live message; `message_not_found` (writing nothing) when it is gone. Returns its
    /// client id.
    async fn change_message(
        &self,
        sql: &str,
        content: &Content,
        at: i64,
        message_id: MessageId,
        room_id: RoomId,
    ) -> Result<Option<String>, Failure> {
        let content_json = serde_json::to_string(content).map_err(|e| Failure::Aborted(e.to_string()))?;
        let update = self.client.prepare_cached(sql).await?;
        match self.client.query_opt(&update, &[&content_json, &at, &message_id, &room_id]).await? {
            Some(row) => Ok(row.try_get(0)?),
            None => Err(Failure::Rule(ChatError::message_not_found())),
        }
    }
}
