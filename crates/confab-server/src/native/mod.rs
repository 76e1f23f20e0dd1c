//! Confab's own WebSocket protocol at `/ws` (docs/protocol.md): the upgrade, and one session task
//! per connection that reads requests while the shared writer sends.

pub mod frames;
pub mod request;
mod session;

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::http::auth;

pub async fn upgrade(State(app): State<Arc<App>>, headers: HeaderMap, uri: axum::http::Uri, ws: WebSocketUpgrade) -> Response {
    if let Err(refused) = app.admit_upgrade(&headers) {
        return refused;
    }
    let actor = match auth::token_from_request(&headers, uri.query()) {
        Some(token) => app.chat.authenticate(&auth::hash_token(&token)).await.ok().flatten(),
        None => None,
    };
    app.configure(ws).on_upgrade(move |socket| session::run(app, socket, actor)).into_response()
}
