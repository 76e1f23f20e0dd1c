//! Direct conversations and "my rooms" over HTTP (docs/api.md, "Direct and webhooks"):
//! `POST /api/direct {with}` and `GET /api/my/rooms`. The rules are the chat service's; this file
//! only reads the request and shapes the answer, as `open_direct` and `my_rooms` do on `/ws`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use confab_core::ChatError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{actor, ApiError};
use crate::app::App;

/// The other people of the conversation: usernames or account ids (`u_…`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OpenDirect {
    with: Vec<String>,
}

/// A JSON object body as `T`, or `bad_request` saying what is wrong.
pub fn object<T: serde::de::DeserializeOwned>(body: Result<Json<Value>, JsonRejection>, shape: &str) -> Result<T, ApiError> {
    let Json(body) = body.map_err(|e| ChatError::bad_request(e.body_text()))?;
    // An object only: serde would otherwise read the struct from an array by position.
    if !body.is_object() {
        return Err(ChatError::bad_request(format!("the body is a JSON object: {shape}")).into());
    }
    T::deserialize(body).map_err(|e| ChatError::bad_request(format!("body: {e}")).into())
}

#[utoipa::path(post, path = "/api/direct", tag = "direct",
    request_body(content = OpenDirect, content_type = "application/json"),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The conversation of the caller and these people (the same people always get the same one)", body = super::direct_schema::DirectAnswer),
        (status = 400, description = "`bad_request` (nobody but the caller), `too_many_members`", body = super::api::ErrorBody),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 403, description = "`guests_not_allowed`, `forbidden` (a cross-site request)", body = super::api::ErrorBody),
        (status = 404, description = "`user_not_found`: a name that is not an account", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn open(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let user = actor(&app, &headers).await?;
    let req: OpenDirect = object(body, r#"{"with": ["username", ...]}"#)?;
    let (room, members) = app.chat.open_direct(&user, &req.with).await?;
    Ok(Json(json!({"room": {"name": room.name, "kind": room.kind, "members": members}})))
}

#[utoipa::path(get, path = "/api/my/rooms", tag = "direct",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Every room the caller belongs to: public rooms it joined, private rooms, direct conversations", body = super::direct_schema::MyRoomList),
        (status = 401, description = "`unauthenticated`, `session_revoked`, `two_factor_required`", body = super::api::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::api::ErrorBody),
    ))]
pub async fn my_rooms(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let user = actor(&app, &headers).await?;
    Ok(Json(json!({"rooms": app.chat.my_rooms(&user).await?})))
}
