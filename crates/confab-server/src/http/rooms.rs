//! The rooms part of the JSON API: creating rooms (public or private), member lists, invites, and
//! moderation (add, roles, hand-over, kick, ban). Every route asks the chat service, which asks the
//! one authorization gate; a private room a caller is not in answers `room_not_found` (404) exactly
//! as a missing one. Moderation answers `{"seq"}`: the event it logged in the room.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use confab_core::chat::InviteCreated;
use confab_core::model::RoomKind;
use confab_core::store::Appended;
use confab_core::ChatError;
use confab_protocol::request::Named;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::api::{actor, ApiError};
use super::auth;
use crate::app::App;

type ApiResult<T> = Result<T, ApiError>;

/// The answer to an invite, on every path: the code (shown once), the page that accepts it, its
/// expiry (ms since the epoch) and uses.
pub fn invite_answer(code: &str, made: &InviteCreated) -> Value {
    json!({
        "code": code,
        "url": format!("/invite/{code}"),
        "room": made.room.name,
        "expires_at": made.expires_at,
        "max_uses": made.max_uses,
    })
}

/// A JSON object body as `T` (an array would otherwise be read by position).
fn body<T: DeserializeOwned>(body: Result<Json<Value>, JsonRejection>) -> ApiResult<T> {
    let Json(value) = body.map_err(|e| ChatError::bad_request(e.body_text()))?;
    if !value.is_object() {
        return Err(ChatError::bad_request("the body is a JSON object").into());
    }
    T::deserialize(value).map_err(|e| ChatError::bad_request(format!("body: {e}")).into())
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    p.map(|Path(v)| v).map_err(|e| ChatError::bad_request(format!("path: {}", e.body_text())).into())
}

fn moderated(a: Appended) -> Json<Value> {
    Json(json!({"seq": a.seq}))
}

/// `GET /api/rooms`: the public rooms, and the caller's private ones (with a session).
#[utoipa::path(get, path = "/api/rooms", tag = "rooms",
    security((), ("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The public rooms, and the caller's private ones", body = super::rooms_schema::RoomList),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let who = match auth::token_from_request(&headers, None) {
        Some(_) => Some(actor(&app, &headers).await?),
        None => None,
    };
    Ok(Json(json!({"rooms": app.chat.list_rooms(who.as_ref()).await?})))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateRoom {
    name: String,
    #[serde(default)]
    private: bool,
}

/// `POST /api/rooms {name, private?}` → 201 `{"room"}`.
#[utoipa::path(post, path = "/api/rooms", tag = "rooms",
    request_body(content = CreateRoom, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The new room (the caller is its owner)", body = super::rooms_schema::RoomAnswer),
        (status = 400, description = "`bad_request`, `invalid_room_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: guests may not create private rooms, or a cross-site request", body = super::api::ErrorBody),
        (status = 409, description = "`room_exists`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
        (status = 507, description = "`storage_full`: the disk or `--database-max-bytes` is full; nothing was stored", body = super::api::ErrorBody),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let me = actor(&app, &headers).await?;
    let req: CreateRoom = body(req)?;
    let kind = if req.private { RoomKind::Private } else { RoomKind::Public };
    let room = app.chat.create_room_of(&me, &req.name, kind).await?;
    if kind == RoomKind::Public {
        app.hub.announce_rooms();
    }
    Ok((StatusCode::CREATED, Json(json!({"room": app.chat.summary(&room)}))))
}

/// `GET /api/rooms/{name}/members` → `{"members": [{id, name, role, online}]}`.
#[utoipa::path(get, path = "/api/rooms/{name}/members", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The members (a private room: members only)", body = super::rooms_schema::MemberList),
        (status = 400, description = "`bad_request`, `invalid_room_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn members(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    let (_, members) = app.chat.member_list(&me, &name).await?;
    Ok(Json(json!({"members": members})))
}

#[derive(Deserialize, ToSchema)]
pub struct NewInvite {
    max_uses: Option<i64>,
    expires_in_secs: Option<u64>,
}

/// `POST /api/rooms/{name}/invites {max_uses?, expires_in_secs?}` (moderators) → 201.
#[utoipa::path(post, path = "/api/rooms/{name}/invites", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    request_body(content = NewInvite, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The invite; its code is shown this once", body = super::rooms_schema::RoomInviteAnswer),
        (status = 400, description = "`bad_request`, `invalid_room_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn invite(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    let req: NewInvite = body(req)?;
    let (code, hash) = auth::new_token();
    let made = app.chat.invite(&me, &name, hash, req.max_uses, req.expires_in_secs).await?;
    Ok((StatusCode::CREATED, Json(invite_answer(&code, &made))))
}

/// `POST /api/invites/{code}/accept` → `{"room"}`; `invite_invalid` (404) for any code that does
/// not work.
#[utoipa::path(post, path = "/api/invites/{code}/accept", tag = "rooms",
    params(("code" = String, Path, description = "The invite code")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Joined: the room", body = super::rooms_schema::RoomAnswer),
        (status = 400, description = "`bad_request`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: banned, a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`invite_invalid`: no such invite, expired or used up (one answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn accept(
    State(app): State<Arc<App>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let code = path(code)?;
    let me = actor(&app, &headers).await?;
    let room = app.chat.accept_invite(&me, &auth::hash_token(&code)).await?;
    Ok(Json(json!({"room": app.chat.summary(&room)})))
}

/// Whom a moderation request names: `actor_id`, or `username` (needs accounts).
#[derive(Deserialize, ToSchema)]
pub struct Target {
    actor_id: Option<String>,
    username: Option<String>,
}

impl Target {
    fn request(self) -> confab_protocol::request::Target {
        confab_protocol::request::Target { room: String::new(), actor: self.actor_id, username: self.username }
    }
    fn id(self) -> ApiResult<String> {
        self.request().target().map_err(ApiError)
    }
}

/// `POST /api/rooms/{name}/members {actor_id | username}` (moderators).
#[utoipa::path(post, path = "/api/rooms/{name}/members", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    request_body(content = Target, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Added: the `added` event's seq", body = super::rooms_schema::Logged),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `bad_target` (not a member, already banned, yourself)", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn add_member(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    let added = match body::<Target>(req)?.request().named()? {
        Named::Actor(id) => app.chat.add_member(&me, &name, &id).await?,
        Named::Username(u) => app.chat.add_member_by_username(&me, &name, &u).await?,
    };
    Ok(moderated(added))
}

#[derive(Deserialize, ToSchema)]
pub struct SetRole {
    #[schema(value_type = super::rooms_schema::AssignableRole)]
    role: String,
}

/// `PUT /api/rooms/{name}/members/{actor_id} {role: "member"|"moderator"}` (the owner).
#[utoipa::path(put, path = "/api/rooms/{name}/members/{actor_id}", tag = "rooms",
    params(("name" = String, Path, description = "The room's name"), ("actor_id" = String, Path, description = "The member's actor id")),
    request_body(content = SetRole, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The `role` event's seq", body = super::rooms_schema::Logged),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `bad_target` (not a member, already banned, yourself)", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn set_role(
    State(app): State<Arc<App>>,
    p: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let (name, target) = path(p)?;
    let me = actor(&app, &headers).await?;
    let req: SetRole = body(req)?;
    Ok(moderated(app.chat.set_role(&me, &name, &target, &req.role).await?))
}

/// `POST /api/rooms/{name}/owner {actor_id}` (the owner hands over; it becomes a moderator).
#[utoipa::path(post, path = "/api/rooms/{name}/owner", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    request_body(content = Target, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Handed over (the old owner is a moderator): the event's seq", body = super::rooms_schema::Logged),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `bad_target` (not a member, already banned, yourself)", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn transfer(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    let target = body::<Target>(req)?.id()?;
    Ok(moderated(app.chat.transfer(&me, &name, &target).await?))
}

/// `POST /api/rooms/{name}/kick {actor_id}` (moderators).
#[utoipa::path(post, path = "/api/rooms/{name}/kick", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    request_body(content = Target, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The `kick` event's seq", body = super::rooms_schema::Logged),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `bad_target` (not a member, already banned, yourself)", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn kick(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    let target = body::<Target>(req)?.id()?;
    Ok(moderated(app.chat.kick(&me, &name, &target).await?))
}

/// `POST /api/rooms/{name}/bans {actor_id}` (moderators).
#[utoipa::path(post, path = "/api/rooms/{name}/bans", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    request_body(content = Target, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The `ban` event's seq", body = super::rooms_schema::Logged),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `bad_target` (not a member, already banned, yourself)", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn ban(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    req: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    let target = body::<Target>(req)?.id()?;
    Ok(moderated(app.chat.ban(&me, &name, &target).await?))
}

/// `DELETE /api/rooms/{name}/bans/{actor_id}` (moderators).
#[utoipa::path(delete, path = "/api/rooms/{name}/bans/{actor_id}", tag = "rooms",
    params(("name" = String, Path, description = "The room's name"), ("actor_id" = String, Path, description = "The member's actor id")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The `unban` event's seq", body = super::rooms_schema::Logged),
        (status = 400, description = "`bad_request`, `invalid_room_name`, `bad_target` (not a member, already banned, yourself)", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: not allowed here (moderators only, or the owner), a guest where accounts are needed, or a cross-site request", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn unban(
    State(app): State<Arc<App>>,
    p: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let (name, target) = path(p)?;
    let me = actor(&app, &headers).await?;
    Ok(moderated(app.chat.unban(&me, &name, &target).await?))
}

/// `GET /api/rooms/{name}/bans` (moderators) → `{"bans": [{id, name}]}`.
#[utoipa::path(get, path = "/api/rooms/{name}/bans", tag = "rooms",
    params(("name" = String, Path, description = "The room's name")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The banned (moderators)", body = super::rooms_schema::BanList),
        (status = 400, description = "`bad_request`, `invalid_room_name`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`forbidden`: moderators only", body = super::api::ErrorBody),
        (status = 404, description = "`room_not_found`: no such room, or a private room or DM the caller is not in (the same answer)", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn bans(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    Ok(Json(json!({"bans": app.chat.bans(&me, &name).await?})))
}
