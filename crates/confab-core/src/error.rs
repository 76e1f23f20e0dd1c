//! The domain's error type. Every failure a client can cause or see has a stable [`ErrorCode`];
//! transports map it to their own frames once (an `error` frame, a Socket.IO ack), never by matching text.

use std::fmt;

/// Stable, documented error codes (docs/protocol.md lists when each is returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadFrame,
    BadRequest,
    UnknownType,
    /// A Socket.IO event name outside the vocabulary.
    UnknownEvent,
    Unauthenticated,
    InvalidName,
    InvalidRoomName,
    RoomNotFound,
    RoomExists,
    NotJoined,
    TooManyRooms,
    TextEmpty,
    TextTooLong,
    MessageNotFound,
    Forbidden,
    BadSeq,
    RateLimited,
    /// A username that is not allowed (length, characters, mixed scripts).
    InvalidUsername,
    UsernameTaken,
    WeakPassword,
    /// Sign-in refused: the same answer whether or not the account exists.
    BadCredentials,
    /// Sign-in needs a TOTP or recovery code (or an admin must set 2FA up first).
    TwoFactorRequired,
    RegistrationClosed,
    /// A registration or room invite that does not exist, was used up, or expired (one answer for all).
    InviteInvalid,
    GuestsNotAllowed,
    /// The session was signed out or revoked (also a close reason).
    SessionRevoked,
    /// The session reached its idle timeout or its longest lifetime (a close reason only: a
    /// request with an expired session is answered `unauthenticated`, as for a revoked one).
    SessionExpired,
    /// The signed-in account was disabled by an operator.
    AccountDisabled,
    /// A direct conversation with more people than `--direct-max-members`.
    TooManyMembers,
    /// `open_direct` named someone who is not an account (unknown, a guest, a webhook).
    UserNotFound,
    /// A webhook URL that names no live webhook (unknown, revoked, or a wrong secret: one answer).
    WebhookNotFound,
    Unavailable,
    /// The disk (or the database's size quota) is full: new writes are refused until space returns;
    /// reads and live connections keep working.
    StorageFull,
    Internal,
    /// A moderation request names someone it cannot apply to (not a member, already banned, yourself).
    BadTarget,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidRoomName => "invalid_room_name",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::RoomExists => "room_exists",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::TextEmpty => "text_empty",
            ErrorCode::TextTooLong => "text_too_long",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::BadSeq => "bad_seq",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::TwoFactorRequired => "two_factor_required",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::InviteInvalid => "invite_invalid",
            ErrorCode::GuestsNotAllowed => "guests_not_allowed",
            ErrorCode::SessionRevoked => "session_revoked",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::TooManyMembers => "too_many_members",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::WebhookNotFound => "webhook_not_found",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::StorageFull => "storage_full",
            ErrorCode::Internal => "internal",
            ErrorCode::BadTarget => "bad_target",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with its code and a message meant for the person using the client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
}

impl ChatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ChatError { code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn room_not_found(room: &str) -> Self {
        Self::new(ErrorCode::RoomNotFound, format!("no room named {room:?}"))
    }
    pub fn invite_invalid() -> Self {
        Self::new(ErrorCode::InviteInvalid, "this invite does not exist, has expired or was used up")
    }
    pub fn message_not_found() -> Self {
        Self::new(ErrorCode::MessageNotFound, "no such message in this room")
    }
    /// The store failed; the detail is logged, the client only learns that nothing was stored.
    pub fn unavailable(detail: impl fmt::Display) -> Self {
        tracing::error!(%detail, "store failure");
        Self::new(ErrorCode::Unavailable, "the database could not complete the request; nothing was stored")
    }
    /// The store is out of space (SQLite `SQLITE_FULL`, which covers ENOSPC, or its size quota;
    /// PostgreSQL SQLSTATE 53100): nothing was stored; the client may try again later.
    pub fn storage_full(detail: impl fmt::Display) -> Self {
        tracing::error!(%detail, "storage full: refusing writes");
        Self::new(ErrorCode::StorageFull, "the server's storage is full; nothing was stored; try again later")
    }
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

pub type Result<T, E = ChatError> = std::result::Result<T, E>;
