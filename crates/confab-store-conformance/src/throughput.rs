//! A bounded measurement of durable, acknowledged appends per second through the [`Store`] trait,
//! for comparing backends (each backend has an `#[ignore]` test that calls it). Not a check: the
//! figures depend on the machine, and docs/scaling.md reports them with their conditions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_core::model::{ActorRef, RoomKind};
use confab_core::store::Store;

use crate::text;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub appenders: usize,
    pub rooms: usize,
    pub acked: usize,
    pub elapsed: Duration,
    /// Latency of one append, from the call to the acknowledgement: median and 99th percentile.
    pub p50: Duration,
    pub p99: Duration,
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} appenders over {} room(s), {:.1} s: {} acknowledged, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            self.appenders,
            self.rooms,
            self.elapsed.as_secs_f64(),
            self.acked,
            self.acked as f64 / self.elapsed.as_secs_f64(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

/// `appenders` tasks, spread over `rooms` rooms, each appending a message and awaiting its
/// acknowledgement before the next (as a client waiting for its ack would), for `duration`.
/// Every append must succeed.
pub async fn measure(store: Arc<dyn Store>, appenders: usize, rooms: usize, duration: Duration) -> Throughput {
    let ann = store.create_guest("bench", b"hash-bench").await.expect("guest");
    let mut all_rooms = Vec::new();
    for r in 0..rooms {
        all_rooms.push(store.create_room(&format!("bench-{r}"), RoomKind::Public, &ActorRef::from(&ann)).await.expect("room"));
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for a in 0..appenders {
        let (store, room, me) = (Arc::clone(&store), all_rooms[a % rooms].clone(), ActorRef::from(&ann));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                store.append(&room, me.clone(), text("a message of about the usual size")).await.expect("append");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("appender"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1))).copied();
    Throughput {
        appenders,
        rooms,
        acked: latencies.len(),
        elapsed,
        p50: at(0.5).unwrap_or_default(),
        p99: at(0.99).unwrap_or_default(),
    }
}
