//! The publisher task: sends the queued publications to Redis in queue order, many per round trip,
//! on one multiplexed connection. One task and one connection keep one node's publications in its
//! commit order on the bus.
//!
//! A batch that fails (Redis lost) is dropped and counted, not retried: a retry could deliver a
//! publication twice, and receivers recover what was dropped from the store. The task then
//! reconnects with backoff; what waits in the queue meanwhile is sent after, in order.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::bus::Shared;

/// Most publications sent in one pipeline.
const BATCH: usize = 512;

pub(crate) struct Outgoing {
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
    first: MultiplexedConnection,
    mut queue: mpsc::Receiver<Outgoing>,
) {
    let mut conn = Some(first);
    let mut backoff = Backoff::new(shared.settings.backoff_initial, shared.settings.backoff_max);
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut c = match conn.take() {
            Some(c) => c,
            None => loop {
                match connect(&client).await {
                    Ok(c) => {
                        tracing::info!("redis publish connection restored");
                        backoff.reset();
                        break c;
                    }
                    Err(e) => {
                        let wait = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "redis unreachable for publishing");
                        tokio::time::sleep(wait).await;
                    }
                }
            },
        };
        let mut pipe = redis::pipe();
        for item in &batch {
            pipe.cmd("PUBLISH").arg(&item.channel).arg(&item.payload).ignore();
        }
        match pipe.query_async::<()>(&mut c).await {
            Ok(()) => conn = Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "redis PUBLISH failed");
                shared.count_dropped(batch.len() as u64, "PUBLISH failed");
            }
        }
        batch.clear();
    }
}
