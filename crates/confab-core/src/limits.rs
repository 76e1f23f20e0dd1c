//! Every bound Confab enforces, in one place, with the default a small install wants.
//! The server's configuration fills this from flags and environment; docs/protocol.md documents the
//! error each bound answers with.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest message text, in UTF-8 bytes (`text_too_long`).
    pub max_text_bytes: usize,
    /// Largest WebSocket frame or message a client may send on `/ws`; larger closes the connection
    /// (1009). Socket.IO has `socketio_max_payload`.
    pub max_frame_bytes: usize,
    /// Rooms one connection may have joined at once (`too_many_rooms`).
    pub max_rooms_per_connection: usize,
    /// Sustained requests per second per connection; 0 disables the limit (`rate_limited`).
    pub requests_per_second: u32,
    /// Requests a connection may send in a burst above the sustained rate.
    pub request_burst: u32,
    /// How many `rate_limited` answers in a row before the connection is closed (4002).
    pub rate_limit_strikes: u32,
    /// Joins (and re-joins) one connection may make per minute, after a burst of as many (at least
    /// `max_rooms_per_connection`, so a client re-joining all its rooms after a reconnect is never
    /// refused); 0 disables the limit (`rate_limited`). Each join and leave is an event in the log:
    /// joining and leaving in a loop would otherwise write without bound.
    pub joins_per_minute: u32,
    /// Largest page a `history` request may ask for.
    pub history_page_max: usize,
    /// Most events replayed on resume; beyond it the join answers `complete: false`.
    pub max_replay: usize,
    /// Events queued for one connection before it is disconnected as a slow consumer (4000).
    pub outbound_queue: usize,
    /// How long a dropped connection's user stays in the room before the leave is announced.
    pub leave_grace: Duration,
    /// A native connection the server has heard nothing from for this long gets a WebSocket ping
    /// (zero: no pings, and no heartbeat timeout).
    pub heartbeat_interval: Duration,
    /// After a ping, how long the server waits for any frame (a pong, a request) before it closes the
    /// connection as half-open (4004 `heartbeat_timeout`).
    pub heartbeat_timeout: Duration,
    /// Messages replayed to a Socket.IO client on `join_room`.
    pub socketio_history: usize,
    /// Simultaneous client connections on both protocols; above it upgrades answer 503.
    pub max_connections: usize,
    /// New guest sessions one client address (IPv6: one /64) may create per minute once its burst is
    /// spent; 0 disables the limit (HTTP 429 with `Retry-After`, `rate_limited` on the sockets).
    pub guests_per_minute_per_address: u32,
    /// Guest sessions one address may create at once before the per-minute rate applies.
    pub guest_burst_per_address: u32,
    /// Largest Engine.IO packet payload (a polling POST body, or one WebSocket message on
    /// `/socket.io/`), advertised as `maxPayload` in the handshake; larger closes the session.
    pub socketio_max_payload: usize,
    /// Leaves whose departure the roster could not take (Redis unreachable), kept to be announced
    /// when it answers again; beyond it a leave is logged and not announced (docs/scaling.md).
    pub departure_queue: usize,
    /// How long to wait between two tries of the queued departures.
    pub departure_retry: Duration,
    /// Uses an invite gets when its creator names none.
    pub invite_default_uses: i64,
    /// Most uses one invite may have (`bad_request` above).
    pub invite_max_uses: i64,
    /// How long an invite stays valid when its creator names no expiry.
    pub invite_default_ttl: Duration,
    /// Longest validity an invite may have (`bad_request` above).
    pub invite_max_ttl: Duration,
    /// Most people in one direct conversation, the one who opens it included (`too_many_members`).
    pub direct_max_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_bytes: 4000,
            max_frame_bytes: 64 * 1024,
            max_rooms_per_connection: 50,
            requests_per_second: 20,
            request_burst: 40,
            rate_limit_strikes: 50,
            joins_per_minute: 120,
            history_page_max: 200,
            max_replay: 1000,
            outbound_queue: 1024,
            leave_grace: Duration::from_secs(3),
            heartbeat_interval: Duration::from_secs(30),
            heartbeat_timeout: Duration::from_secs(30),
            socketio_history: 100,
            max_connections: 18_000,
            guests_per_minute_per_address: 60,
            guest_burst_per_address: 200,
            socketio_max_payload: 1_000_000,
            departure_queue: 10_000,
            departure_retry: Duration::from_secs(1),
            invite_default_uses: 10,
            invite_max_uses: 1000,
            invite_default_ttl: Duration::from_secs(7 * 24 * 3600),
            invite_max_ttl: Duration::from_secs(30 * 24 * 3600),
            direct_max_members: 10,
        }
    }
}
