//! Every setting of the server: a flag, an environment variable, and a default that suits a small
//! install. `confab --help` prints this.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use confab_core::accounts::SessionLifetime;
use confab_core::Limits;
use confab_bus_redis::RedisSettings;
use confab_store_postgres::PgSettings;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address and port to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, env = "CONFAB_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for the SQLite database (created if missing); unused with --database-url.
    #[arg(long, env = "CONFAB_DATA_DIR", default_value = "./confab-data")]
    pub data_dir: PathBuf,

    /// Largest size, in bytes, the SQLite database may grow to (a quota); beyond it new writes fail
    /// with `storage_full` as on a full disk, while reads and live connections go on. Default: only
    /// the disk limits it. (SQLite only: PostgreSQL's own quotas and a full disk there give the same
    /// error.)
    #[arg(long, env = "CONFAB_DATABASE_MAX_BYTES")]
    pub database_max_bytes: Option<u64>,

    /// PostgreSQL to keep everything in instead of SQLite, e.g. postgres://confab@db.internal/confab
    /// (libpq URL or key=value form). Several nodes may share one database.
    #[arg(long, env = "CONFAB_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// PostgreSQL schema for Confab's tables, created if missing (lower-case letters, digits, '_');
    /// default: the URL's search_path, normally public.
    #[arg(long, env = "CONFAB_DATABASE_SCHEMA", requires = "database_url")]
    pub database_schema: Option<String>,

    /// Redis that carries room events and presence between nodes, e.g. redis://127.0.0.1:6379/0.
    /// Without it the node is alone. Several nodes need it and a shared --database-url.
    #[arg(long, env = "CONFAB_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Put before every Redis channel and key, so that several clusters can share one Redis.
    #[arg(long, env = "CONFAB_REDIS_PREFIX", default_value = "confab:")]
    pub redis_prefix: String,

    /// This node's name in the cluster (different on every node); random when not given.
    #[arg(long, env = "CONFAB_NODE_ID")]
    pub node_id: Option<String>,

    /// Publications waiting to be sent to Redis; beyond it they are dropped and counted (the other
    /// nodes fill them from the database).
    #[arg(long, env = "CONFAB_REDIS_PUBLISH_QUEUE", default_value_t = 10_000)]
    pub redis_publish_queue: usize,

    /// First wait before reconnecting to Redis, in milliseconds; doubles per failed try, with jitter.
    #[arg(long, env = "CONFAB_REDIS_BACKOFF_INITIAL_MS", default_value_t = 100)]
    pub redis_backoff_initial_ms: u64,

    /// Longest wait between reconnection tries to Redis, in milliseconds.
    #[arg(long, env = "CONFAB_REDIS_BACKOFF_MAX_MS", default_value_t = 5_000)]
    pub redis_backoff_max_ms: u64,

    /// Redis pub/sub keep-alive in milliseconds; a ping slower than this counts as a lost connection.
    #[arg(long, env = "CONFAB_REDIS_PING_MS", default_value_t = 2_000)]
    pub redis_ping_ms: u64,

    /// Milliseconds a node may stay silent in Redis before the others count it dead and announce
    /// the leaves of its people.
    #[arg(long, env = "CONFAB_PRESENCE_TIMEOUT_MS", default_value_t = 15_000)]
    pub presence_timeout_ms: u64,

    /// PostgreSQL connections this node opens at most (one writes, the others read).
    #[arg(long, env = "CONFAB_DATABASE_POOL", default_value_t = PgSettings::DEFAULT_POOL_SIZE)]
    pub database_pool: usize,

    /// Messages and other changes waiting for the PostgreSQL writer at most; beyond it they fail at
    /// once with `unavailable` (memory stays bounded while the database is slow or away).
    #[arg(long, env = "CONFAB_DATABASE_QUEUE", default_value_t = PgSettings::DEFAULT_QUEUE)]
    pub database_queue: usize,

    /// Changes committed in one PostgreSQL transaction at most (group commit).
    #[arg(long, env = "CONFAB_DATABASE_BATCH", default_value_t = PgSettings::DEFAULT_BATCH)]
    pub database_batch: usize,

    /// Milliseconds to wait for PostgreSQL (a connection, a read, one group commit) before failing
    /// the request with `unavailable`.
    #[arg(long, env = "CONFAB_DATABASE_TIMEOUT_MS", default_value_t = PgSettings::DEFAULT_TIMEOUT.as_millis() as u64)]
    pub database_timeout_ms: u64,

    /// Extra origins (scheme://host[:port]) allowed to open WebSockets, make Socket.IO requests and
    /// send state-changing HTTP requests (POST, PUT, PATCH, DELETE) with the session cookie,
    /// comma-separated. The server's own origin is always allowed; others get 403 (docs/security.md).
    #[arg(long, env = "CONFAB_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Mark session cookies Secure (set this when Confab is served over TLS, e.g. behind a proxy).
    #[arg(long, env = "CONFAB_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Who may read GET /metrics (Prometheus text): `off` (404), `local` (only connections from
    /// 127.0.0.1 or ::1, others 403; X-Forwarded-For is not trusted), or `token` (requests carrying
    /// `Authorization: Bearer <--metrics-token>`, others 401).
    #[arg(long, env = "CONFAB_METRICS", value_enum, default_value_t = MetricsAccess::Local)]
    pub metrics: MetricsAccess,

    /// The bearer token /metrics asks for with `--metrics token` (required then).
    #[arg(long, env = "CONFAB_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "CONFAB_LOG_JSON")]
    pub log_json: bool,

    /// Longest message text in bytes (error `text_too_long`).
    #[arg(long, env = "CONFAB_MAX_TEXT_BYTES", default_value_t = Limits::default().max_text_bytes)]
    pub max_text_bytes: usize,

    /// Largest WebSocket message a client may send on /ws; larger closes the connection with 1009.
    /// (/socket.io/ has its own limit, --socketio-max-payload.)
    #[arg(long, env = "CONFAB_MAX_FRAME_BYTES", default_value_t = Limits::default().max_frame_bytes)]
    pub max_frame_bytes: usize,

    /// Rooms one connection may join at once (error `too_many_rooms`).
    #[arg(long, env = "CONFAB_MAX_ROOMS_PER_CONNECTION", default_value_t = Limits::default().max_rooms_per_connection)]
    pub max_rooms_per_connection: usize,

    /// Joins (and re-joins) one connection may make per minute, after a burst of as many (at least
    /// --max-rooms-per-connection), 0 for no limit (error `rate_limited`).
    #[arg(long, env = "CONFAB_JOINS_PER_MINUTE", default_value_t = Limits::default().joins_per_minute)]
    pub joins_per_minute: u32,

    /// Sustained requests per second per connection, 0 for no limit (error `rate_limited`).
    #[arg(long, env = "CONFAB_REQUESTS_PER_SECOND", default_value_t = Limits::default().requests_per_second)]
    pub requests_per_second: u32,

    /// Requests a connection may make in a burst above the sustained rate.
    #[arg(long, env = "CONFAB_REQUEST_BURST", default_value_t = Limits::default().request_burst)]
    pub request_burst: u32,

    /// Largest page of history one request may ask for.
    #[arg(long, env = "CONFAB_HISTORY_PAGE_MAX", default_value_t = Limits::default().history_page_max)]
    pub history_page_max: usize,

    /// Most events replayed when a client resumes; beyond it the client pages history.
    #[arg(long, env = "CONFAB_MAX_REPLAY", default_value_t = Limits::default().max_replay)]
    pub max_replay: usize,

    /// Frames queued for one connection before it is closed as a slow consumer (code 4000).
    #[arg(long, env = "CONFAB_OUTBOUND_QUEUE", default_value_t = Limits::default().outbound_queue)]
    pub outbound_queue: usize,

    /// Milliseconds of silence from a native (`/ws`) client after which the server sends it a
    /// WebSocket ping; 0 turns the heartbeat off. (Socket.IO has Engine.IO's own ping.)
    #[arg(long, env = "CONFAB_HEARTBEAT_INTERVAL_MS", default_value_t = Limits::default().heartbeat_interval.as_millis() as u64)]
    pub heartbeat_interval_ms: u64,

    /// Milliseconds the server waits after its ping for any frame from the client (browsers and
    /// WebSocket libraries answer pings by themselves) before closing it as half-open: 4004
    /// `heartbeat_timeout`, and its rooms hear its leave after the grace period.
    #[arg(long, env = "CONFAB_HEARTBEAT_TIMEOUT_MS", default_value_t = Limits::default().heartbeat_timeout.as_millis() as u64)]
    pub heartbeat_timeout_ms: u64,

    /// Milliseconds a dropped connection's user stays listed before its leave is announced.
    #[arg(long, env = "CONFAB_LEAVE_GRACE_MS", default_value_t = Limits::default().leave_grace.as_millis() as u64)]
    pub leave_grace_ms: u64,

    /// Messages replayed to a Socket.IO client when it joins a room.
    #[arg(long, env = "CONFAB_SOCKETIO_HISTORY", default_value_t = Limits::default().socketio_history)]
    pub socketio_history: usize,

    /// Milliseconds between Engine.IO pings to Socket.IO clients.
    #[arg(long, env = "CONFAB_SOCKETIO_PING_INTERVAL_MS", default_value_t = 25_000)]
    pub socketio_ping_interval_ms: u64,

    /// Milliseconds a Socket.IO client has to answer a ping before it is disconnected.
    #[arg(long, env = "CONFAB_SOCKETIO_PING_TIMEOUT_MS", default_value_t = 20_000)]
    pub socketio_ping_timeout_ms: u64,

    /// Simultaneous client connections (both protocols); more are refused with 503.
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    pub max_connections: usize,

    /// Simultaneous connections one client address (IPv6: one /64) may hold, both protocols together,
    /// 0 for no limit; more are refused with 429. Behind a reverse proxy every client has the
    /// proxy's address: raise it there.
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,

    /// New guest sessions one client address (IPv6: one /64) may create per minute after its burst,
    /// 0 for no limit. Counts POST /api/guest, `hello` with a name on /ws and the first Socket.IO
    /// `user` name; refused with 429 and Retry-After (HTTP) or `rate_limited`.
    #[arg(long, env = "CONFAB_GUESTS_PER_MINUTE_PER_ADDRESS", default_value_t = Limits::default().guests_per_minute_per_address)]
    pub guests_per_minute_per_address: u32,

    /// Guest sessions one client address may create at once before the per-minute rate applies.
    #[arg(long, env = "CONFAB_GUEST_BURST_PER_ADDRESS", default_value_t = Limits::default().guest_burst_per_address)]
    pub guest_burst_per_address: u32,

    /// Days a guest session may go unused (no sign-in with its token) before it
    /// expires: its token stops working (`unauthenticated`; the web UI asks for a name again) while
    /// the guest's id and name stay on its messages. 0: never.
    #[arg(long, env = "CONFAB_GUEST_IDLE_DAYS", default_value_t = 30)]
    pub guest_idle_days: u32,

    /// Milliseconds between two sweeps that expire idle guest sessions (the first runs at start-up).
    #[arg(long, env = "CONFAB_GUEST_SWEEP_INTERVAL_MS", default_value_t = 3_600_000)]
    pub guest_sweep_interval_ms: u64,

    /// Largest Engine.IO payload on /socket.io/ (a polling POST body or one WebSocket message),
    /// advertised to clients as `maxPayload`; larger closes the session (polling: 413, WebSocket: 1009).
    /// Over-long message text inside it is answered `text_too_long`.
    #[arg(long, env = "CONFAB_SOCKETIO_MAX_PAYLOAD", default_value_t = Limits::default().socketio_max_payload)]
    pub socketio_max_payload: usize,

    /// Socket.IO connection state recovery window in milliseconds, 0 = off. When on, the CONNECT
    /// answer carries a `pid` and every room event an offset as its last argument (handlers with a
    /// fixed signature, such as python-socketio's, get one argument more); a client that reconnects
    /// within the window, to any node, gets the events it missed and its rooms back.
    #[arg(long, env = "CONFAB_SOCKETIO_RECOVERY_MS", default_value_t = 0)]
    pub socketio_recovery_ms: u64,

    /// How often, in milliseconds, a node renews the recovery records its live Socket.IO sockets hold
    /// (one pipelined round trip for all of them). A record lives the recovery window plus this, so
    /// after a node is killed (`kill -9`) its sockets stay recoverable elsewhere for at least the
    /// window and at most the window plus this.
    #[arg(long, env = "CONFAB_SOCKETIO_RECOVERY_REFRESH_MS", default_value_t = 10_000)]
    pub socketio_recovery_refresh_ms: u64,

    /// Leaves that could not be counted in Redis (unreachable) waiting to be announced once it is
    /// back; beyond it a leave is logged and not announced.
    #[arg(long, env = "CONFAB_DEPARTURE_QUEUE", default_value_t = Limits::default().departure_queue)]
    pub departure_queue: usize,

    /// Milliseconds between tries to announce the queued leaves while Redis is unreachable.
    #[arg(long, env = "CONFAB_DEPARTURE_RETRY_MS", default_value_t = Limits::default().departure_retry.as_millis() as u64)]
    pub departure_retry_ms: u64,
    /// Milliseconds a graceful shutdown (SIGTERM, Ctrl-C) may take: connections answer what they were
    /// asked (a commit not done by then is answered `unavailable`), close with going_away (1001),
    /// the leaves of everyone still in rooms are stored, then the process exits 0.
    #[arg(long, env = "CONFAB_SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,

    /// Milliseconds a gap in a room's live events may stay open before it is filled from the
    /// database (events of one room committed on two nodes can cross the bus out of order).
    #[arg(long, env = "CONFAB_GAP_FILL_MS", default_value_t = 200)]
    pub gap_fill_ms: u64,

    /// Uses a room invite gets when its creator names none.
    #[arg(long, env = "CONFAB_INVITE_DEFAULT_USES", default_value_t = Limits::default().invite_default_uses)]
    pub invite_default_uses: i64,

    /// Most uses one room invite may have (error `bad_request` above).
    #[arg(long, env = "CONFAB_INVITE_MAX_USES", default_value_t = Limits::default().invite_max_uses)]
    pub invite_max_uses: i64,

    /// Seconds a room invite stays valid when its creator names no expiry.
    #[arg(long, env = "CONFAB_INVITE_DEFAULT_TTL_SECS", default_value_t = Limits::default().invite_default_ttl.as_secs())]
    pub invite_default_ttl_secs: u64,

    /// Longest validity a room invite may have, in seconds (error `bad_request` above).
    #[arg(long, env = "CONFAB_INVITE_MAX_TTL_SECS", default_value_t = Limits::default().invite_max_ttl.as_secs())]
    pub invite_max_ttl_secs: u64,

    /// Who may create an account: `open` (anyone, POST /api/auth/register), `invite` (with a code
    /// from an administrator: POST /api/admin/invites or `confab admin invite`), or `closed` (only
    /// `confab admin create-user`); refused with `registration_closed` / `invite_invalid`.
    #[arg(long, env = "CONFAB_REGISTRATION", value_enum, default_value_t = Registration::Open)]
    pub registration: Registration,

    /// Who may come in without an account: `off` (nobody: POST /api/guest, `hello {name}` and an
    /// anonymous Socket.IO CONNECT are refused with `guests_not_allowed`, and existing guest
    /// sessions stop working), `public` (guests only in public rooms), `on` (as before accounts).
    #[arg(long, env = "CONFAB_GUESTS", value_enum, default_value_t = Guests::On)]
    pub guests: Guests,

    /// Administrators must have two-factor sign-in on: until they set it up, their session may only
    /// read /api/me, set up and enable 2FA, and sign out (anything else: `two_factor_required`).
    #[arg(long, env = "CONFAB_REQUIRE_2FA_FOR_ADMINS")]
    pub require_2fa_for_admins: bool,

    /// Shortest password accepted, in characters (`weak_password`); the longest is 1024 bytes.
    #[arg(long, env = "CONFAB_PASSWORD_MIN_CHARS", default_value_t = 8)]
    pub password_min_chars: usize,

    /// Failed sign-ins one account may have per --signin-window-secs before sign-in to it is
    /// refused with `rate_limited` and Retry-After (a success clears the count).
    #[arg(long, env = "CONFAB_SIGNIN_ATTEMPTS_PER_ACCOUNT", default_value_t = 10)]
    pub signin_attempts_per_account: u32,

    /// Failed sign-ins one client address (IPv6: one /64) may have per --signin-window-secs, over
    /// all accounts, before its sign-ins are refused with `rate_limited` and Retry-After.
    #[arg(long, env = "CONFAB_SIGNIN_ATTEMPTS_PER_ADDRESS", default_value_t = 50)]
    pub signin_attempts_per_address: u32,

    /// The window the sign-in attempt limits count over, in seconds.
    #[arg(long, env = "CONFAB_SIGNIN_WINDOW_SECS", default_value_t = 900)]
    pub signin_window_secs: u64,

    /// Password hashes computed at once (argon2id, ~19 MiB and tens of ms each), on blocking threads.
    #[arg(long, env = "CONFAB_PASSWORD_HASH_CONCURRENCY", default_value_t = 2)]
    pub password_hash_concurrency: usize,

    /// Sign-ins, registrations and password changes waiting for a hash slot at most; more are
    /// refused at once with `rate_limited` (Retry-After 1), so a burst cannot queue without bound.
    #[arg(long, env = "CONFAB_PASSWORD_HASH_QUEUE", default_value_t = 64)]
    pub password_hash_queue: usize,

    /// Milliseconds between rechecks of the sessions and API tokens that open connections use:
    /// one revoked on another node or by `confab admin` (or whose account was disabled) closes its
    /// connections with `session_revoked` within this time. Revocations on this node close at once.
    #[arg(long, env = "CONFAB_CREDENTIAL_RECHECK_MS", default_value_t = 5_000)]
    pub credential_recheck_ms: u64,

    /// Days a signed-in session may go without being used (a request, a connection opened with it,
    /// or an open connection at a --credential-recheck-ms recheck) before it ends: refused like a
    /// revoked session (`unauthenticated`), its open connections closed with `session_expired`.
    /// API tokens never end by idleness.
    #[arg(long, env = "CONFAB_SESSION_IDLE_DAYS", default_value_t = 30)]
    pub session_idle_days: u32,

    /// The idle timeout in seconds instead of days (tests and short-lived deployments); overrides
    /// --session-idle-days when set.
    #[arg(long, env = "CONFAB_SESSION_IDLE_SECS")]
    pub session_idle_secs: Option<u64>,

    /// Days a signed-in session lasts at most, however much it is used; the session cookie's
    /// Max-Age is the same. API tokens have no such limit.
    #[arg(long, env = "CONFAB_SESSION_MAX_DAYS", default_value_t = 90)]
    pub session_max_days: u32,

    /// The longest session lifetime in seconds instead of days; overrides --session-max-days.
    #[arg(long, env = "CONFAB_SESSION_MAX_SECS")]
    pub session_max_secs: Option<u64>,

    /// A session's or token's last use is written at most once per this many seconds (using it
    /// costs no write per request); a session may therefore end up to this long before its idle
    /// timeout after its real last use. Must be shorter than the idle timeout.
    #[arg(long, env = "CONFAB_SESSION_TOUCH_SECS", default_value_t = 60)]
    pub session_touch_secs: u64,

    /// Milliseconds between two sweeps that delete expired sessions (the first runs at start-up);
    /// an expired session is refused at once, the sweep only removes its row.
    #[arg(long, env = "CONFAB_SESSION_SWEEP_INTERVAL_MS", default_value_t = 3_600_000)]
    pub session_sweep_interval_ms: u64,

    /// Most people in one direct conversation, the one who opens it included (error
    /// `too_many_members`).
    #[arg(long, env = "CONFAB_DIRECT_MAX_MEMBERS", default_value_t = Limits::default().direct_max_members)]
    pub direct_max_members: usize,

    /// Messages one incoming webhook may post per minute after its burst, 0 for no limit; more are
    /// refused with 429, Retry-After and `rate_limited`.
    #[arg(long, env = "CONFAB_WEBHOOK_MESSAGES_PER_MINUTE", default_value_t = 60)]
    pub webhook_messages_per_minute: u32,

    /// Messages one incoming webhook may post at once before the per-minute rate applies.
    #[arg(long, env = "CONFAB_WEBHOOK_BURST", default_value_t = 20)]
    pub webhook_burst: u32,
}

/// The `--registration` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registration {
    Open,
    Invite,
    Closed,
}

impl Registration {
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Open => "open",
            Registration::Invite => "invite",
            Registration::Closed => "closed",
        }
    }
}

/// The `--guests` setting (confab_core::authz::GuestAccess on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Guests {
    Off,
    Public,
    On,
}

impl Guests {
    pub fn access(self) -> confab_core::authz::GuestAccess {
        use confab_core::authz::GuestAccess;
        match self {
            Guests::Off => GuestAccess::Off,
            Guests::Public => GuestAccess::Public,
            Guests::On => GuestAccess::On,
        }
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsAccess {
    Off,
    Local,
    Token,
}

impl Config {
    /// The Redis bus's and roster's settings, when --redis-url selects them.
    pub fn redis(&self) -> Option<RedisSettings> {
        let url = self.redis_url.as_ref()?;
        let node = self.node_id.clone().unwrap_or_else(random_node_id);
        Some(RedisSettings {
            prefix: self.redis_prefix.clone(),
            publish_queue: self.redis_publish_queue,
            backoff_initial: Duration::from_millis(self.redis_backoff_initial_ms),
            backoff_max: Duration::from_millis(self.redis_backoff_max_ms),
            ping_interval: Duration::from_millis(self.redis_ping_ms),
            presence_timeout: Duration::from_millis(self.presence_timeout_ms),
            ..RedisSettings::new(url.clone(), node)
        })
    }

    /// The PostgreSQL store's settings, when --database-url selects it.
    pub fn postgres(&self) -> Option<PgSettings> {
        let url = self.database_url.as_ref()?;
        Some(PgSettings {
            schema: self.database_schema.clone(),
            pool_size: self.database_pool,
            queue: self.database_queue,
            batch: self.database_batch,
            timeout: Duration::from_millis(self.database_timeout_ms),
            ..PgSettings::new(url.clone())
        })
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_text_bytes: self.max_text_bytes,
            max_frame_bytes: self.max_frame_bytes,
            max_rooms_per_connection: self.max_rooms_per_connection,
            joins_per_minute: self.joins_per_minute,
            requests_per_second: self.requests_per_second,
            request_burst: self.request_burst,
            history_page_max: self.history_page_max,
            max_replay: self.max_replay,
            outbound_queue: self.outbound_queue,
            leave_grace: Duration::from_millis(self.leave_grace_ms),
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval_ms),
            heartbeat_timeout: Duration::from_millis(self.heartbeat_timeout_ms),
            socketio_history: self.socketio_history,
            max_connections: self.max_connections,
            guests_per_minute_per_address: self.guests_per_minute_per_address,
            guest_burst_per_address: self.guest_burst_per_address,
            socketio_max_payload: self.socketio_max_payload,
            departure_queue: self.departure_queue,
            departure_retry: Duration::from_millis(self.departure_retry_ms.max(1)),
            invite_default_uses: self.invite_default_uses,
            invite_max_uses: self.invite_max_uses,
            invite_default_ttl: Duration::from_secs(self.invite_default_ttl_secs),
            invite_max_ttl: Duration::from_secs(self.invite_max_ttl_secs),
            direct_max_members: self.direct_max_members,
            ..Limits::default()
        }
    }

    /// The session lifetime settings (`--session-idle-*`, `--session-max-*`, `--session-touch-secs`),
    /// or why they do not fit together.
    pub fn session_lifetime(&self) -> Result<SessionLifetime, &'static str> {
        let secs = |exact: Option<u64>, days: u32| exact.unwrap_or(u64::from(days) * 86_400);
        let (idle, max) = (secs(self.session_idle_secs, self.session_idle_days), secs(self.session_max_secs, self.session_max_days));
        // Ten years in seconds: beyond it the millisecond arithmetic is pointless (and could overflow).
        const LONGEST: u64 = 10 * 366 * 86_400;
        if idle == 0 || max == 0 || idle > LONGEST || max > LONGEST {
            return Err("--session-idle-* and --session-max-* must be between 1 second and 10 years");
        }
        if self.session_touch_secs >= idle {
            return Err("--session-touch-secs must be shorter than the session idle timeout");
        }
        Ok(SessionLifetime { idle_ms: idle as i64 * 1000, max_ms: max as i64 * 1000, touch_ms: self.session_touch_secs as i64 * 1000 })
    }

    pub fn gap_fill_wait(&self) -> Duration {
        Duration::from_millis(self.gap_fill_ms)
    }
}

fn random_node_id() -> String {
    use rand::Rng;
    let n: u32 = rand::rng().random();
    format!("node-{n:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    fn lifetime(args: &[&str]) -> Result<SessionLifetime, &'static str> {
        let argv = std::iter::once("confab").chain(args.iter().copied());
        Cli::try_parse_from(argv).expect("flags parse").config.session_lifetime()
    }

    #[test]
    fn session_lifetime_defaults_overrides_and_refusals() {
        assert_eq!(lifetime(&[]), Ok(SessionLifetime::DEFAULT));
        let days = lifetime(&["--session-idle-days", "2", "--session-max-days", "3"]).unwrap();
        assert_eq!((days.idle_ms, days.max_ms), (2 * 86_400_000, 3 * 86_400_000));
        let secs = lifetime(&["--session-idle-days", "2", "--session-idle-secs", "5", "--session-max-secs", "9", "--session-touch-secs", "1"]).unwrap();
        assert_eq!((secs.idle_ms, secs.max_ms, secs.touch_ms), (5_000, 9_000, 1_000), "seconds override days");
        assert!(lifetime(&["--session-idle-secs", "30"]).is_err(), "a touch interval (60 s) not shorter than the idle timeout");
        assert!(lifetime(&["--session-max-days", "0"]).is_err());
        assert!(lifetime(&["--session-idle-days", "100000"]).is_err());
    }
}
