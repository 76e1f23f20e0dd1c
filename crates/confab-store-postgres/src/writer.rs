//! The writer: group commit on one tokio task per store.
//!
//! Appends wait in a bounded queue ([`PgSettings::queue`]); a full queue fails the append at once
//! with `unavailable`. The task takes every waiting append (up to [`PgSettings::batch`]) and runs
//! them in one transaction on one pooled connection:
//!
//! 1. `BEGIN`, and lock the batch's rooms with `SELECT … FOR UPDATE`, **in id order** (one round trip). The row lock
//!    is what keeps several nodes gap-free: a room's next sequence number is read and written only
//!    by the transaction holding it, until it commits or rolls back (consuming nothing). Taking all
//!    of a batch's rooms first, in one order, is what keeps two nodes whose batches touch the same
//!    rooms from deadlocking.
//! 2. Each append in call order: it takes `top_seq + 1`, stores the event (and the message), and
//!    moves `top_seq`, in one statement where it can ([`crate::txn`]). Consecutive messages are
//!    sent as one pipeline.
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
use confab_core::event::Event;
use confab_core::model::{ActorRef, RoomId};
use confab_core::store::{Appended, EventSink, NewEvent};
use deadpool_postgres::{Object, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};

use crate::txn::{Failure, Txn};
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
        let started = Instant::now();
        match commit(&pool, &batch, started + timeout).await {
            Ok((outcomes, events)) => {
                confab_core::observe::committed("postgres", batch.len(), &events, started.elapsed());
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
    /// `BEGIN` (or the lock sent with it) failed: nothing is held, another connection may do better (a pooled connection
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
                return Err(crate::db_error(e));
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
    let failed = |e: tokio_postgres::Error| AttemptError::Failed(crate::db_error(e));
    // BEGIN and the lock in one round trip: one simple query, so PostgreSQL runs them in this order.
    // The ids are numbers this code formats, not text from a client.
    let rooms: BTreeSet<RoomId> = batch.iter().map(|r| r.room_id).collect();
    let ids: Vec<String> = rooms.iter().map(RoomId::to_string).collect();
    let sql = format!("BEGIN; SELECT id FROM rooms WHERE id IN ({}) ORDER BY id FOR UPDATE", ids.join(","));
    let mut locked = BTreeSet::new();
    for message in client.simple_query(&sql).await.map_err(AttemptError::Begin)? {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            let id = row.try_get(0).map_err(failed)?.and_then(|id| id.parse::<RoomId>().ok());
            locked.insert(id.ok_or_else(|| AttemptError::Failed(ChatError::internal("a room id that is not a number")))?);
        }
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
                    Err(Failure::Aborted(e) | Failure::Full(e)) => {
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
                    Failure::Full(e) => ChatError::storage_full(e),
                })
            }
        };
        outcomes.push(outcome);
    }
    client.batch_execute("COMMIT").await.map_err(failed)?;
    Ok(Some((outcomes, txn.events)))
}
