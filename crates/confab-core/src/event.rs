//! One event log per room. Messages, edits, deletes, joins and leaves are all events with a per-room
//! sequence number assigned where they are stored; history, resume and both protocols read this one log.
//!
//! The serde form of [`Event`] is Confab's canonical JSON for an event (the native protocol wraps it in
//! `{"type":"event", ...}`), documented in docs/protocol.md.

use serde::{Deserialize, Serialize};

use crate::model::{ActorId, ActorRef, Content, MessageId, Role, RoomId, Seq};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The room's name, as clients know it.
    pub room: String,
    /// The room's database id; never shown to clients.
    #[serde(skip)]
    pub room_id: RoomId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub seq: Seq,
    /// Milliseconds since the Unix epoch, when the event was stored.
    pub at: i64,
    /// Who did it (for an edit or delete, possibly a moderator rather than the author).
    pub actor: ActorRef,
    #[serde(flatten)]
    pub body: EventBody,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Message {
        message: MessageView,
    },
    Edit {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        message_id: MessageId,
        client_id: Option<String>,
        content: Content,
        edited_at: i64,
    },
    Delete {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        message_id: MessageId,
        client_id: Option<String>,
    },
    Join,
    Leave {
        reason: LeaveReason,
    },
    /// `actor` (the owner) gave `target` this role (also how ownership moves: two `role` events).
    Role {
        target: ActorRef,
        role: Role,
    },
    /// `actor` (a moderator) removed `target`'s membership; its connections leave the room.
    Kick {
        target: ActorRef,
    },
    /// `actor` banned `target`: no membership, no joining, no history; its connections leave the room.
    Ban {
        target: ActorRef,
    },
    Unban {
        target: ActorRef,
    },
    /// `target` became a member: added by `actor` (a moderator), or by accepting an invite
    /// (`actor` = `target`).
    Added {
        target: ActorRef,
    },
}

impl EventBody {
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Message { .. } => "message",
            EventBody::Edit { .. } => "edit",
            EventBody::Delete { .. } => "delete",
            EventBody::Join => "join",
            EventBody::Leave { .. } => "leave",
            EventBody::Role { .. } => "role",
            EventBody::Kick { .. } => "kick",
            EventBody::Ban { .. } => "ban",
            EventBody::Unban { .. } => "unban",
            EventBody::Added { .. } => "added",
        }
    }

    /// The actor this event takes out of the room (a kick or a ban names it): its connections leave
    /// the room right after delivering the event.
    pub fn evicts(&self) -> Option<&ActorId> {
        match self {
            EventBody::Kick { target } | EventBody::Ban { target } => Some(&target.id),
            _ => None,
        }
    }
}

/// A message as it is now: in a live `message` event that is as sent; in history and replay the
/// latest text, the edit time, and `deleted` with empty content once it was deleted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: MessageId,
    /// The sender's idempotency key (Socket.IO clients' `message_id`), if it gave one.
    pub client_id: Option<String>,
    pub content: Content,
    pub edited_at: Option<i64>,
    pub deleted: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// The user asked to leave.
    Left,
    /// The connection dropped and did not come back within the grace period.
    Disconnected,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ActorId;

    #[test]
    fn canonical_json_is_flat_with_kind() {
        let ev = Event {
            room: "general".into(),
            room_id: 1,
            seq: 3,
            at: 5,
            actor: ActorRef { id: ActorId::from("g_x".to_string()), name: "sam".into() },
            body: EventBody::Leave { reason: LeaveReason::Disconnected },
        };
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "leave");
        assert_eq!(v["reason"], "disconnected");
        assert_eq!(v["seq"], 3);
        assert!(v.get("room_id").is_none());
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back.body, ev.body);
    }
}
