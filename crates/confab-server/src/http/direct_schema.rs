//! The answers of the direct-conversation and webhook routes (`direct.rs`, `webhooks.rs`) as OpenAPI
//! schemas. The handlers build these bodies with `json!`; these types say their shape for the
//! document, and schemathesis (tests/openapi/run.sh) checks every answer of a live server against them.

#![allow(dead_code)] // read by utoipa's derive only

use confab_core::direct::{MyRoom, Webhook};
use confab_core::model::{ActorRef, RoomKind};
use serde::Serialize;
use utoipa::ToSchema;

/// A direct conversation: its name (use it as any room's), and its members.
#[derive(Serialize, ToSchema)]
pub struct DirectRoom {
    pub name: String,
    pub kind: RoomKind,
    pub members: Vec<ActorRef>,
}

#[derive(Serialize, ToSchema)]
pub struct DirectAnswer {
    pub room: DirectRoom,
}

#[derive(Serialize, ToSchema)]
pub struct MyRoomList {
    pub rooms: Vec<MyRoom>,
}

/// A new webhook: `url` (and `path`) carry the secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    pub webhook: Webhook,
    pub url: String,
    pub path: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}
