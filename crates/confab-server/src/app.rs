//! The application: shared state handed to every handler, the router, start-up, and the steps of a
//! graceful shutdown (the mechanism is `shutdown.rs`: stop accepting, let every connection answer
//! what it was asked and close with `going_away`, announce the leaves, exit).

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::serve::ListenerExt;
use axum::Router;
use confab_core::presence::ConnId;
use confab_core::Chat;
use parking_lot::Mutex;

use crate::config::Config;
use crate::conn::per_address::{PerAddress, Slot};
use crate::conn::{CloseReason, ConnShared};
use crate::fanout::Hub;
use crate::http::guest_limit::GuestLimiter;
use crate::accounts::Accounts;
use crate::http::webhooks::{self, WebhookLimiter};
use crate::http::{account, api, csrf, direct, health, openapi, pages, rooms};
use crate::shutdown::Shutdown;
use crate::{native, socketio};

pub struct App {
    pub chat: Arc<Chat>,
    pub hub: Arc<Hub>,
    pub config: Config,
    /// Every open client connection, for the connection limit and for shutdown.
    conns: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Socket.IO sessions (Engine.IO state for polling and upgrades).
    pub engine: socketio::engine::Engine,
    /// New guest sessions per client address, for every way of becoming a guest.
    pub guests: GuestLimiter,
    /// Messages per incoming webhook (`--webhook-burst`, `--webhook-messages-per-minute`).
    pub webhook_limit: WebhookLimiter,
    /// Accounts, sessions, API tokens, and the registry that closes revoked sessions' connections.
    pub accounts: Accounts,
    /// The Redis bus, when the node has one: /metrics reads its counters, and a shutdown waits
    /// for its last publications (the leaves) to go out.
    pub redis_bus: Option<Arc<confab_bus_redis::RedisBus>>,
    /// Open connections per client address, for `--max-connections-per-address`.
    pub per_address: PerAddress,
    /// The graceful shutdown's state: refuses new connections and bounds what connections finish.
    pub shutdown: Shutdown,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store: {0}")]
    Store(#[from] confab_core::ChatError),
    #[error("cannot open the PostgreSQL store: {0}")]
    Postgres(#[from] confab_store_postgres::OpenError),
    #[error("cannot connect to Redis: {0}")]
    Redis(confab_bus_redis::BusError),
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
    #[error("invalid settings: {0}")]
    Config(&'static str),
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

pub async fn run(config: Config) -> Result<(), StartError> {
    if config.metrics == crate::config::MetricsAccess::Token && config.metrics_token.as_deref().unwrap_or("").is_empty() {
        return Err(StartError::Config("--metrics token needs --metrics-token (or CONFAB_METRICS_TOKEN)"));
    }
    if config.socketio_recovery_ms > 0 && config.socketio_recovery_refresh_ms == 0 {
        return Err(StartError::Config("--socketio-recovery-refresh-ms must be at least 1 with --socketio-recovery-ms on"));
    }
    crate::metrics::install();
    let crate::backends::Backends { chat, store, hub, description: storage, redis_bus, stash } =
        crate::backends::open(&config).await?;
    let lifetime = config.session_lifetime().map_err(StartError::Config)?;
    let accounts = Accounts::new(Arc::clone(&store), &config, lifetime);
    accounts.registry.start_rechecks(Arc::clone(&store), lifetime, Duration::from_millis(config.credential_recheck_ms));
    tokio::spawn(sweep_expired_sessions(store, Arc::clone(&accounts.registry), lifetime, config.session_sweep_interval_ms));
    // The authorization gate reads --guests (guests in public rooms only, or not at all).
    chat.set_policy(confab_core::authz::Policy { guests: config.guests.access() });
    // The lobby lists public rooms only. Not `list_rooms(None)`: under `--guests off` nobody
    // anonymous may list anything, and the lobby would start empty after every restart.
    for name in chat.lobby_rooms().await? {
        hub.known_room(&name);
    }
    let app = Arc::new(App {
        engine: socketio::engine::Engine::new(&config, stash),
        guests: GuestLimiter::new(config.guests_per_minute_per_address, config.guest_burst_per_address),
        webhook_limit: WebhookLimiter::new(config.webhook_messages_per_minute, config.webhook_burst),
        chat,
        hub,
        config: config.clone(),
        conns: Mutex::new(HashMap::new()),
        redis_bus,
        accounts,
        per_address: PerAddress::new(config.max_connections_per_address),
        shutdown: Shutdown::new(Duration::from_millis(config.shutdown_timeout_ms)),
    });
    if config.guest_idle_days > 0 {
        tokio::spawn(sweep_idle_guests(Arc::clone(&app.chat), config.guest_idle_days, config.guest_sweep_interval_ms));
    }
    let listener =
        tokio::net::TcpListener::bind(config.bind).await.map_err(|e| StartError::Bind(config.bind, e))?;
    let local = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(%local, %storage, "confab started");
    // Tests and tools read this line to learn the port when --bind asked for port 0.
    println!("listening on {local}");
    let closing = Arc::clone(&app);
    // On a signal: stop accepting, and ask every connection to close (long-polls included, which
    // would otherwise hold the HTTP side open for up to a ping interval).
    let signal = async move {
        shutdown_signal().await;
        closing.shutdown.begin();
        closing.close_all();
    };
    // Chat frames are small and must go out at once: without TCP_NODELAY, Nagle's algorithm and the
    // peer's delayed acknowledgements hold some of them back for ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    // The peer address feeds the per-address limit on creating guests.
    let service = router(Arc::clone(&app)).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let serve = axum::serve(listener, service).with_graceful_shutdown(signal);
    // HTTP requests still open at the deadline (a slow history read, say) do not hold the exit.
    tokio::select! {
        served = serve.into_future() => served.map_err(StartError::Serve)?,
        _ = async { app.shutdown.expired().await; tokio::time::sleep(SLACK).await } => {
            tracing::warn!("HTTP requests still open at the shutdown deadline; stopping anyway");
        }
    }
    app.drain().await;
    Ok(())
}

/// What a shutdown allows past its deadline: time for the `unavailable` answers given at the
/// deadline and the close frames to be written.
const SLACK: Duration = Duration::from_millis(500);

/// Expires the sessions of guests idle for `--guest-idle-days`, every `--guest-sweep-interval-ms`
/// (first at start-up). Every node of a cluster sweeps; a sweep is idempotent.
async fn sweep_idle_guests(chat: Arc<Chat>, days: u32, interval_ms: u64) {
    let idle = Duration::from_secs(u64::from(days) * 86_400);
    let mut every = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match chat.expire_idle_guests(idle).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, days, "expired idle guest sessions"),
            Err(e) => tracing::warn!(error = %e, "could not expire idle guest sessions; trying again at the next sweep"),
        }
    }
}

/// Deletes the sessions past their lifetime every `--session-sweep-interval-ms` (first at start-up),
/// closing this node's connections of them with `session_expired` (those are normally closed by
/// the recheck before: an expired session is refused whether or not its row is gone). Every node
/// of a cluster sweeps; a sweep is idempotent.
async fn sweep_expired_sessions(store: Arc<dyn confab_core::store::Store>, registry: Arc<crate::accounts::registry::Registry>, lifetime: confab_core::accounts::SessionLifetime, interval_ms: u64) {
    let mut every = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.expire_sessions(confab_core::model::now_ms(), &lifetime).await {
            Ok(ids) if ids.is_empty() => {}
            Ok(ids) => {
                let closed = registry.close(&ids, CloseReason::SessionExpired);
                tracing::info!(deleted = ids.len(), closed, "deleted expired sessions");
            }
            Err(e) => tracing::warn!(error = %e, "could not delete expired sessions; trying again at the next sweep"),
        }
    }
}

fn router(app: Arc<App>) -> Router {
    let webhook_body_limit = axum::extract::DefaultBodyLimit::max(webhooks::max_body(app.chat.limits.max_text_bytes));
    Router::new()
        .route("/", get(pages::lobby))
        .route("/chat-room/{name}", get(pages::room))
        .route("/static/{file}", get(pages::asset))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(crate::metrics::route::metrics))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/guest", post(api::create_guest))
        .route("/api/me", get(account::me))
        .route("/api/server", get(account::server))
        .route("/api/auth/register", post(account::register))
        .route("/api/auth/login", post(account::login))
        .route("/api/auth/logout", post(account::logout))
        .route("/api/account", patch(account::update_account))
        .route("/api/account/password", post(account::change_password))
        .route("/api/account/sessions", get(account::sessions))
        .route("/api/account/sessions/{id}", delete(account::delete_session))
        .route("/api/account/tokens", get(account::tokens).post(account::create_token))
        .route("/api/account/tokens/{id}", delete(account::delete_token))
        .route("/api/account/2fa/setup", post(account::totp_setup))
        .route("/api/account/2fa/enable", post(account::totp_enable))
        .route("/api/account/2fa/disable", post(account::totp_disable))
        .route("/api/admin/invites", post(account::create_invite))
        .route("/api/rooms", get(rooms::list).post(rooms::create))
        .route("/api/rooms/{name}/history", get(api::history))
        .route("/api/rooms/{name}/members", get(rooms::members).post(rooms::add_member))
        .route("/api/rooms/{name}/members/{actor_id}", put(rooms::set_role))
        .route("/api/rooms/{name}/owner", post(rooms::transfer))
        .route("/api/rooms/{name}/invites", post(rooms::invite))
        .route("/api/rooms/{name}/kick", post(rooms::kick))
        .route("/api/rooms/{name}/bans", get(rooms::bans).post(rooms::ban))
        .route("/api/rooms/{name}/bans/{actor_id}", delete(rooms::unban))
        .route("/api/invites/{code}/accept", post(rooms::accept))
        .route("/invite/{code}", get(pages::lobby))
        .route("/register", get(pages::lobby))
        .route("/api/direct", post(direct::open))
        .route("/api/my/rooms", get(direct::my_rooms))
        .route("/api/rooms/{name}/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/api/rooms/{name}/webhooks/{id}", delete(webhooks::revoke))
        .route("/hooks/{id}/{secret}", post(webhooks::post).layer(webhook_body_limit))
        .route("/ws", get(native::upgrade))
        .route(
            "/socket.io/",
            get(socketio::get)
                .post(socketio::post)
                .options(socketio::preflight)
                .fallback(socketio::bad_method)
                // Polling bodies up to the advertised maxPayload reach the handler, which answers 413
                // above it (axum's own default limit is 2 MiB).
                .layer(axum::extract::DefaultBodyLimit::max(app.engine.max_payload.saturating_add(1))),
        )
        // Before every handler: a state-changing request from another site is refused (http/csrf.rs).
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&app), csrf::guard))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&app), bounded_by_shutdown))
        .with_state(app)
}

/// An HTTP request still being handled at the shutdown's deadline (a store that does not answer)
/// is answered 503 `unavailable`, within the server's slack for the exit, rather than cut off
/// without an answer when the process exits.
async fn bounded_by_shutdown(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let handled = app.shutdown.bounded(async { Ok::<_, confab_core::ChatError>(next.run(request).await) }).await;
    handled.unwrap_or_else(|e| api::ApiError(e).into_response())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Removes the connection from the registry when dropped.
pub struct Registered {
    app: Arc<App>,
    id: ConnId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(conn) = self.app.conns.lock().remove(&self.id) {
            crate::metrics::connection_closed(conn.encoder.slot(), conn.kill_reason());
        }
    }
}

impl App {
    pub fn register(self: &Arc<Self>, conn: &Arc<ConnShared>) -> Registered {
        self.conns.lock().insert(conn.id, Arc::clone(conn));
        crate::metrics::connection_opened(conn.encoder.slot());
        Registered { app: Arc::clone(self), id: conn.id }
    }

    pub fn connection_count(&self) -> usize {
        self.conns.lock().len()
    }

    /// Whether a browser page from this `Origin` may talk to us: no Origin (not a browser), our own
    /// host, or one listed in `--allowed-origins`.
    pub fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
        self.origin_is_ours(origin, headers)
    }

    /// Whether `origin` (`scheme://host[:port]`) is this server's, as the request's `Host` names it, or
    /// one listed in `--allowed-origins`. The one origin rule: WebSocket and Socket.IO upgrades, and the
    /// cross-site request check of state-changing HTTP requests (`http/csrf.rs`).
    pub fn origin_is_ours(&self, origin: &str, headers: &HeaderMap) -> bool {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let own = !host.is_empty() && origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host);
        own || self.config.allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin)
    }

    /// Refuses a WebSocket upgrade from a foreign origin (403), above the connection limit, or
    /// while shutting down (503).
    // The refusal is the HTTP response itself, built once per refused upgrade: no need to box it.
    #[allow(clippy::result_large_err)]
    pub fn admit_upgrade(&self, headers: &HeaderMap) -> Result<(), Response> {
        if !self.origin_allowed(headers) {
            return Err((StatusCode::FORBIDDEN, "origin not allowed").into_response());
        }
        if self.shutdown.draining() {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response());
        }
        if self.connection_count() >= self.chat.limits.max_connections {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response());
        }
        Ok(())
    }

    /// A place for one more connection from `peer`, or 429 when it holds
    /// `--max-connections-per-address` already.
    #[allow(clippy::result_large_err)] // as `admit_upgrade`
    pub fn address_slot(&self, peer: std::net::IpAddr) -> Result<Slot, Response> {
        self.per_address.take(peer).ok_or_else(|| {
            crate::metrics::error(confab_core::ErrorCode::RateLimited);
            (StatusCode::TOO_MANY_REQUESTS, "too many connections from this address").into_response()
        })
    }

    fn close_all(&self) {
        let conns: Vec<_> = self.conns.lock().values().cloned().collect();
        for conn in &conns {
            conn.kill(CloseReason::GoingAway);
        }
    }

    /// The end of a shutdown: waits for the connections to finish and close (they answer what they
    /// were asked first), then announces the leaves of everyone still listed here, then waits for
    /// the bus to carry them to the other nodes. All of it bounded by the shutdown's deadline.
    async fn drain(&self) {
        let deadline = self.shutdown.deadline() + SLACK;
        while self.connection_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.connection_count() > 0 {
            tracing::warn!(open = self.connection_count(), "connections still open at the shutdown deadline");
        }
        // Past the deadline the store may still take a few leaves; give it a moment of its own so a
        // slow drain does not leave everyone listed for the next start's grace pass.
        let leaves_until = deadline.max(tokio::time::Instant::now() + SLACK);
        match tokio::time::timeout_at(leaves_until, self.chat.depart_everyone()).await {
            Ok(left) if left > 0 => tracing::info!(left, "announced the leaves of the people still in rooms"),
            Ok(_) => {}
            Err(_) => tracing::warn!("not every leave was stored before the shutdown deadline; the next start announces them"),
        }
        if let Some(bus) = &self.redis_bus {
            if !bus.flush(leaves_until.max(tokio::time::Instant::now() + SLACK)).await {
                tracing::warn!("publications still queued for Redis at exit; other nodes read them from the database");
            }
        }
    }
}
