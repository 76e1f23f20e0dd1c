//! What the Redis tests share: settings with a key prefix of their own, a recording [`Inbox`] (a
//! real implementation of the trait that keeps what it is handed), events to publish, and a TCP
//! proxy between a node and Redis that a test can cut to simulate an outage without touching the
//! shared Redis server.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_bus_redis::RedisSettings;
use confab_core::event::{Event, EventBody};
use confab_core::fanout::Inbox;
use confab_core::model::{ActorId, ActorRef, RoomId, RoomSummary};
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub const REDIS: &str = "127.0.0.1:6379";

/// A key prefix no other test (nor another engineer's run) uses; its keys are deleted when it is
/// dropped, so test runs leave nothing behind in the shared Redis.
pub struct Prefix(String);

pub fn prefix() -> Prefix {
    Prefix(format!("confab-test-redis-{:016x}:", rand::random::<u64>()))
}

impl std::ops::Deref for Prefix {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(format!("redis://{REDIS}/")) else { return };
        let Ok(mut conn) = client.get_connection() else { return };
        let keys: Vec<String> = match redis::cmd("KEYS").arg(format!("{}*", self.0)).query(&mut conn) {
            Ok(keys) => keys,
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

/// Settings for node `node` of the cluster named by `prefix`, with quick backoff for tests.
pub fn settings(prefix: &str, node: &str) -> RedisSettings {
    let mut s = RedisSettings::new(format!("redis://{REDIS}/"), node);
    s.prefix = prefix.to_string();
    s.backoff_initial = Duration::from_millis(50);
    s.backoff_max = Duration::from_millis(800);
    s.ping_interval = Duration::from_millis(500);
    s
}

pub fn actor(name: &str) -> ActorRef {
    ActorRef { id: ActorId::from(format!("g_{name}")), name: name.into() }
}

pub fn event(room: RoomId, seq: i64) -> Event {
    Event { room: format!("r{room}"), room_id: room, seq, at: seq, actor: actor("sam"), body: EventBody::Join }
}

pub fn summary(name: &str, members: usize) -> RoomSummary {
    RoomSummary { name: name.into(), kind: Default::default(), members, top_seq: 0, created_at: 0 }
}

/// An inbox that records what the bus hands it.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub lobby: Mutex<Vec<RoomSummary>>,
    pub resyncs: AtomicUsize,
}

impl Inbox for Recorder {
    fn events(&self, room: RoomId, events: Vec<Event>) {
        assert!(events.iter().all(|e| e.room_id == room), "a run holds one room's events");
        self.events.lock().extend(events);
    }
    fn room_changed(&self, room: RoomSummary) {
        self.lobby.lock().push(room);
    }
    fn resync(&self) {
        self.resyncs.fetch_add(1, Ordering::SeqCst);
    }
}

impl Recorder {
    /// (room, seq) of every event received, in arrival order.
    pub fn seqs(&self) -> Vec<(RoomId, i64)> {
        self.events.lock().iter().map(|e| (e.room_id, e.seq)).collect()
    }
    pub fn has(&self, room: RoomId, seq: i64) -> bool {
        self.events.lock().iter().any(|e| e.room_id == room && e.seq == seq)
    }
}

/// Polls `done` every 10 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

/// A TCP proxy to Redis that can be cut (every connection closed, new ones closed on accept) and
/// restored.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    /// Connections attempted while cut: how often the client retried.
    pub refused: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let refused = Arc::new(AtomicUsize::new(0));
        let (c, k, r) = (cut.clone(), conns.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    r.fetch_add(1, Ordering::SeqCst);
                    drop(down);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(REDIS).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                k.lock().push(task.abort_handle());
            }
        });
        Proxy { addr, cut, conns, refused }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// Closes every proxied connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self.conns.lock().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Subscribers Redis counts on a channel (PUBSUB NUMSUB), to see subscriptions from Redis's side.
pub async fn numsub(channel: &str) -> i64 {
    let client = redis::Client::open(format!("redis://{REDIS}/")).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis");
    let (_, n): (String, i64) = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query_async(&mut conn).await.expect("numsub");
    n
}

/// Deletes every key under `prefix` (this test's own), as a Redis restart without persistence would.
pub async fn delete_prefix(prefix: &str) {
    let client = redis::Client::open(format!("redis://{REDIS}/")).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis");
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("del");
    }
}
