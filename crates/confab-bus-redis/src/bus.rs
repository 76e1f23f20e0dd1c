//! [`RedisBus`]: the [`Bus`] contract on Redis pub/sub.
//!
//! One channel per room (`{prefix}room:{id}`) and one for the lobby (`{prefix}lobby`). A node
//! subscribes to a room's channel while it has members there, so only those nodes see its traffic.
//! Two connections per node, whatever its number of clients: a pub/sub connection owned by the
//! `subscriber` task, and a multiplexed one owned by the `publisher` task.
//!
//! `publish` runs on the store's writer thread right after a commit, so it only encodes, hands the
//! events to the local inbox and offers the encoded publication to a bounded queue: it never waits
//! and never fails. What does not fit in the queue is dropped and counted, and its room noted: once
//! Redis takes publications again, the publisher sends each such room a *loss notice* (a `Wire`
//! with no events), and the room's receivers resync from the store. So a loss this node knows of is
//! announced even when the room stays quiet after it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use confab_core::fanout::{by_room, Bus, Inbox, NodeId, Wire, WireRoom};
use confab_core::model::now_ms;
use confab_core::store::BoxFuture;
use confab_core::{ChatError, Event, Result, RoomId, RoomSummary};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::error::BusError;
use crate::publisher::{self, Outgoing};
use crate::settings::RedisSettings;
use crate::subscriber::{self, Command};

/// A node's connection to the cluster's bus. Build it with [`RedisBus::connect`], then
/// [`RedisBus::attach`] the node's inbox.
pub struct RedisBus {
    shared: Arc<Shared>,
    /// Encoded publications on their way to the publisher task (bounded: `publish_queue`).
    outgoing: mpsc::Sender<Outgoing>,
    /// Subscription changes on their way to the subscriber task, which applies them in order.
    commands: mpsc::UnboundedSender<Command>,
}

/// What the bus and its two tasks share.
pub(crate) struct Shared {
    pub(crate) settings: RedisSettings,
    pub(crate) inbox: OnceLock<Arc<dyn Inbox>>,
    /// Rooms this node wants to hear: updated at once by `subscribe`/`unsubscribe`, so the
    /// subscriber can ignore a room's late traffic after its unsubscribe, and re-subscribes exactly
    /// these after a reconnect.
    pub(crate) rooms: Mutex<HashSet<RoomId>>,
    /// Publications dropped (queue full, or Redis failed the PUBLISH) since start-up.
    pub(crate) dropped: AtomicU64,
    /// Rooms whose publications were dropped since the last loss notices went out.
    pub(crate) lost: Mutex<HashSet<RoomId>>,
    /// When a drop was last logged (ms), so a long outage logs once a second, not per event.
    last_drop_log: AtomicI64,
    /// Times the subscriber reconnected (and called `Inbox::resync`).
    pub(crate) reconnects: AtomicU64,
    /// Publications queued for the publisher, and those it has finished with (sent or dropped):
    /// equal when nothing is waiting, which [`RedisBus::flush`] waits for.
    pub(crate) queued: AtomicU64,
    pub(crate) finished: AtomicU64,
}

impl Shared {
    pub(crate) fn node(&self) -> &NodeId {
        &self.settings.node
    }

    pub(crate) fn count_dropped(&self, rooms: impl IntoIterator<Item = Option<RoomId>>, n: u64, why: &str) {
        self.lost.lock().extend(rooms.into_iter().flatten());
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now = now_ms();
        let last = self.last_drop_log.load(Ordering::Relaxed);
        if now - last >= 1000
            && self.last_drop_log.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(dropped_total = total, why, "redis bus dropped publications; receivers will read them from the store");
        }
    }
}

impl RedisBus {
    /// Connects to Redis (both connections, and the lobby subscription) and starts the node's two
    /// bus tasks on the current Tokio runtime. Fails with [`BusError::Connect`] when Redis cannot be
    /// reached: a node does not start alone. After start-up, losing Redis is survived (reconnect
    /// with backoff, then `Inbox::resync`).
    pub async fn connect(settings: RedisSettings) -> Result<Arc<RedisBus>, BusError> {
        let client = settings.client()?;
        let connect_err = |source| BusError::Connect { url: settings.url.clone(), source };
        let publish_conn = publisher::connect(&client).await.map_err(connect_err)?;
        let pubsub = subscriber::connect(&client, &settings, &[]).await.map_err(connect_err)?;
        let shared = Arc::new(Shared {
            settings,
            inbox: OnceLock::new(),
            rooms: Mutex::new(HashSet::new()),
            dropped: AtomicU64::new(0),
            lost: Mutex::new(HashSet::new()),
            last_drop_log: AtomicI64::new(0),
            reconnects: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        });
        let (outgoing, queue) = mpsc::channel(shared.settings.publish_queue.max(1));
        let (commands, command_rx) = mpsc::unbounded_channel();
        tokio::spawn(publisher::run(Arc::clone(&shared), client.clone(), publish_conn, queue));
        tokio::spawn(subscriber::run(Arc::clone(&shared), client, pubsub, command_rx));
        Ok(Arc::new(RedisBus { shared, outgoing, commands }))
    }

    /// Connects the bus to the node's inbox (once, at start-up). Publications that arrive before
    /// are not delivered; a node attaches before it serves clients, so there is nobody to miss them.
    pub fn attach(&self, inbox: Arc<dyn Inbox>) {
        let _ = self.shared.inbox.set(inbox);
    }

    /// Publications dropped since start-up (queue full or PUBLISH failed).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How many times the pub/sub connection was lost and re-established.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// Waits until every publication queued so far was sent to Redis (or dropped), or `deadline`
    /// passes; true when nothing is left. A node stopping calls it last, so that the leaves it just
    /// stored reach the other nodes live rather than when they next fill a gap.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> bool {
        let target = self.shared.queued.load(Ordering::Acquire);
        loop {
            if self.shared.finished.load(Ordering::Acquire) >= target {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    fn enqueue(&self, item: Outgoing) {
        // Counted before the send: the publisher may finish the item before `try_send` returns.
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        match self.outgoing.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => {
                self.shared.finished.fetch_add(1, Ordering::AcqRel);
                self.shared.count_dropped([item.room], 1, "publish queue full")
            }
            Err(mpsc::error::TrySendError::Closed(item)) => {
                self.shared.finished.fetch_add(1, Ordering::AcqRel);
                self.shared.count_dropped([item.room], 1, "publisher stopped")
            }
        }
    }
}

impl Bus for RedisBus {
    fn publish(&self, events: Vec<Event>) {
        let inbox = self.shared.inbox.get();
        for (room, events) in by_room(events) {
            let wire = Wire { node: self.shared.node().clone(), room_id: room, events };
            let payload = wire.encode();
            self.enqueue(Outgoing { room: Some(room), channel: self.shared.settings.room_channel(room), payload });
            if let Some(inbox) = inbox {
                inbox.events(room, wire.events);
            }
        }
    }

    fn publish_room_changed(&self, room: RoomSummary) {
        let wire = WireRoom { node: self.shared.node().clone(), room };
        // A struct of strings and numbers always serialises.
        let payload = serde_json::to_vec(&wire).unwrap_or_default();
        self.enqueue(Outgoing { room: None, channel: self.shared.settings.lobby_channel(), payload });
        if let Some(inbox) = self.shared.inbox.get() {
            inbox.room_changed(wire.room);
        }
    }

    /// Resolves once Redis confirmed the SUBSCRIBE, or at once while Redis is unreachable: then the
    /// reconnect subscribes the room before calling `Inbox::resync`, which covers what it missed.
    fn subscribe(&self, room: RoomId) -> BoxFuture<Result<()>> {
        self.shared.rooms.lock().insert(room);
        let (done, confirmed) = oneshot::channel();
        let sent = self.commands.send(Command::Subscribe(room, done));
        Box::pin(async move {
            if sent.is_err() {
                return Err(ChatError::internal("the redis subscriber task has stopped"));
            }
            confirmed.await.map_err(|_| ChatError::internal("the redis subscriber task has stopped"))
        })
    }

    fn unsubscribe(&self, room: RoomId) {
        self.shared.rooms.lock().remove(&room);
        let _ = self.commands.send(Command::Unsubscribe(room));
    }
}
