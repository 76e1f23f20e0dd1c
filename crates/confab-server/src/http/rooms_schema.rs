//! The answers of the rooms API (`rooms.rs`) as OpenAPI schemas. The handlers build these bodies with
//! `json!`; these types say their shape for the document, and schemathesis (tests/openapi/run.sh)
//! checks every answer of a live server against them.

#![allow(dead_code)] // read by utoipa's derive only

use confab_core::model::{ActorRef, Role, RoomSummary};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct RoomAnswer {
    pub room: RoomSummary,
}

/// A member: id, display name, role, and whether a connection of theirs is in the room now.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    #[schema(value_type = String)]
    pub id: String,
    pub name: String,
    pub role: Role,
    pub online: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberView>,
}

/// A room invite: the code is shown this once (stored hashed).
#[derive(Serialize, ToSchema)]
pub struct RoomInviteAnswer {
    pub code: String,
    /// `/invite/<code>`: the web UI's page that accepts it.
    pub url: String,
    pub room: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    pub max_uses: i64,
}

/// A moderation action: the sequence number of the event it logged in the room.
#[derive(Serialize, ToSchema)]
pub struct Logged {
    pub seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BanList {
    pub bans: Vec<ActorRef>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomList {
    pub rooms: Vec<RoomSummary>,
}

/// The roles an owner assigns (ownership moves with `POST /api/rooms/{name}/owner`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignableRole {
    Member,
    Moderator,
}
