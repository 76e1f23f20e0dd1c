//! Confab's own WebSocket protocol at `/ws` (docs/protocol.md): the upgrade, and one session task
//! per connection that reads requests while the shared writer sends.

pub mod frames;
pub use confab_protocol::request;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use confab_core::ChatError;

use crate::app::App;
use confab_ws::WsUpgrade;
use crate::identity;

pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    ws: WsUpgrade,
) -> Response {
    if let Err(refused) = app.admit_upgrade(&headers) {
        return refused;
    }
    // A cookie that no longer works (signed out elsewhere) leaves the connection anonymous, as if
    // there were none: it can still `hello`. An explicit `Authorization` header that does not work
    // is refused, so a bot with a revoked token learns it at once.
    let identity = match identity::from_request(&app, &headers, uri.query()).await {
        Some(Ok(me)) if me.setup_only => return refuse(StatusCode::FORBIDDEN, &me.full().err().unwrap_or_else(|| ChatError::internal("setup-only"))),
        Some(Ok(me)) => Some(me),
        Some(Err(e)) if headers.contains_key(header::AUTHORIZATION) => return refuse(StatusCode::UNAUTHORIZED, &e),
        Some(Err(_)) | None => None,
    };
    let max = app.chat.limits.max_frame_bytes;
    ws.on_upgrade(max, move |reader, writer| session::run(app, reader, writer, identity, peer.ip()))
}

/// An upgrade refused before it happened: the status and `{"error": {"code", "message"}}`.
fn refuse(status: StatusCode, e: &ChatError) -> Response {
    let body = serde_json::json!({"error": {"code": e.code.as_str(), "message": e.message}});
    (status, axum::Json(body)).into_response()
}
