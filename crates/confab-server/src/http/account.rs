//! The accounts part of the HTTP API (docs/api.md, "Accounts"): the server's settings, register,
//! sign in and out, the account, its sessions, API tokens and two-factor sign-in, and registration
//! invites for administrators. The rules are in [`crate::accounts`]; this file translates.
//!
//! Which credential may do what: a session may do everything here; an API token acts as its
//! account but gets 403 `forbidden` on the routes that manage sessions, tokens, the password or
//! 2FA; a setup-only administrator (`--require-2fa-for-admins`, no 2FA yet) may use `/api/me`,
//! `2fa/setup`, `2fa/enable` and `logout`, and gets `two_factor_required` elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::accounts::{Credential, CredentialKind, Revoke};
use confab_core::{ChatError, ErrorCode};
use confab_protocol::accounts::{
    object, optional_object, AccountPatch, CodeRequest, InviteRequest, LoginRequest, LogoutRequest, NewToken, PasswordChange,
    PasswordRequest, RegisterRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::api::ApiError;
use super::auth;
use crate::accounts::{LoginError, SignedIn, INVITE_DEFAULT_SECS};
use crate::app::App;
use crate::identity::{self, Identity};

type ApiResult<T> = Result<T, ApiError>;

/// A JSON object body as `T` (`bad_request` otherwise; an array is not read by position).
pub fn body<T: DeserializeOwned>(body: Result<Json<Value>, JsonRejection>, shape: &str) -> Result<T, ChatError> {
    let Json(value) = body.map_err(|e| ChatError::bad_request(e.body_text()))?;
    object(value, shape)
}

/// The request's identity, or `unauthenticated`.
pub async fn identity(app: &App, headers: &HeaderMap) -> Result<Identity, ChatError> {
    match identity::from_request(app, headers, None).await {
        Some(result) => result,
        None => Err(ChatError::new(ErrorCode::Unauthenticated, "not signed in: POST /api/auth/login (or /api/guest)")),
    }
}

/// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
pub fn rate_limited(retry_after: std::time::Duration, message: &str) -> Response {
    let mut response = ApiError(ChatError::new(ErrorCode::RateLimited, message)).into_response();
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

fn user_agent(headers: &HeaderMap) -> String {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", auth::COOKIE)
}

/// A new session's answer: `{"user", "token"}` and the session cookie.
fn signed_in(app: &App, s: SignedIn) -> Response {
    let setup_only = app.accounts.require_2fa_for_admins && s.user.actor.admin && !s.user.totp_enabled;
    let me = Identity { actor: s.user.actor.clone(), via: identity::Via::Session(s.session_id), user: Some(s.user), setup_only };
    let cookie = auth::session_cookie(&s.token, app.config.secure_cookies, app.accounts.lifetime.max_ms / 1000);
    ([(header::SET_COOKIE, cookie)], Json(json!({"user": me.me(), "token": s.token}))).into_response()
}

#[utoipa::path(get, path = "/api/server", tag = "accounts",
    responses(
        (status = 200, description = "How this server lets people in", body = super::account_schema::ServerInfo),
    ))]
pub async fn server(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({
        "registration": app.accounts.registration.as_str(),
        "guests": app.accounts.guests.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

#[utoipa::path(post, path = "/api/auth/register", tag = "accounts",
    request_body(content = RegisterRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Registered and signed in; `Set-Cookie` carries the session", body = super::account_schema::SignedInAnswer,
            headers(("Set-Cookie" = String, description = "the session cookie (HttpOnly, SameSite=Lax)"))),
        (status = 400, description = "`bad_request`, `invalid_username`, `weak_password`, `invalid_name`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (a cross-site request), `registration_closed`", body = super::api::ErrorBody),
        (status = 404, description = "`invite_invalid` (`--registration invite`: no such code, used or expired)", body = super::api::ErrorBody),
        (status = 409, description = "`username_taken`", body = super::api::ErrorBody),
        (status = 429, description = "`rate_limited` (new identities per address), with `Retry-After`", body = super::api::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
        (status = 507, description = "`storage_full`: the disk or `--database-max-bytes` is full; nothing was stored", body = super::api::ErrorBody),
    ))]
pub async fn register(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Response> {
    let req: RegisterRequest = body(raw, r#"{"username", "password", "display_name"?, "invite"?}"#)?;
    // A new identity, like a guest: the same per-address limit.
    if let Err(e) = app.guests.take(peer.ip()) {
        return Ok(rate_limited(e.retry_after, &e.to_string()));
    }
    let s = app
        .accounts
        .register(&req.username, &req.password, req.display_name.as_deref(), req.invite.as_deref(), &user_agent(&headers))
        .await?;
    Ok(signed_in(&app, s))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "accounts",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session", body = super::account_schema::SignedInAnswer,
            headers(("Set-Cookie" = String, description = "the session cookie (HttpOnly, SameSite=Lax)"))),
        (status = 400, description = "`bad_request`: not the JSON object described", body = super::api::ErrorBody),
        (status = 401, description = "`bad_credentials` (the same whether or not the account exists) or `two_factor_required` (send `code`)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: a cross-site request; `account_disabled`", body = super::api::ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed sign-ins, with `Retry-After`", body = super::api::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
        (status = 507, description = "`storage_full`: the disk or `--database-max-bytes` is full; nothing was stored", body = super::api::ErrorBody),
    ))]
pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Response> {
    let req: LoginRequest = body(raw, r#"{"username", "password", "code"?}"#)?;
    match app.accounts.login(&req.username, &req.password, req.code.as_deref(), peer.ip(), &user_agent(&headers)).await {
        Ok(s) => Ok(signed_in(&app, s)),
        Err(LoginError::Refused(e)) if e.code == ErrorCode::RateLimited => {
            Ok(rate_limited(std::time::Duration::from_secs(1), &e.message))
        }
        Err(LoginError::Refused(e)) => Err(e.into()),
        Err(LoginError::Throttled(wait)) => Ok(rate_limited(wait, "too many failed sign-ins; wait before trying again")),
    }
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts",
    request_body(content = Option<LogoutRequest>, content_type = "application/json", description = "Optional: an empty body is `{}`"),
    security((), ("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Signed out (or there was nothing to end); the cookie is cleared",
            headers(("Set-Cookie" = String, description = "clears the session cookie"))),
        (status = 400, description = "`bad_request`: not the JSON object described", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, raw: axum::body::Bytes) -> ApiResult<Response> {
    let req: LogoutRequest = optional_object(&raw, r#"{"everywhere"?: bool}"#)?;
    let clear = [(header::SET_COOKIE, clear_cookie(app.config.secure_cookies))];
    let me = match identity(&app, &headers).await {
        Ok(me) => me,
        // Nothing to end: the cookie is cleared all the same.
        Err(e) if e.code == ErrorCode::Unauthenticated => return Ok((StatusCode::NO_CONTENT, clear).into_response()),
        Err(e) => return Err(e.into()),
    };
    if !matches!(me.via, identity::Via::Guest) {
        let (user, session) = me.session_account()?;
        let which = if req.everywhere { Revoke::All } else { Revoke::One(session.to_string()) };
        app.accounts.revoke(CredentialKind::Session, &user.actor.id, &which).await?;
    }
    Ok((StatusCode::NO_CONTENT, clear).into_response())
}

#[utoipa::path(get, path = "/api/me", tag = "accounts",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Who this request is", body = super::account_schema::MeAnswer),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let me = identity(&app, &headers).await?;
    Ok(Json(json!({"user": me.me()})))
}

#[utoipa::path(patch, path = "/api/account", tag = "accounts",
    request_body(content = AccountPatch, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The new display name", body = super::account_schema::MeAnswer),
        (status = 400, description = "`bad_request`, `invalid_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn update_account(State(app): State<Arc<App>>, headers: HeaderMap, raw: Result<Json<Value>, JsonRejection>) -> ApiResult<Json<Value>> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let user = me.account()?;
    let req: AccountPatch = body(raw, r#"{"display_name"}"#)?;
    app.chat.rename(&user.actor, &req.display_name).await?;
    let mut me = me.clone();
    me.actor.name = confab_core::model::display_name(&req.display_name)?;
    Ok(Json(json!({"user": me.me()})))
}

#[utoipa::path(post, path = "/api/account/password", tag = "accounts",
    request_body(content = PasswordChange, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Changed; every other session of the account ends"),
        (status = 400, description = "`bad_request`, `weak_password`", body = super::api::ErrorBody),
        (status = 401, description = "`bad_credentials` (the current password is wrong), `unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::api::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn change_password(State(app): State<Arc<App>>, headers: HeaderMap, raw: Result<Json<Value>, JsonRejection>) -> ApiResult<StatusCode> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, session) = me.session_account()?;
    let req: PasswordChange = body(raw, r#"{"current", "new"}"#)?;
    app.accounts.change_password(user, session, &req.current, &req.new).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn session_json(c: &Credential, current: &str) -> Value {
    json!({"id": c.id, "created_at": c.created_at, "last_used_at": c.last_used_at, "user_agent": c.label, "current": c.id == current})
}

fn token_json(c: &Credential) -> Value {
    json!({"id": c.id, "name": c.label, "created_at": c.created_at, "last_used_at": c.last_used_at})
}

#[utoipa::path(get, path = "/api/account/sessions", tag = "accounts",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The account's sessions", body = super::account_schema::SessionList),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: an API token, or a guest", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn sessions(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, current) = me.session_account()?;
    let list = app.accounts.store.credentials(CredentialKind::Session, &user.actor.id).await?;
    // Expired sessions wait for the sweep to delete them; they are over, so they are not listed.
    let now = confab_core::model::now_ms();
    let live = list.iter().filter(|c| !app.accounts.lifetime.expired(c, now));
    Ok(Json(json!({"sessions": live.map(|c| session_json(c, current)).collect::<Vec<_>>()})))
}

fn not_found(what: &str) -> ChatError {
    ChatError::new(ErrorCode::BadRequest, format!("no such {what} on this account"))
}

#[utoipa::path(delete, path = "/api/account/sessions/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The credential's id")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "The session ended (its connections are closed)"),
        (status = 400, description = "`bad_request`: no such session on this account", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn delete_session(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, _) = me.session_account()?;
    let gone = app.accounts.revoke(CredentialKind::Session, &user.actor.id, &Revoke::One(id)).await?;
    if gone.is_empty() {
        return Err(not_found("session").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/account/tokens", tag = "accounts",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The account's API tokens (never their secrets)", body = super::account_schema::TokenList),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: an API token, or a guest", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn tokens(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, _) = me.session_account()?;
    let list = app.accounts.store.credentials(CredentialKind::ApiToken, &user.actor.id).await?;
    Ok(Json(json!({"tokens": list.iter().map(token_json).collect::<Vec<_>>()})))
}

#[utoipa::path(post, path = "/api/account/tokens", tag = "accounts",
    request_body(content = NewToken, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The new token; its secret is shown this once", body = super::account_schema::NewTokenAnswer),
        (status = 400, description = "`bad_request`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn create_token(State(app): State<Arc<App>>, headers: HeaderMap, raw: Result<Json<Value>, JsonRejection>) -> ApiResult<Response> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, _) = me.session_account()?;
    let req: NewToken = body(raw, r#"{"name"}"#)?;
    let (token, secret) = app.accounts.create_token(&user.actor.id, &req.name).await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token_json(&token), "secret": secret}))).into_response())
}

#[utoipa::path(delete, path = "/api/account/tokens/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The credential's id")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Revoked (connections using it are closed)"),
        (status = 400, description = "`bad_request`: no such token on this account", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn delete_token(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, _) = me.session_account()?;
    let gone = app.accounts.revoke(CredentialKind::ApiToken, &user.actor.id, &Revoke::One(id)).await?;
    if gone.is_empty() {
        return Err(not_found("token").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/account/2fa/setup", tag = "accounts",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A new TOTP secret, not yet on until `2fa/enable`", body = super::account_schema::TotpSetupAnswer),
        (status = 400, description = "`bad_request`: two-factor sign-in is already on", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn totp_setup(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let me = identity(&app, &headers).await?;
    let (user, _) = me.session_account()?;
    let (secret, url) = app.accounts.totp_setup(user).await?;
    Ok(Json(json!({"secret": secret, "otpauth_url": url})))
}

#[utoipa::path(post, path = "/api/account/2fa/enable", tag = "accounts",
    request_body(content = CodeRequest, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Two-factor sign-in is on; the recovery codes are shown this once", body = super::account_schema::RecoveryCodes),
        (status = 400, description = "`bad_request`: no setup, or a wrong code", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn totp_enable(State(app): State<Arc<App>>, headers: HeaderMap, raw: Result<Json<Value>, JsonRejection>) -> ApiResult<Json<Value>> {
    let me = identity(&app, &headers).await?;
    let (user, _) = me.session_account()?;
    let req: CodeRequest = body(raw, r#"{"code"}"#)?;
    let codes = app.accounts.totp_enable(user, &req.code).await?;
    Ok(Json(json!({"recovery_codes": codes})))
}

#[utoipa::path(post, path = "/api/account/2fa/disable", tag = "accounts",
    request_body(content = PasswordRequest, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Two-factor sign-in is off"),
        (status = 400, description = "`bad_request`", body = super::api::ErrorBody),
        (status = 401, description = "`bad_credentials` (wrong password), `unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden` (an API token may not do this; a guest has no account; a cross-site request), `account_disabled`, `guests_not_allowed`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn totp_disable(State(app): State<Arc<App>>, headers: HeaderMap, raw: Result<Json<Value>, JsonRejection>) -> ApiResult<StatusCode> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let (user, _) = me.session_account()?;
    let req: PasswordRequest = body(raw, r#"{"password"}"#)?;
    app.accounts.totp_disable(user, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/admin/invites", tag = "accounts",
    request_body(content = Option<InviteRequest>, content_type = "application/json", description = "Optional: an empty body is `{}`"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "A registration invite", body = super::account_schema::InviteAnswer),
        (status = 400, description = "`bad_request`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, or `two_factor_required` (an administrator who must set up 2FA first)", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator, an API token that may not, or a cross-site request", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn create_invite(State(app): State<Arc<App>>, headers: HeaderMap, raw: axum::body::Bytes) -> ApiResult<Response> {
    let me = identity(&app, &headers).await?;
    me.full()?;
    let user = me.account()?;
    if !user.actor.admin {
        return Err(ChatError::forbidden("only administrators make registration invites").into());
    }
    let req: InviteRequest = optional_object(&raw, r#"{"expires_in_secs"?}"#)?;
    let (code, expires_at) = app.accounts.create_invite(Some(&user.actor.id), req.expires_in_secs.unwrap_or(INVITE_DEFAULT_SECS)).await?;
    let url = format!("/register?invite={code}");
    Ok((StatusCode::CREATED, Json(json!({"code": code, "url": url, "expires_at": expires_at}))).into_response())
}
