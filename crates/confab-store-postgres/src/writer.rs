//! The writer: group commit on one tokio task per store.
//!
//! Appends wait in a bounded queue ([`PgSettings::queue`]); a full queue fails the append at once
//! with `unavailable`. The task takes every waiting append (up to [`PgSettings::batch`]) and runs
//! them in one transaction on one pooled connection:
//!
//! 1. `BEGIN`, then lock the batch's rooms with `SELECT … FOR UPDATE`, **in id order**. The row lock
//!    is what keeps several nodes gap-free: a room's next sequence number is read and written only
//!    by the transaction holding it, until it commits or rolls back (consuming nothing). Taking all
//!    of a batch's rooms first, in one order, is what keeps two nodes whose batches touch the same
//!    rooms from deadlocking.
//! 2. Each append in call order: it takes `top_seq + 1`, stores the event (and the message), and
//!    moves `top_seq`, in one statement where it can ([`INSERT_MESSAGE`]). Consecutive messages are
//!    sent as one pipeline ([`Txn::messages`]).
//! 3. `COMMIT`; then the committed events go to the sink, in commit order; then the callers are
//!    answered. Acknowledged means committed.
//!
//! A request that fails on its merits (an edit of a message just deleted) writes nothing and fails
//! alone. A request that makes PostgreSQL abort the transaction fails the attempt: it is rolled back
//! and the batch runs again with a savepoint per request, so the failure stays its own (savepoints
//! cost a round trip each, so the normal path has none). Every attempt is bounded by
//! [`PgSettings::timeout`]; a connection that timed out or failed mid-transaction is discarded,
//! not returned to the pool, and the pool opens a new one when the database is back.

use std::collections::BTreeSet;
use std::sync::Arc;

use confab_core::error::{ChatError, Result};
use confab_core::event::{Event, EventBody, MessageView};
use confab_core::model::{now_ms, ActorRef, Content, MessageId, RoomId, Seq};
use confab_core::store::{Appended, EventSink, NewEvent};
use deadpool_postgres::{Object, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};
use tokio_postgres::Row;

use crate::PgSettings;

/// One queued append.
pub struct Request {
    pub room_id: RoomId,
    pub room_name: String,
    pub actor: ActorRef,
    pub new: NewEvent,
    pub reply: oneshot::Sender<Result<Appended>>,
}

pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer task (on the current tokio runtime). It ends when the store is dropped.
    pub fn start(pool: Pool, sink: Arc<dyn EventSink>, settings: &PgSettings) -> Writer {
        let (tx, rx) = mpsc::channel(settings.queue);
        tokio::spawn(run(pool, rx, sink, settings.batch, settings.timeout));
        Writer { tx }
    }

    /// Queues an append; appends are applied in the order submitted.
    pub fn submit(&self, request: Request) -> Result<()> {
        self.tx.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                ChatError::unavailable("the store's queue is full (--database-queue): PostgreSQL is slow or unreachable")
            }
            mpsc::error::TrySendError::Closed(_) => ChatError::unavailable("store writer stopped"),
        })
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Request>, sink: Arc<dyn EventSink>, max: usize, timeout: std::time::Duration) {
    let mut batch = Vec::with_capacity(max);
    while rx.recv_many(&mut batch, max).await > 0 {
        match commit(&pool, &batch, Instant::now() + timeout).await {
            Ok((outcomes, events)) => {
                if !events.is_empty() {
                    sink.committed(events);
                }
                // A caller that went away (its connection closed) no longer needs the answer.
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    drop(request.reply.send(outcome));
                }
            }
            Err(err) => {
                for request in batch.drain(..) {
                    drop(request.reply.send(Err(err.clone())));
                }
            }
        }
    }
    tracing::info!("postgres store writer stopped");
}

/// What a committed batch produced: one outcome per request, and the new events in order.
type Applied = (Vec<Result<Appended>>, Vec<Event>);

/// How a failed attempt ended.
enum AttemptError {
    /// `BEGIN` failed: nothing was sent, another connection may do better (a pooled connection
    /// whose server went away is only found out when used).
    Begin(tokio_postgres::Error),
    /// The transaction failed or its connection is in an unknown state.
    Failed(ChatError),
}

/// Commits the batch before `deadline`, or fails every request in it with `unavailable`.
async fn commit(pool: &Pool, batch: &[Request], deadline: Instant) -> Result<Applied> {
    let mut fresh_tries = 1;
    loop {
        let client = match timeout_at(deadline, pool.get()).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(ChatError::unavailable(format!("no database connection: {e}"))),
            Err(_) => return Err(ChatError::unavailable("no database connection within --database-timeout-ms")),
        };
        let mut outcome = attempt(&client, batch, Isolation::None, deadline).await;
        if let Ok(None) = outcome {
            outcome = attempt(&client, batch, Isolation::PerRequest, deadline).await;
        }
        match outcome {
            Ok(Some(applied)) => return Ok(applied),
            Ok(None) => return Err(ChatError::internal("a batch failed with savepoints after failing without")),
            Err(AttemptError::Begin(e)) if fresh_tries > 0 => {
                fresh_tries -= 1;
                tracing::warn!(error = %e, "a pooled connection failed at BEGIN; trying another");
                drop(Object::take(client));
            }
            Err(AttemptError::Begin(e)) => {
                drop(Object::take(client));
                return Err(ChatError::unavailable(e));
            }
            Err(AttemptError::Failed(e)) => {
                drop(Object::take(client));
                return Err(e);
            }
        }
    }
}

/// One attempt at the batch, bounded by `deadline`. `Ok(None)`: a request aborted the transaction
/// under [`Isolation::None`], which was rolled back (the connection is clean).
async fn attempt(client: &Object, batch: &[Request], isolation: Isolation, deadline: Instant) -> Result<Option<Applied>, AttemptError> {
    match timeout_at(deadline, run_batch(client, batch, isolation)).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Failed(ChatError::unavailable(
            "the database did not finish a commit within --database-timeout-ms",
        ))),
    }
}

/// How a batch's requests are kept apart inside its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// No savepoints: valid while no request makes PostgreSQL abort the transaction.
    None,
    /// A savepoint per request, so an aborting request rolls back only its own writes.
    PerRequest,
}

async fn run_batch(client: &Object, batch: &[Request], isolation: Isolation) -> Result<Option<Applied>, AttemptError> {
    let failed = |e: tokio_postgres::Error| AttemptError::Failed(ChatError::unavailable(e));
    client.batch_execute("BEGIN").await.map_err(AttemptError::Begin)?;
    let rooms: Vec<RoomId> = batch.iter().map(|r| r.room_id).collect::<BTreeSet<_>>().into_iter().collect();
    let lock = client.prepare_cached("SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE").await.map_err(failed)?;
    let mut locked = BTreeSet::new();
    for row in client.query(&lock, &[&rooms]).await.map_err(failed)? {
        locked.insert(row.try_get::<_, RoomId>(0).map_err(failed)?);
    }
    let mut txn = Txn { client, events: Vec::new() };
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut next = 0;
    while next < batch.len() {
        let request = &batch[next];
        if !locked.contains(&request.room_id) {
            outcomes.push(Err(ChatError::room_not_found(&request.room_name)));
            next += 1;
            continue;
        }
        if isolation == Isolation::None {
            // A run of messages (the usual batch) goes out as one pipeline; anything else alone.
            let is_message = |r: &Request| matches!(r.new, NewEvent::Message { .. }) && locked.contains(&r.room_id);
            let run = batch[next..].iter().take_while(|r| is_message(r)).count();
            let results = if run > 0 { txn.messages(&batch[next..next + run]).await } else { vec![txn.append(request).await] };
            next += run.max(1);
            for result in results {
                match result {
                    Ok(appended) => outcomes.push(Ok(appended)),
                    Err(Failure::Rule(e)) => outcomes.push(Err(e)),
                    Err(Failure::Aborted(e)) => {
                        tracing::warn!(error = %e, "a request aborted its batch; running the batch again with savepoints");
                        client.batch_execute("ROLLBACK").await.map_err(failed)?;
                        return Ok(None);
                    }
                }
            }
            continue;
        }
        next += 1;
        client.batch_execute("SAVEPOINT req").await.map_err(failed)?;
        let outcome = match txn.append(request).await {
            Ok(appended) => {
                client.batch_execute("RELEASE req").await.map_err(failed)?;
                Ok(appended)
            }
            Err(failure) => {
                client.batch_execute("ROLLBACK TO req; RELEASE req").await.map_err(failed)?;
                Err(match failure {
                    Failure::Rule(e) => e,
                    Failure::Aborted(e) => ChatError::unavailable(e),
                })
            }
        };
        outcomes.push(outcome);
    }
    client.batch_execute("COMMIT").await.map_err(failed)?;
    Ok(Some((outcomes, txn.events)))
}

/// Why one append failed.
enum Failure {
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
struct Txn<'c> {
    client: &'c Object,
    events: Vec<Event>,
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

impl Txn<'_> {
    async fn append(&mut self, r: &Request) -> Result<Appended, Failure> {
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

    /// New messages, in order, sent as one pipeline: each statement goes out without waiting for
    /// the answer to the one before (PostgreSQL still runs them one after the other, in order), so a
    /// batch of messages costs about one round trip instead of one per message. An outcome per
    /// message, except when one aborted the transaction: then the list may stop at that failure
    /// (the caller rolls the batch back on the first `Aborted`).
    async fn messages(&mut self, run: &[Request]) -> Vec<Result<Appended, Failure>> {
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
