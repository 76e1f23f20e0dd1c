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
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let who = match auth::token_from_request(&headers, None) {
        Some(_) => Some(actor(&app, &headers).await?),
        None => None,
    };
    Ok(Json(json!({"rooms": app.chat.list_rooms(who.as_ref()).await?})))
}

#[derive(Deserialize)]
pub struct CreateRoom {
    name: String,
    #[serde(default)]
    private: bool,
}

/// `POST /api/rooms {name, private?}` → 201 `{"room"}`.
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

#[derive(Deserialize)]
pub struct NewInvite {
    max_uses: Option<i64>,
    expires_in_secs: Option<u64>,
}

/// `POST /api/rooms/{name}/invites {max_uses?, expires_in_secs?}` (moderators) → 201.
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
#[derive(Deserialize)]
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

#[derive(Deserialize)]
pub struct SetRole {
    role: String,
}

/// `PUT /api/rooms/{name}/members/{actor_id} {role: "member"|"moderator"}` (the owner).
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
pub async fn bans(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let name = path(name)?;
    let me = actor(&app, &headers).await?;
    Ok(Json(json!({"bans": app.chat.bans(&me, &name).await?})))
}
