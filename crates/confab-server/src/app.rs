//! The application: shared state handed to every handler, the router, start-up, and graceful
//! shutdown (stop accepting, then close every connection with `going_away` so clients reconnect).

use std::collections::HashMap;
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
use crate::conn::{CloseReason, ConnShared};
use crate::fanout::Hub;
use crate::http::guest_limit::GuestLimiter;
use crate::accounts::Accounts;
use crate::http::{account, api, csrf, health, openapi, pages, rooms};
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
    /// The Redis bus, when the node has one: /metrics reads its counters.
    pub redis_bus: Option<Arc<confab_bus_redis::RedisBus>>,
    /// Accounts, sessions, API tokens, and the registry that closes revoked sessions' connections.
    pub accounts: Accounts,
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
    crate::metrics::install();
    let crate::backends::Backends { chat, store, hub, description: storage, redis_bus } = crate::backends::open(&config).await?;
    let accounts = Accounts::new(Arc::clone(&store), &config);
    accounts.registry.start_rechecks(store, Duration::from_millis(config.credential_recheck_ms));
    // The authorization gate reads --guests (guests in public rooms only, or not at all).
    chat.set_policy(confab_core::authz::Policy { guests: config.guests.access() });
    // The lobby lists public rooms only (what someone signed in as nobody may see).
    for room in chat.list_rooms(None).await? {
        hub.known_room(&room.name);
    }
    let app = Arc::new(App {
        engine: socketio::engine::Engine::new(&config),
        guests: GuestLimiter::new(config.guests_per_minute_per_address, config.guest_burst_per_address),
        chat,
        hub,
        config: config.clone(),
        conns: Mutex::new(HashMap::new()),
        redis_bus,
        accounts,
    });
    let listener =
        tokio::net::TcpListener::bind(config.bind).await.map_err(|e| StartError::Bind(config.bind, e))?;
    let local = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(%local, %storage, "confab started");
    // Tests and tools read this line to learn the port when --bind asked for port 0.
    println!("listening on {local}");
    let closing = Arc::clone(&app);
    // On a signal: stop accepting, and close every connection at once (long-polls included, which
    // would otherwise hold the HTTP side open for up to a ping interval).
    let signal = async move {
        shutdown_signal().await;
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
    axum::serve(listener, service)
        .with_graceful_shutdown(signal)
        .await
        .map_err(StartError::Serve)?;
    app.drain().await;
    Ok(())
}

fn router(app: Arc<App>) -> Router {
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
        .with_state(app)
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

    /// Refuses a WebSocket upgrade from a foreign origin (403) or above the connection limit (503).
    pub fn admit_upgrade(&self, headers: &HeaderMap) -> Result<(), Response> {
        if !self.origin_allowed(headers) {
            return Err((StatusCode::FORBIDDEN, "origin not allowed").into_response());
        }
        if self.connection_count() >= self.chat.limits.max_connections {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response());
        }
        Ok(())
    }

    fn close_all(&self) {
        let conns: Vec<_> = self.conns.lock().values().cloned().collect();
        for conn in &conns {
            conn.kill(CloseReason::GoingAway);
        }
    }

    async fn drain(&self) {
        // Give writers a moment to send their close frames.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.connection_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
