//! Incoming webhooks (docs/api.md, "Direct and webhooks").
//!
//! - Room moderators (and administrators, in public rooms: the gate's `ManageWebhooks`) manage them:
//!   `POST /api/rooms/{name}/webhooks {name}` answers the URL with its secret (shown this once; the
//!   store keeps its SHA-256), `GET` lists them, `DELETE …/{id}` revokes.
//! - `POST /hooks/{id}/{secret}` takes Slack's incoming-webhook payload, as JSON or as the form field
//!   `payload=<json>` Slack also accepts, and posts `text` as the webhook (display name `username`,
//!   or the webhook's name), once the authorization gate allows it (`Chat::post_webhook`: `Send` by
//!   the webhook's actor; a banned webhook is refused). It answers `200 ok` as Slack does once the
//!   message is stored. An unknown id, a revoked webhook and a wrong secret all answer the same 404
//!   `webhook_not_found`.
//! - Each webhook has its own token bucket (`--webhook-burst`, `--webhook-messages-per-minute`);
//!   beyond it: 429 `rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::model::ActorId;
use confab_core::{ChatError, ErrorCode};
use parking_lot::Mutex;
use confab_protocol::webhook::SlackPayload;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{actor, ApiError};
use super::auth;
use super::direct::object;
use crate::app::App;

/// JSON escapes can take six bytes per byte of text (`\u0001`), so a payload may be this much larger
/// than the longest message text, plus room for the other fields; larger bodies answer 413.
const ESCAPE_FACTOR: usize = 6;
const OTHER_FIELDS: usize = 4096;

/// The largest body `POST /hooks/…` reads, for a given `--max-text-bytes`.
pub fn max_body(max_text_bytes: usize) -> usize {
    max_text_bytes.saturating_mul(ESCAPE_FACTOR).saturating_add(OTHER_FIELDS)
}

/// The webhook's name: the display name of its messages when a POST gives no `username`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateWebhook {
    name: String,
}

fn room_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = path.map_err(|e| ChatError::bad_request(format!("room name in the path: {}", e.body_text())))?;
    Ok(name)
}

#[utoipa::path(post, path = "/api/rooms/{name}/webhooks", tag = "direct",
    params(("name" = String, Path, description = "The room's name")),
    request_body(content = CreateWebhook, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The webhook and its URL, with the secret shown this once", body = super::direct_schema::WebhookCreated),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `invalid_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: only the room's owner and moderators, and administrators in public rooms (never in a direct conversation), `guests_not_allowed`, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let name = room_path(path)?;
    let user = actor(&app, &headers).await?;
    let room = app.chat.visible_room(Some(&user), &name).await?;
    let req: CreateWebhook = object(body, r#"{"name": "..."}"#)?;
    let (secret, hash) = auth::new_token();
    let hook = app.chat.create_webhook(&user, &room, &req.name, &hash).await?;
    let path = format!("/hooks/{}/{secret}", hook.id.as_str());
    let url = match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("{}://{host}{path}", if app.config.secure_cookies { "https" } else { "http" }),
        None => path.clone(),
    };
    Ok(Json(json!({"webhook": hook, "url": url, "path": path})))
}

#[utoipa::path(get, path = "/api/rooms/{name}/webhooks", tag = "direct",
    params(("name" = String, Path, description = "The room's name")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The room's live webhooks (no secrets)", body = super::direct_schema::WebhookList),
        (status = 400, description = "`bad_request`, `invalid_room_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: only the room's owner and moderators, and administrators in public rooms (never in a direct conversation), `guests_not_allowed`, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn list(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let name = room_path(path)?;
    let user = actor(&app, &headers).await?;
    let room = app.chat.visible_room(Some(&user), &name).await?;
    Ok(Json(json!({"webhooks": app.chat.webhooks(&user, &room).await?})))
}

#[utoipa::path(delete, path = "/api/rooms/{name}/webhooks/{id}", tag = "direct",
    params(("name" = String, Path, description = "The room's name"), ("id" = String, Path, description = "The webhook's id (`w_…`)")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Revoked: its URL stops working; its messages stay"),
        (status = 400, description = "`bad_request`, `invalid_room_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: only the room's owner and moderators, and administrators in public rooms (never in a direct conversation), `guests_not_allowed`, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found` (as above), `webhook_not_found`: the room has no such live webhook", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn revoke(
    State(app): State<Arc<App>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let Path((name, id)) = path.map_err(|e| ChatError::bad_request(format!("path: {}", e.body_text())))?;
    let user = actor(&app, &headers).await?;
    let room = app.chat.visible_room(Some(&user), &name).await?;
    app.chat.revoke_webhook(&user, &room, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The payload as JSON, or as the form field `payload` (`application/x-www-form-urlencoded`).
fn payload(headers: &HeaderMap, body: &[u8]) -> Result<SlackPayload, ChatError> {
    confab_protocol::webhook::payload(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), body)
}

#[utoipa::path(post, path = "/hooks/{id}/{secret}", tag = "direct",
    params(("id" = String, Path, description = "The webhook's id (`w_…`)"), ("secret" = String, Path, description = "The secret shown when it was created")),
    request_body(content = SlackPayload, description = "Slack's incoming-webhook JSON, or a form whose `payload` field carries it",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Stored: `ok`, as Slack answers", content_type = "text/plain", body = String),
        (status = 400, description = "`bad_request`, `text_empty`, `text_too_long`, `invalid_name`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: the authorization gate refuses the webhook (banned from its public room)", body = super::api::ErrorBody),
        (status = 404, description = "`webhook_not_found`: unknown, revoked, or a wrong secret (one answer); also a webhook banned from its private room", body = super::api::ErrorBody),
        (status = 413, description = "`bad_request`: the body is larger than the webhook body limit (6 × `--max-text-bytes` + 4 KiB)", body = super::api::ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
        (status = 507, description = "`storage_full`: the disk or `--database-max-bytes` is full; nothing was stored", body = super::api::ErrorBody),
    ))]
pub async fn post(
    State(app): State<Arc<App>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let not_found = || ChatError::new(ErrorCode::WebhookNotFound, "no such webhook (unknown, revoked, or a wrong secret)");
    let Path((id, secret)) = path.map_err(|_| not_found())?;
    let body = match body {
        Ok(body) => body,
        // Past the body limit: 413 as before, with the API's JSON error body.
        Err(e) => {
            let mut response = ApiError(ChatError::bad_request(e.body_text())).into_response();
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            }
            return Ok(response);
        }
    };
    let hook = app.chat.webhook(&id, &auth::hash_token(&secret)).await?;
    // A payload that cannot be read costs nothing; every readable one counts against the rate.
    let req = payload(&headers, &body)?;
    if let Err(wait) = app.webhook_limit.take(&hook.webhook.id) {
        let e = ChatError::new(
            ErrorCode::RateLimited,
            format!("this webhook posts at most {} messages a minute; try again in {} s", app.config.webhook_messages_per_minute, wait.as_secs()),
        );
        let mut response = ApiError(e).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return Ok(response);
    }
    let pending = app.chat.post_webhook(&hook, &req.text, req.username.as_deref()).await?;
    pending.await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response())
}

/// A token bucket per webhook. Buckets that are full again are swept once the table is large.
pub struct WebhookLimiter {
    /// Tokens per second; 0 disables the limit.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<ActorId, (f64, Instant)>>,
}

const SWEEP_AT: usize = 4096;

impl WebhookLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        WebhookLimiter { rate: f64::from(per_minute) / 60.0, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one message from the webhook's bucket, or says how long to wait.
    pub fn take(&self, hook: &ActorId) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, (tokens, last)| *tokens + now.duration_since(*last).as_secs_f64() * self.rate < self.burst);
        }
        let (tokens, last) = buckets.entry(hook.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_webhook() {
        let limiter = WebhookLimiter::new(60, 2);
        let (a, b) = (ActorId::from("w_a".to_string()), ActorId::from("w_b".to_string()));
        assert!(limiter.take(&a).is_ok() && limiter.take(&a).is_ok());
        assert_eq!(limiter.take(&a), Err(Duration::from_secs(1)));
        assert!(limiter.take(&b).is_ok(), "each webhook has its own bucket");
        let unlimited = WebhookLimiter::new(0, 0);
        assert!((0..1000).all(|_| unlimited.take(&a).is_ok()));
    }

    #[test]
    fn slack_payloads_as_json_and_as_a_form() {
        let mut h = HeaderMap::new();
        let p = payload(&h, br#"{"text": "build passed", "username": "CI", "icon_emoji": ":x:"}"#).unwrap();
        assert_eq!((p.text.as_str(), p.username.as_deref()), ("build passed", Some("CI")));
        h.insert(header::CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        let p = payload(&h, b"payload=%7B%22text%22%3A%22a+b%22%7D").unwrap();
        assert_eq!((p.text.as_str(), p.username), ("a b", None));
        assert!(payload(&h, b"text=hi").is_err(), "a form needs `payload`");
        h.remove(header::CONTENT_TYPE);
        for bad in [&b"{not json"[..], b"[1]", b"\xff", br#"{"text": 5}"#] {
            assert_eq!(payload(&h, bad).err().map(|e| e.code), Some(ErrorCode::BadRequest));
        }
    }
}
