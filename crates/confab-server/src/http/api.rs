//! The JSON API: guest sessions, the current user, rooms and history. Errors are the chat service's,
//! mapped once to a status code and `{"error": {"code", "message"}}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::model::{Actor, Seq};
use confab_core::store::EventRange;
use confab_core::{ChatError, ErrorCode};
use serde::Deserialize;
use serde_json::json;

use super::auth;
use super::guest_limit::TooManyGuests;
use crate::app::App;

pub struct ApiError(pub ChatError);

/// 429 with `Retry-After` (seconds) and the `rate_limited` body.
impl From<TooManyGuests> for ApiError {
    fn from(e: TooManyGuests) -> Self {
        ApiError(e.into())
    }
}

fn too_many_guests(e: TooManyGuests) -> Response {
    let mut response = ApiError::from(e).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(e.retry_after.as_secs()));
    response
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            ErrorCode::Unauthenticated | ErrorCode::BadCredentials | ErrorCode::TwoFactorRequired | ErrorCode::SessionRevoked => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::Forbidden | ErrorCode::RegistrationClosed | ErrorCode::GuestsNotAllowed | ErrorCode::AccountDisabled => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::UsernameTaken => StatusCode::CONFLICT,
            ErrorCode::RoomNotFound | ErrorCode::MessageNotFound | ErrorCode::InviteInvalid => StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound | ErrorCode::WebhookNotFound => StatusCode::NOT_FOUND,
            ErrorCode::RoomExists => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        crate::metrics::error(self.0.code);
        let body = json!({"error": {"code": self.0.code.as_str(), "message": self.0.message}});
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Callers that know better (the guest and sign-in limits) replace it.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The request's actor (a guest, or an account by session or API token), or `unauthenticated`;
/// a setup-only administrator gets `two_factor_required`.
pub async fn actor(app: &App, headers: &HeaderMap) -> ApiResult<Actor> {
    let me = super::account::identity(app, headers).await?;
    Ok(me.full()?.actor.clone())
}

#[derive(Deserialize)]
pub struct GuestRequest {
    name: String,
}

pub async fn create_guest(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    if app.accounts.guests == confab_core::authz::GuestAccess::Off {
        return Err(crate::identity::guests_not_allowed().into());
    }
    if let Err(e) = app.guests.take(peer.ip()) {
        return Ok(too_many_guests(e));
    }
    let Json(body) = body.map_err(|e| ChatError::bad_request(e.body_text()))?;
    // An object only: serde would otherwise read the struct from an array by position (`["sam"]`).
    if !body.is_object() {
        return Err(ChatError::bad_request("the body is a JSON object: {\"name\": \"...\"}").into());
    }
    let req = GuestRequest::deserialize(body).map_err(|e| ChatError::bad_request(format!("body: {e}")))?;
    let (token, hash) = auth::new_token();
    let user = app.chat.create_guest(&req.name, &hash).await?;
    let cookie = auth::session_cookie(&token, app.config.secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Json(json!({"token": token, "user": user}))).into_response())
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<Seq>,
    after: Option<Seq>,
    limit: Option<usize>,
}

/// A path or query string axum could not decode (a room name that is not UTF-8 once percent-decoded,
/// `before=abc`, `limit=-1`, a number beyond 2^63) is a `bad_request` in the API's JSON, not axum's
/// plain-text rejection.
pub async fn history(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Path(name) = path.map_err(|e| ChatError::bad_request(format!("room name in the path: {}", e.body_text())))?;
    let Query(q) = query.map_err(|e| ChatError::bad_request(e.body_text()))?;
    let user = actor(&app, &headers).await?;
    let room = app.chat.visible_room(Some(&user), &name).await?;
    let range = match (q.before, q.after) {
        (Some(b), None) => EventRange::Before(b),
        (None, Some(a)) => EventRange::After(a),
        (None, None) => EventRange::Before(i64::MAX),
        _ => return Err(ChatError::bad_request("give at most one of `before` and `after`").into()),
    };
    let (events, more) = app.chat.history(&user, &room, range, q.limit.unwrap_or(50)).await?;
    Ok(Json(json!({"events": events, "more": more})))
}
