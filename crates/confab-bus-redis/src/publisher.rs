//! The publisher task: sends the queued publications to Redis in queue order, many per round trip,
//! on one multiplexed connection. One task and one connection keep one node's publications in its
//! commit order on the bus.
//!
//! A batch that fails (Redis lost) is dropped and counted, not retried: a retry could deliver a
//! publication twice. The task reconnects at once (with backoff between failed tries) and sends, at
//! most once a second, a loss notice to every room that lost publications, so their receivers resync
//! from the store even if nothing more is published there. What waited in the queue meanwhile is
//! sent after, in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_core::fanout::Wire;
use confab_core::RoomId;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::bus::Shared;

/// Most publications sent in one pipeline.
const BATCH: usize = 512;

/// Loss notices go out at most this often: each makes every receiver of the room re-read all its
/// subscribed rooms, so a node that drops steadily (overloaded) must not make them resync per batch.
const NOTICES_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Outgoing {
    /// None for the lobby.
    pub(crate) room: Option<RoomId>,
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
}

pub(crate) async fn connect(client: &redis::Client) -> RedisResult<MultiplexedConnection> {
    // Longer than the library's 500 ms default: a pipeline of a full batch on a busy machine may
    // take longer than that without anything being wrong.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    client.get_multiplexed_async_connection_with_config(&config).await
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    client: redis::Client,
    mut conn: MultiplexedConnection,
    mut queue: mpsc::Receiver<Outgoing>,
) {
    let mut backoff = Backoff::new(shared.settings.backoff_initial, shared.settings.backoff_max);
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_notices: Option<Instant> = None;
    loop {
        let notices_due = !shared.lost.lock().is_empty();
        let since = |last: Option<Instant>| last.map_or(NOTICES_EVERY, |t| t.elapsed());
        let wait = NOTICES_EVERY.saturating_sub(since(last_notices));
        tokio::select! {
            n = queue.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return; // the bus was dropped and the queue is empty
                }
                let mut pipe = redis::pipe();
                for item in &batch {
                    pipe.cmd("PUBLISH").arg(&item.channel).arg(&item.payload).ignore();
                }
                if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                    tracing::warn!(error = %e, "redis PUBLISH failed");
                    shared.count_dropped(batch.iter().map(|i| i.room), batch.len() as u64, "PUBLISH failed");
                    conn = reconnect(&client, &mut backoff).await;
                }
                shared.finished.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::AcqRel);
                batch.clear();
            }
            _ = tokio::time::sleep(wait), if notices_due => {}
        }
        if since(last_notices) >= NOTICES_EVERY && !shared.lost.lock().is_empty() {
            last_notices = Some(Instant::now());
            // Until Redis takes them, the rooms stay noted.
            if let Err(e) = send_loss_notices(&shared, &mut conn).await {
                tracing::warn!(error = %e, "could not send loss notices");
                conn = reconnect(&client, &mut backoff).await;
            }
        }
    }
}

async fn reconnect(client: &redis::Client, backoff: &mut Backoff) -> MultiplexedConnection {
    loop {
        match connect(client).await {
            Ok(conn) => {
                tracing::info!("redis publish connection restored");
                backoff.reset();
                return conn;
            }
            Err(e) => {
                let wait = backoff.next_delay();
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "redis unreachable for publishing");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Tells the receivers of every room that lost publications to resync (a `Wire` with no events).
async fn send_loss_notices(shared: &Shared, conn: &mut MultiplexedConnection) -> RedisResult<()> {
    let rooms: Vec<RoomId> = shared.lost.lock().drain().collect();
    if rooms.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for room in &rooms {
        let notice = Wire { node: shared.node().clone(), room_id: *room, events: Vec::new() };
        pipe.cmd("PUBLISH").arg(shared.settings.room_channel(*room)).arg(notice.encode()).ignore();
    }
    let sent = pipe.query_async::<()>(conn).await;
    if sent.is_err() {
        shared.lost.lock().extend(rooms);
    } else {
        tracing::info!(rooms = rooms.len(), "sent loss notices; receivers resync from the store");
    }
    sent
}
