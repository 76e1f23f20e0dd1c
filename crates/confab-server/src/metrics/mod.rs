//! What the server counts, for `/metrics` in Prometheus text format ([`route`] serves and guards
//! it; docs/operations.md says what each metric means).
//!
//! The metrics live in one process-wide [`Metrics`] (the call sites are spread over transports, the
//! hub and the connection queue, and threading a handle through all of them would touch every
//! constructor). Each call site is one line through the functions below, which keep label values to
//! a fixed set: a request type a client made up is counted as `other`, never as its own series.
//! The stores report commits through `confab_core::observe`, installed by [`install`].

pub mod route;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use confab_core::observe::CommitObserver;
use confab_core::{ErrorCode, Event, EventBody};
use parking_lot::Mutex;
use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry,
};

use crate::conn::CloseReason;

/// Every metric the server exports, registered in its own registry (not the crate's global one, so
/// nothing another library registers ends up on our page).
pub struct Metrics {
    registry: Registry,
    connections: IntGaugeVec,
    rooms: IntGauge,
    messages_stored: IntCounter,
    deliveries: IntCounter,
    queue_length: Histogram,
    disconnects: IntCounterVec,
    requests: HistogramVec,
    commit_batch: HistogramVec,
    commit_seconds: HistogramVec,
    errors: IntCounterVec,
    redis_dropped: IntCounter,
    redis_reconnects: IntCounter,
    /// The Redis bus's own counters as last copied into ours (they count from start-up; ours must
    /// only ever move up by the difference).
    redis_seen: Mutex<(u64, u64)>,
}

/// Request types on `/ws` (docs/protocol.md) and events on Socket.IO (docs/socketio.md); anything
/// else is `other`.
const NATIVE_TYPES: &[&str] =
    &["hello", "ping", "rooms", "create_room", "join", "leave", "send", "edit", "delete", "history"];
const SOCKETIO_EVENTS: &[&str] =
    &["check_room", "create_room", "join_room", "leave_room", "send_message", "edit_message", "delete_message"];

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics::new().expect("metric definitions are valid"));

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let latency = exponential_buckets(0.0005, 2.0, 14)?; // 0.5 ms .. 4 s
        let m = Metrics {
            connections: add(&r, IntGaugeVec::new(
                Opts::new("confab_connections", "Open client connections, by protocol (native, socketio)."),
                &["protocol"],
            )?)?,
            rooms: add(&r, IntGauge::new(
                "confab_rooms_with_local_members",
                "Rooms with at least one member connected to this node.",
            )?)?,
            messages_stored: add(&r, IntCounter::new(
                "confab_messages_stored_total",
                "Messages this node's store committed (new messages, not edits or deletes).",
            )?)?,
            deliveries: add(&r, IntCounter::new(
                "confab_deliveries_total",
                "Live room events the hub handed to connection queues (one per event per subscribed connection).",
            )?)?,
            queue_length: add(&r, Histogram::with_opts(
                HistogramOpts::new(
                    "confab_outbound_queue_length",
                    "A connection's outbound queue length, sampled at each enqueue that cannot wait (hub items).",
                )
                .buckets(vec![0.0, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0]),
            )?)?,
            disconnects: add(&r, IntCounterVec::new(
                Opts::new(
                    "confab_disconnects_total",
                    "Closed client connections, by close reason (normal when the client or network ended it).",
                ),
                &["reason"],
            )?)?,
            requests: add(&r, HistogramVec::new(
                HistogramOpts::new(
                    "confab_request_duration_seconds",
                    "Time from reading a request to its answer (send/edit/delete: until committed), by type.",
                )
                .buckets(latency.clone()),
                &["protocol", "type"],
            )?)?,
            commit_batch: add(&r, HistogramVec::new(
                HistogramOpts::new("confab_store_commit_batch_size", "Requests in one group commit, by store.")
                    .buckets(exponential_buckets(1.0, 4.0, 7)?),
                &["store"],
            )?)?,
            commit_seconds: add(&r, HistogramVec::new(
                HistogramOpts::new(
                    "confab_store_commit_seconds",
                    "One group commit from BEGIN to the end of COMMIT (SQLite: fsync included), by store.",
                )
                .buckets(latency),
                &["store"],
            )?)?,
            errors: add(&r, IntCounterVec::new(
                Opts::new("confab_errors_total", "Error answers sent to clients (/ws, Socket.IO, HTTP API), by code."),
                &["code"],
            )?)?,
            redis_dropped: add(&r, IntCounter::new(
                "confab_redis_publications_dropped_total",
                "Publications to the Redis bus dropped (queue full or PUBLISH failed); filled from the database.",
            )?)?,
            redis_reconnects: add(&r, IntCounter::new(
                "confab_redis_reconnects_total",
                "Times the Redis pub/sub connection was lost and re-established.",
            )?)?,
            redis_seen: Mutex::new((0, 0)),
            registry: r,
        };
        // Both protocols' gauges show from the start, at 0, rather than appearing on first use.
        for protocol in ["native", "socketio"] {
            m.connections.with_label_values(&[protocol]);
        }
        Ok(m)
    }

    /// The page, in Prometheus text format 0.0.4.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        prometheus::TextEncoder::new().encode_to_string(&self.registry.gather())
    }

    /// Copies the Redis bus's counters (read at scrape time) into ours.
    pub fn redis_counters(&self, dropped: u64, reconnects: u64) {
        let mut seen = self.redis_seen.lock();
        self.redis_dropped.inc_by(dropped.saturating_sub(seen.0));
        self.redis_reconnects.inc_by(reconnects.saturating_sub(seen.1));
        *seen = (seen.0.max(dropped), seen.1.max(reconnects));
    }
}

/// Registers a metric and hands it back.
fn add<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> prometheus::Result<M> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// Sends the stores' commit reports to [`METRICS`]; called once at start-up.
pub fn install() {
    struct Observer;
    impl CommitObserver for Observer {
        fn committed(&self, store: &'static str, requests: usize, events: &[Event], elapsed: Duration) {
            let m = &*METRICS;
            m.commit_batch.with_label_values(&[store]).observe(requests as f64);
            m.commit_seconds.with_label_values(&[store]).observe(elapsed.as_secs_f64());
            let messages = events.iter().filter(|e| matches!(e.body, EventBody::Message { .. })).count();
            m.messages_stored.inc_by(messages as u64);
        }
    }
    confab_core::observe::install(Box::new(Observer));
}

/// The protocol label of a transport's encoder slot (0: native, 1: Socket.IO).
pub fn protocol(slot: usize) -> &'static str {
    if slot == 0 {
        "native"
    } else {
        "socketio"
    }
}

pub fn connection_opened(slot: usize) {
    METRICS.connections.with_label_values(&[protocol(slot)]).inc();
}

pub fn connection_closed(slot: usize, reason: Option<CloseReason>) {
    METRICS.connections.with_label_values(&[protocol(slot)]).dec();
    let reason = match reason.map(CloseReason::as_str) {
        None | Some("") => "normal",
        Some(r) => r,
    };
    METRICS.disconnects.with_label_values(&[reason]).inc();
}

pub fn room_feed_opened() {
    METRICS.rooms.inc();
}

pub fn room_feed_closed() {
    METRICS.rooms.dec();
}

pub fn delivered(subscribers: usize) {
    METRICS.deliveries.inc_by(subscribers as u64);
}

pub fn queued(length: usize) {
    METRICS.queue_length.observe(length as f64);
}

pub fn error(code: ErrorCode) {
    METRICS.errors.with_label_values(&[code.as_str()]).inc();
}

/// Records a request's latency from `started`; `kind` is the client's request type or event name.
pub fn request(protocol: &'static str, kind: &str, started: Instant) {
    let known = if protocol == "native" { NATIVE_TYPES } else { SOCKETIO_EVENTS };
    let kind = known.iter().find(|k| **k == kind).copied().unwrap_or("other");
    METRICS.requests.with_label_values(&[protocol, kind]).observe(started.elapsed().as_secs_f64());
}
