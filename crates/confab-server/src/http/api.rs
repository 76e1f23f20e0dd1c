//! The JSON API: guest sessions, the current user, rooms and history. Errors are the chat service's,
//! mapped once to a status code and `{"error": {"code", "message"}}`.
//!
//! Every handler carries its `#[utoipa::path]`: the OpenAPI document (`/api/openapi.json`, built in
//! `openapi.rs`) is made from these annotations and the response types below, so the document and the
//! handlers change together.

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
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
            ErrorCode::Unauthenticated | ErrorCode::BadCredentials | ErrorCode::TwoFactorRequired | ErrorCode::SessionRevoked
            | ErrorCode::SessionExpired => {
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
        let body = ErrorBody { error: ErrorDetail { code: self.0.code.as_str(), message: self.0.message } };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Callers that know better (the guest and sign-in limits) replace it.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        }
        response
    }
}

/// Every error of the JSON API: `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "room_not_found", "message": "no room named \"lobby\""}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs: one of a fixed list (docs/api.md).
    #[schema(value_type = super::openapi::ErrorCodeSchema)]
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

type ApiResult<T> = Result<T, ApiError>;

/// The request's actor (a guest, or an account by session or API token), or `unauthenticated`;
/// a setup-only administrator gets `two_factor_required`.
pub async fn actor(app: &App, headers: &HeaderMap) -> ApiResult<Actor> {
    let me = super::account::identity(app, headers).await?;
    Ok(me.full()?.actor.clone())
}

#[derive(Deserialize, ToSchema)]
pub struct GuestRequest {
    /// The display name (1-32 characters once normalised).
    #[schema(example = "sam")]
    name: String,
}

/// A new guest session: the token for `hello`/`Authorization: Bearer`, and the cookie for browsers.
#[derive(Serialize, ToSchema)]
pub struct GuestResponse {
    /// The session token (shown once; the server keeps only its SHA-256 hash).
    pub token: String,
    pub user: Actor,
}

/// Creates a guest: a display name with a session. Limited per client address.
#[utoipa::path(post, path = "/api/guest", tag = "session",
    request_body(content = GuestRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The new session; `Set-Cookie` carries it for browsers", body = GuestResponse,
            headers(("Set-Cookie" = String, description = "`confab_session=<token>; Path=/; HttpOnly; SameSite=Lax`"))),
        (status = 400, description = "`bad_request` (not a JSON object with `name`) or `invalid_name`", body = ErrorBody),
        (status = 403, description = "`forbidden`: a cross-site request (Origin check, docs/security.md)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many new guests from this address", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "`unavailable`: the store did not answer", body = ErrorBody),
        (status = 507, description = "`storage_full`: the disk or `--database-max-bytes` is full; nothing was stored", body = ErrorBody),
    ))]
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
    let cookie = auth::session_cookie(&token, app.config.secure_cookies, auth::GUEST_COOKIE_MAX_AGE_SECS);
    Ok(([(header::SET_COOKIE, cookie)], Json(GuestResponse { token, user })).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Events before this sequence number, newest page first (the default: the latest page).
    #[param(value_type = Option<i64>, minimum = 0)]
    before: Option<Seq>,
    /// Events after this sequence number, oldest first (at most one of `before` and `after`).
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<Seq>,
    /// Events on the page (1 to `--history-page-max`, default 50; larger asks are cut to the maximum).
    #[param(minimum = 0)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Oldest first.
    pub events: Vec<confab_core::event::Event>,
    /// Whether there are more events beyond this page in the direction asked.
    pub more: bool,
}

/// A page of a room's history.
///
/// A path or query string axum could not decode (a room name that is not UTF-8 once percent-decoded,
/// `before=abc`, `limit=-1`, a number beyond 2^63) is a `bad_request` in the API's JSON, not axum's
/// plain-text rejection.
#[utoipa::path(get, path = "/api/rooms/{name}/history", tag = "rooms",
    params(("name" = String, Path, description = "The room's name"), HistoryQuery),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of the room's event log", body = HistoryResponse),
        (status = 400, description = "`bad_request`, `invalid_room_name` or `bad_seq`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: this actor may not read the room", body = ErrorBody),
        (status = 404, description = "`room_not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn history(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult<Json<HistoryResponse>> {
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
    Ok(Json(HistoryResponse { events, more }))
}
