//! Why reading from a WebSocket failed, and the close code each reason ends the connection with.

use crate::close;

/// Why reading failed; [`WsError::close_code`] is the code the connection ends with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsError {
    /// A message above the size limit (close code 1009).
    #[error("message above {0} bytes")]
    TooBig(usize),
    /// A frame that breaks RFC 6455: unmasked, reserved bits or opcodes, a fragmented or oversized
    /// control frame, a continuation with nothing to continue, a malformed close frame (1002).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A text message, or a close frame's reason, that is not UTF-8 (1007).
    #[error("text is not valid UTF-8")]
    BadUtf8,
    /// The connection failed (reset, or ended inside a frame). No close frame can be sent.
    #[error("connection error: {0}")]
    Io(String),
}

impl WsError {
    /// The close code to send the peer (`None` when the connection is gone).
    pub fn close_code(&self) -> Option<u16> {
        match self {
            WsError::TooBig(_) => Some(close::MESSAGE_TOO_BIG),
            WsError::Protocol(_) => Some(close::PROTOCOL_ERROR),
            WsError::BadUtf8 => Some(close::INVALID_PAYLOAD),
            WsError::Io(_) => None,
        }
    }
}
