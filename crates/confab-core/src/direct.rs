//! Direct conversations and incoming webhooks: the nouns and the rules that are theirs alone.
//!
//! A direct conversation is a room of kind [`RoomKind::Direct`](crate::model::RoomKind): it has a log,
//! history, resume and edits like any room. What is particular to it:
//! - **One room per set of people.** Its members are fixed when it is opened; the store keeps a unique
//!   [`member_key`] over their sorted ids, so the same people always get the same room, even when two
//!   nodes open it at the same moment.
//! - **A name that reveals nothing and collides with nothing.** Clients need a name (`/chat-room/<name>`
//!   links, `join`); a DM's is [`DIRECT_PREFIX`] and random characters ([`new_direct_name`]). `@` is a
//!   character [`room_name`](crate::model::room_name) refuses, so no room a person names can take it,
//!   and the name says nothing about who is in it.
//!
//! An incoming webhook is an actor of kind `webhook` bound to one room; a POST of Slack's JSON to its
//! URL posts a message as it. Its secret is shown once and stored as a SHA-256 hash.

use serde::Serialize;

use crate::error::{ChatError, ErrorCode, Result};
use crate::model::{self, ActorId, ActorRef, Role, RoomId, RoomKind, Seq};

/// What starts every direct room's name (a character no user-made room name may contain).
pub const DIRECT_PREFIX: char = '@';
/// Random characters after [`DIRECT_PREFIX`]: 20 from a 32-letter alphabet, 100 bits.
const DIRECT_NAME_CHARS: usize = 20;

/// A new direct room's name: `@` and 20 random characters (no look-alikes), unrelated to its members.
pub fn new_direct_name() -> String {
    // The same alphabet as actor ids, whose tail is exactly what we want here.
    let id = ActorId::new_user();
    format!("{DIRECT_PREFIX}{}", &id.as_str()[2..])
}

/// Whether `raw` has the form of a direct room's name.
pub fn is_direct_name(raw: &str) -> bool {
    raw.strip_prefix(DIRECT_PREFIX).is_some_and(|rest| {
        rest.len() == DIRECT_NAME_CHARS && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The name to look a room up by: a direct room's name as it is, any other through
/// [`model::room_name`] (so a typed name is normalised exactly as when the room was created).
pub fn lookup_name(raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    if is_direct_name(trimmed) {
        return Ok(trimmed.to_string());
    }
    model::room_name(raw)
}

/// The unique key of a set of people: their ids, sorted, without repeats, joined by `,`.
pub fn member_key(members: &[ActorRef]) -> String {
    let mut ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.join(",")
}

/// The error for a direct conversation with more people than `--direct-max-members`.
pub fn too_many_members(max: usize) -> ChatError {
    ChatError::new(
        ErrorCode::TooManyMembers,
        format!("a direct conversation has at most {max} people, you included"),
    )
}

/// A direct room as the store answers [`Store::open_direct`](crate::store::Store::open_direct).
#[derive(Debug, Clone)]
pub struct OpenedDirect {
    pub room: model::Room,
    /// True when this call created it (the others are told); false when it existed.
    pub created: bool,
}

/// One room the caller belongs to, for "my rooms" (the sidebar).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct MyRoom {
    pub name: String,
    pub kind: RoomKind,
    pub role: Role,
    /// The room's top sequence: the client counts unread events against the last one it read.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub top_seq: Seq,
    /// For direct rooms: the other members (the caller left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<ActorRef>>,
}

/// An incoming webhook, as its room's moderators see it (its secret is never shown again).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// The webhook's actor id (`w_…`), also the first part of its URL.
    pub id: ActorId,
    #[serde(skip)]
    pub room_id: RoomId,
    /// Its name, the display name of its messages when a POST gives no `username`.
    pub name: String,
    pub created_at: i64,
    /// Who created it.
    pub created_by: ActorId,
}

/// A webhook with the hash of its secret, for checking a POST.
#[derive(Debug, Clone)]
pub struct WebhookSecret {
    pub webhook: Webhook,
    /// The room it posts to.
    pub room: model::Room,
    pub secret_hash: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_names_cannot_be_room_names() {
        let name = new_direct_name();
        assert!(is_direct_name(&name), "{name}");
        assert_ne!(name, new_direct_name(), "random");
        assert_eq!(model::room_name(&name).unwrap_err().code, ErrorCode::InvalidRoomName, "no person can make one");
        assert_eq!(lookup_name(&format!(" {name} ")).unwrap(), name);
        assert_eq!(lookup_name(" general ").unwrap(), "general");
        for bad in ["@", "@short", "@ABCDEFGHIJKLMNOPQRST", "@abcdefghijkmnpqrstu/", "abcdefghijkmnpqrstuvw"] {
            assert!(!is_direct_name(bad), "{bad}");
        }
        assert_eq!(lookup_name("@short").unwrap_err().code, ErrorCode::InvalidRoomName);
    }

    #[test]
    fn the_member_key_ignores_order_and_repeats() {
        let r = |id: &str| ActorRef { id: ActorId::from(id.to_string()), name: "x".into() };
        assert_eq!(member_key(&[r("u_b"), r("u_a")]), "u_a,u_b");
        assert_eq!(member_key(&[r("u_a"), r("u_b"), r("u_a")]), member_key(&[r("u_b"), r("u_a")]));
        assert_ne!(member_key(&[r("u_a"), r("u_b")]), member_key(&[r("u_a"), r("u_c")]));
    }
}
