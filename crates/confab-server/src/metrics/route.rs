//! `GET /metrics`: the Prometheus page, behind the access rule chosen with `--metrics`.
//!
//! `local` trusts the TCP peer's address only: `X-Forwarded-For` and friends are ignored, since any
//! client can send them. Behind a reverse proxy on the same host every request looks local, so such
//! a deployment should use `token` (or not route `/metrics` through the proxy); docs/operations.md
//! says so.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::METRICS;
use crate::app::App;
use crate::config::MetricsAccess;

/// The Prometheus text page; who may read it is `--metrics` (docs/operations.md).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "`--metrics token` and no or a wrong `Authorization: Bearer`", content_type = "text/plain", body = String,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 403, description = "`--metrics local` and the client is not on 127.0.0.1 or ::1", content_type = "text/plain", body = String),
        (status = 404, description = "`--metrics off`", content_type = "text/plain", body = String),
        (status = 500, description = "The page could not be rendered", content_type = "text/plain", body = String),
    ))]
pub async fn metrics(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match app.config.metrics {
        MetricsAccess::Off => return (StatusCode::NOT_FOUND, "metrics are off (--metrics off)").into_response(),
        MetricsAccess::Local if !peer.ip().to_canonical().is_loopback() => {
            return (StatusCode::FORBIDDEN, "metrics are served to 127.0.0.1 and ::1 only (--metrics local)")
                .into_response();
        }
        MetricsAccess::Local => {}
        MetricsAccess::Token => {
            let want = app.config.metrics_token.as_deref().unwrap_or_default();
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if want.is_empty() || !same(given.as_bytes(), want.as_bytes()) {
                let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
                return (StatusCode::UNAUTHORIZED, challenge, "metrics need Authorization: Bearer <--metrics-token>")
                    .into_response();
            }
        }
    }
    if let Some(bus) = &app.redis_bus {
        METRICS.redis_counters(bus.dropped(), bus.reconnects());
    }
    match METRICS.render() {
        Ok(page) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], page).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics").into_response()
        }
    }
}

/// Compares in time that depends on the lengths only, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
