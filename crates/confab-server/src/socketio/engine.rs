//! Engine.IO v4 sessions: the state a Socket.IO connection keeps across HTTP long-polling requests and
//! the upgrade to WebSocket.
//!
//! A session owns a connection's outbound queue (`ConnShared`) like any native connection. The
//! receiving end of the queue, with its sequencer, sits in [`EioSession::out`] and is held by whichever
//! transport delivers: each long-poll GET in turn, then, after an upgrade, the WebSocket writer for good.
//! Packets from the client (POST bodies or WebSocket frames) go to the session's socket task in order.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use parking_lot::Mutex;
use rand::RngCore;
use tokio::sync::Notify;

use confab_core::stash::Stash;

use crate::config::Config;
use crate::conn::queue;
use crate::conn::sequencer::Sequencer;
use crate::conn::{ConnShared, Outbound};

pub struct Engine {
    sessions: Mutex<HashMap<String, Arc<EioSession>>>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Largest POST body (and WebSocket message) a client may send: `--socketio-max-payload`, and what
    /// the handshake advertises as `maxPayload`, so a client that respects it is never cut off.
    pub max_payload: usize,
    /// Connection state recovery, when `--socketio-recovery-ms` turns it on.
    pub recovery: Option<Recovery>,
}

/// Socket.IO connection state recovery's settings and this node's held records (socketio/recovery.rs).
pub struct Recovery {
    /// How long a disconnected socket's record is kept (`--socketio-recovery-ms`).
    pub window: Duration,
    /// How often live sockets' records have their expiry renewed (`--socketio-recovery-refresh-ms`).
    pub refresh: Duration,
    /// Where records wait for their client, on any node.
    pub stash: Arc<dyn Stash>,
    /// The stash keys of the records this node's live sockets hold, renewed every `refresh`.
    pub held: Arc<Mutex<HashSet<String>>>,
}

impl Recovery {
    /// A held record's time to live: the window, plus one refresh interval so that it never expires
    /// between two renewals. A node killed just after a renewal leaves it for window + refresh at
    /// most, just before one for the window at least.
    pub fn held_ttl(&self) -> Duration {
        self.window + self.refresh
    }
}

/// Renews every held record each `refresh`, in one round trip, while the engine lives.
async fn renew_held(stash: Arc<dyn Stash>, held: std::sync::Weak<Mutex<HashSet<String>>>, refresh: Duration, ttl: Duration) {
    let mut tick = tokio::time::interval(refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(held) = held.upgrade() else { return };
        let keys: Vec<String> = held.lock().iter().cloned().collect();
        drop(held);
        if let Err(e) = stash.renew(&keys, ttl).await {
            tracing::warn!(error = %e, records = keys.len(), "Socket.IO recovery records not renewed now");
        }
    }
}

pub struct EioSession {
    pub sid: String,
    pub conn: Arc<ConnShared>,
    /// Packets from the client, in order, to the socket task.
    pub inbound: queue::Sender<String>,
    /// The outbound queue's receiver and sequencer, held by the transport that delivers.
    pub out: tokio::sync::Mutex<Option<(queue::Receiver<Outbound>, Sequencer)>>,
    /// Set when a WebSocket probe succeeded: polling must hand over.
    upgrading: AtomicBool,
    /// Wakes a pending long-poll so that it returns and releases `out`.
    release: Notify,
    /// Packets received from the client so far: the heartbeat compares it before and after a ping
    /// (a counter, not a clock, so that a pong within the same millisecond still counts).
    received: AtomicU64,
    /// The client's address, for the limit on creating guests (`http::guest_limit`).
    pub peer: IpAddr,
    /// Set by the first WebSocket that presents this sid: a second one is refused, as Engine.IO says.
    ws_claimed: AtomicBool,
    /// The client closed the session (`1`, or Socket.IO's `41`): a pending poll then answers noop
    /// (`6`), not a close packet, because the client already knows.
    client_closed: AtomicBool,
}

impl Engine {
    /// The engine; with recovery on, also starts the task renewing held records (inside the runtime).
    pub fn new(config: &Config, stash: Arc<dyn Stash>) -> Self {
        let recovery = (config.socketio_recovery_ms > 0).then(|| Recovery {
            window: Duration::from_millis(config.socketio_recovery_ms),
            // At least 1 (app::run refuses 0).
            refresh: Duration::from_millis(config.socketio_recovery_refresh_ms.max(1)),
            stash,
            held: Arc::default(),
        });
        if let Some(r) = &recovery {
            tokio::spawn(renew_held(Arc::clone(&r.stash), Arc::downgrade(&r.held), r.refresh, r.held_ttl()));
        }
        Engine {
            sessions: Mutex::new(HashMap::new()),
            ping_interval: Duration::from_millis(config.socketio_ping_interval_ms),
            ping_timeout: Duration::from_millis(config.socketio_ping_timeout_ms),
            max_payload: config.socketio_max_payload,
            recovery,
        }
    }

    pub fn create(
        &self,
        conn: Arc<ConnShared>,
        rx: queue::Receiver<Outbound>,
        inbound: queue::Sender<String>,
        peer: IpAddr,
    ) -> Arc<EioSession> {
        let mut bytes = [0u8; 15];
        rand::rng().fill_bytes(&mut bytes);
        let sid = URL_SAFE_NO_PAD.encode(bytes);
        let sequencer = Sequencer::new(conn.encoder);
        let session = Arc::new(EioSession {
            sid: sid.clone(),
            out: tokio::sync::Mutex::new(Some((rx, sequencer))),
            conn,
            inbound,
            upgrading: AtomicBool::new(false),
            release: Notify::new(),
            received: AtomicU64::new(0),
            peer,
            ws_claimed: AtomicBool::new(false),
            client_closed: AtomicBool::new(false),
        });
        self.sessions.lock().insert(sid, Arc::clone(&session));
        session
    }

    /// The open session with this sid. A closed one is gone at once, though its socket task may
    /// still be finishing: the protocol wants 400 for any request after the close.
    pub fn get(&self, sid: &str) -> Option<Arc<EioSession>> {
        self.sessions.lock().get(sid).filter(|s| s.conn.kill_reason().is_none()).cloned()
    }

    pub fn remove(&self, sid: &str) {
        self.sessions.lock().remove(sid);
    }

    /// The client sent a packet: it is alive.
    pub fn touch(&self, session: &EioSession) {
        session.received.fetch_add(1, Ordering::Relaxed);
    }

    /// The open packet: `0{"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}`.
    pub fn open_packet(&self, sid: &str, can_upgrade: bool) -> String {
        let upgrades: &[&str] = if can_upgrade { &["websocket"] } else { &[] };
        let open = serde_json::json!({
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": self.ping_interval.as_millis() as u64,
            "pingTimeout": self.ping_timeout.as_millis() as u64,
            "maxPayload": self.max_payload,
        });
        format!("0{open}")
    }
}

impl EioSession {
    /// How many packets the client has sent (see [`EioSession::received`]).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Claims the session for a WebSocket upgrade; false when another WebSocket already has.
    pub fn claim_websocket(&self) -> bool {
        !self.ws_claimed.swap(true, Ordering::AcqRel)
    }

    /// A probe that failed gives the claim back, so that the client may try again.
    pub fn unclaim_websocket(&self) {
        self.ws_claimed.store(false, Ordering::Release);
    }

    /// The client asked to close; see [`EioSession::client_closed`].
    pub fn close_by_client(&self) {
        self.client_closed.store(true, Ordering::Release);
        self.conn.kill(crate::conn::CloseReason::Normal);
    }

    pub fn closed_by_client(&self) -> bool {
        self.client_closed.load(Ordering::Acquire)
    }

    /// A WebSocket probe succeeded: release any pending long-poll, and refuse new ones.
    pub fn begin_upgrade(&self) {
        self.upgrading.store(true, Ordering::Release);
        self.release.notify_one();
    }

    pub fn upgrading(&self) -> bool {
        self.upgrading.load(Ordering::Acquire)
    }

    pub async fn released(&self) {
        self.release.notified().await
    }
}
