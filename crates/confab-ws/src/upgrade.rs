//! The upgrade as an axum extractor (feature `axum`): [`WsUpgrade`] checks the request with
//! [`crate::handshake::check`], answers `101 Switching Protocols`, and hands the connection to the
//! protocol's session as a [`Reader`] and a [`Writer`].

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{ReadHalf, WriteHalf};

use crate::handshake::{self, NotUpgrade};
use crate::{WsReader, WsWriter};

/// The upgraded connection's byte stream.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;
pub type Reader = WsReader<ReadHalf<Upgraded>>;
pub type Writer = WsWriter<WriteHalf<Upgraded>>;

/// A valid WebSocket upgrade request, rejected with [`NotUpgrade`]'s status otherwise.
pub struct WsUpgrade {
    key: HeaderValue,
    on_upgrade: hyper::upgrade::OnUpgrade,
}

impl IntoResponse for NotUpgrade {
    fn into_response(self) -> Response {
        let mut response = (self.0, self.1).into_response();
        if self.0 == StatusCode::UPGRADE_REQUIRED {
            response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = NotUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let key = handshake::check(&parts.method, &parts.headers)?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or(NotUpgrade(StatusCode::BAD_REQUEST, "this connection cannot be upgraded"))?;
        Ok(WsUpgrade { key, on_upgrade })
    }
}

impl WsUpgrade {
    /// Answers `101 Switching Protocols`; once hyper hands the connection over, runs `session` on
    /// it in a new task. Messages above `max_message` bytes end the connection with 1009.
    pub fn on_upgrade<F, Fut>(self, max_message: usize, session: F) -> Response
    where
        F: FnOnce(Reader, Writer) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = handshake::accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let (r, w) = tokio::io::split(TokioIo::new(upgraded));
                    session(WsReader::new(r, max_message), WsWriter::new(w)).await
                }
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
            }
        });
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let h = response.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        response
    }
}

impl crate::write::Text for axum::extract::ws::Utf8Bytes {
    fn text(&self) -> &str {
        self.as_str()
    }
}
