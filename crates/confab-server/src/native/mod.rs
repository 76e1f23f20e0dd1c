//! Confab's own WebSocket protocol at `/ws` (docs/protocol.md): the upgrade, and one session task
//! per connection that reads requests while the shared writer sends.

pub mod frames;
pub use confab_protocol::request;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::App;
use confab_ws::WsUpgrade;
use crate::http::auth;

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
    let slot = match app.address_slot(peer.ip()) {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let actor = match auth::token_from_request(&headers, uri.query()) {
        Some(token) => app.chat.authenticate(&auth::hash_token(&token)).await.ok().flatten(),
        None => None,
    };
    let max = app.chat.limits.max_frame_bytes;
    ws.on_upgrade(max, move |reader, writer| async move {
        let _slot = slot;
        session::run(app, reader, writer, actor, peer.ip()).await
    })
}
