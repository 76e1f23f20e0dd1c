//! The nouns of the chat domain, and the validation of everything a user types into them.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::error::{ChatError, ErrorCode, Result};
use crate::limits::Limits;
use crate::names;

/// Database id of a room. Clients name rooms; ids stay inside the server.
pub type RoomId = i64;
/// Database id of a message, unique across rooms.
pub type MessageId = i64;
/// Position of an event in its room's log: 1, 2, 3… with no gaps.
pub type Seq = i64;

/// Who acts. Every connection and request resolves to one actor; ownership is stored against
/// `id`, never against the display name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: ActorId,
    pub name: String,
    #[serde(skip)]
    pub kind: ActorKind,
    /// A server administrator (accounts only; operators grant it with `confab admin`).
    #[serde(skip)]
    pub admin: bool,
}

impl Actor {
    /// A guest: a display name with a server-issued session.
    pub fn guest(id: ActorId, name: impl Into<String>) -> Actor {
        Actor { id, name: name.into(), kind: ActorKind::Guest, admin: false }
    }
}

/// What kind of identity an actor is. Stored as text; a value the code does not know is an error
/// wherever it is read (never a default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActorKind {
    /// A display name with a server-issued session (`g_` ids).
    #[default]
    Guest,
    /// A registered account with a username and password (`u_` ids). API tokens act as their account.
    User,
    /// An incoming webhook of one room, posting as itself (`w_` ids).
    Webhook,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Guest => "guest",
            ActorKind::User => "user",
            ActorKind::Webhook => "webhook",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "guest" => Some(ActorKind::Guest),
            "user" => Some(ActorKind::User),
            "webhook" => Some(ActorKind::Webhook),
            _ => None,
        }
    }
}

/// Stable actor identifier, `g_` followed by random characters for guests.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "g_abcdefghijk23456789m"))]
pub struct ActorId(pub Arc<str>);

impl ActorId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A new guest's id: `g_` and 20 random characters from an alphabet without look-alikes
    /// (no `l`, `o`, `0`, `1`). Every store gives guests ids of this form.
    pub fn new_guest() -> ActorId {
        Self::new_random("g_")
    }

    /// A new account's id: `u_` and 20 random characters, as for guests.
    pub fn new_user() -> ActorId {
        Self::new_random("u_")
    }

    /// A new webhook's id: `w_` and 20 random characters, as for guests.
    pub fn new_webhook() -> ActorId {
        Self::new_random("w_")
    }

    fn new_random(prefix: &str) -> ActorId {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let mut rng = rand::rng();
        let tail: String = (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
        ActorId::from(format!("{prefix}{tail}"))
    }
}

impl From<String> for ActorId {
    fn from(s: String) -> Self {
        ActorId(s.into())
    }
}

/// The actor as events show it: id and the display name at the time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub id: ActorId,
    pub name: String,
}

impl From<&Actor> for ActorRef {
    fn from(a: &Actor) -> Self {
        ActorRef { id: a.id.clone(), name: a.name.clone() }
    }
}

/// Who may find and join a room: anyone (public), its members (private: by invitation), or the accounts of one
/// direct conversation (direct). [`crate::authz`] decides.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    #[default]
    Public,
    Private,
    Direct,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Public => "public",
            RoomKind::Private => "private",
            RoomKind::Direct => "direct",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(RoomKind::Public),
            "private" => Some(RoomKind::Private),
            "direct" => Some(RoomKind::Direct),
            _ => None,
        }
    }
}

/// An actor's standing in one room. The creator is the owner; owners and moderators moderate.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Member,
    Moderator,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Role::Member),
            "moderator" => Some(Role::Moderator),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
    pub fn moderates(self) -> bool {
        self >= Role::Moderator
    }
}

/// A room as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub kind: RoomKind,
    pub created_at: i64,
    pub top_seq: Seq,
}

/// A room as lists show it, with the live member count.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub name: String,
    pub kind: RoomKind,
    pub members: usize,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub top_seq: Seq,
    pub created_at: i64,
}

/// What a message says. A struct rather than a string so that attachments, replies and
/// reactions can be added beside `text` without changing every reader.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Content {
    pub text: String,
}

/// An actor's membership of one room, as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Membership {
    /// `None`: not a member (never joined, kicked, banned, or left a private room).
    pub role: Option<Role>,
    pub banned: bool,
}

/// A stored member of a room, with its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub id: ActorId,
    pub name: String,
    pub role: Role,
}

/// An invite to a room, as stored: the code itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    pub room: RoomId,
    pub code_hash: Vec<u8>,
    pub created_by: ActorId,
    pub created_at: i64,
    /// Milliseconds since the epoch; the invite is invalid from then on.
    pub expires_at: i64,
    pub max_uses: i64,
}

/// A stored message, for the checks that edit and delete need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: MessageId,
    pub room_id: RoomId,
    pub author: ActorId,
    pub client_id: Option<String>,
    pub deleted: bool,
}

/// Longest room name, in characters after normalisation.
pub const ROOM_NAME_MAX_CHARS: usize = 64;
/// Longest display name, in characters after normalisation.
pub const DISPLAY_NAME_MAX_CHARS: usize = 32;

/// Validates a room name: [`names::normalize`]d (NFC, trimmed, nothing invisible, no white space but
/// ASCII spaces, which are kept as typed), then 1-64
/// characters of letters, digits, space, `-`, `_`, `.`, at least one of them a letter or digit (a name
/// of dots would be a path step in the room's URL).
pub fn room_name(raw: &str) -> Result<String> {
    let refuse = |why: String| {
        ChatError::new(
            ErrorCode::InvalidRoomName,
            format!("{why}: a room name has 1 to {ROOM_NAME_MAX_CHARS} characters: letters, digits, space, '-', '_' or '.', with at least one letter or digit"),
        )
    };
    let rules = names::Rules { max_chars: ROOM_NAME_MAX_CHARS, fold_white_space: false };
    let name = names::normalize(raw, rules).map_err(|e| refuse(e.to_string()))?;
    if let Some(c) = name.chars().find(|&c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))) {
        return Err(refuse(names::NameError::NotAllowed(c).to_string()));
    }
    if !name.chars().any(char::is_alphanumeric) {
        return Err(refuse("the name has no letter or digit".into()));
    }
    Ok(name)
}

/// Validates a display name: [`names::normalize`]d (NFC, white space folded, no control, format,
/// bidi or other invisible character), 1-32 characters.
pub fn display_name(raw: &str) -> Result<String> {
    let rules = names::Rules { max_chars: DISPLAY_NAME_MAX_CHARS, fold_white_space: true };
    names::normalize(raw, rules).map_err(|e| {
        ChatError::new(
            ErrorCode::InvalidName,
            format!("{e}: a display name has 1 to {DISPLAY_NAME_MAX_CHARS} visible characters"),
        )
    })
}

/// Validates message text against the size limit; white space around it is kept, but text of only
/// white space is refused.
pub fn message_text(raw: &str, limits: &Limits) -> Result<String> {
    if raw.trim().is_empty() {
        return Err(ChatError::new(ErrorCode::TextEmpty, "a message needs some text"));
    }
    if raw.len() > limits.max_text_bytes {
        return Err(ChatError::new(
            ErrorCode::TextTooLong,
            format!("a message has at most {} bytes of text", limits.max_text_bytes),
        ));
    }
    Ok(raw.to_string())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_validated() {
        assert_eq!(room_name("  general ").unwrap(), "general");
        assert_eq!(room_name("café-2.0_x").unwrap(), "café-2.0_x");
        assert_eq!(room_name(" two  spaces\u{A0}").unwrap(), "two  spaces", "trimmed; inner spaces kept as typed");
        assert_eq!(room_name("cafe\u{0301}").unwrap(), "caf\u{E9}", "NFC: one room, however it was typed");
        for bad in ["", "   ", ".", "..", "-_", "a/b", "<script>", &"x".repeat(65), "tab\there", "nb\u{A0}sp", "a\u{200B}b", "\u{2060}", "../../etc", "'; DROP TABLE rooms; --"] {
            assert_eq!(room_name(bad).unwrap_err().code, ErrorCode::InvalidRoomName, "{bad:?}");
        }
    }

    #[test]
    fn display_names_refuse_control_and_bidi() {
        assert_eq!(display_name(" sam ").unwrap(), "sam");
        assert_eq!(display_name("Cafe\u{0301}  Bar").unwrap(), "Caf\u{E9} Bar");
        for bad in ["", "a\u{0000}b", "evil\u{202E}", &"n".repeat(33), "\u{200D}", "sa\u{200B}m", "\u{FEFF}"] {
            assert_eq!(display_name(bad).unwrap_err().code, ErrorCode::InvalidName, "{bad:?}");
        }
    }

    #[test]
    fn message_text_limits() {
        let limits = Limits { max_text_bytes: 5, ..Limits::default() };
        assert_eq!(message_text(" \n ", &limits).unwrap_err().code, ErrorCode::TextEmpty);
        assert_eq!(message_text("héllo", &limits).unwrap_err().code, ErrorCode::TextTooLong);
        assert_eq!(message_text("hello", &limits).unwrap(), "hello");
    }
}
