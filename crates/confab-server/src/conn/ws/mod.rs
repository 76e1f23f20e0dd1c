//! WebSocket (RFC 6455) for both protocols, written here rather than taken from a library, for the
//! memory an idle connection holds and the copies a delivery costs:
//!
//! - [`handshake`]: the HTTP upgrade (an axum extractor), and the connection's two halves after it.
//! - [`read`]: client frames: masked, possibly fragmented, control frames in between. Bytes are read
//!   into a buffer on the stack and only what is left of a partial frame is kept, so an idle
//!   connection holds no read buffer.
//! - [`write`]: server frames: each frame is a 2-10 byte header and the payload, which is the
//!   delivery's shared, already-encoded bytes; one vectored write sends a whole batch. There is no
//!   per-connection write buffer and no copy of a payload.
//!
//! What is not supported, by design: extensions (no `permessage-deflate`: its per-connection
//! compression state costs tens of KiB), subprotocols, and binary messages (both protocols are text;
//! a binary message is read and reported so the session can refuse it).

pub mod handshake;
pub mod read;
pub mod write;

pub use handshake::WsUpgrade;
pub use read::WsReader;
pub use write::WsWriter;

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    /// A binary message (its content is not kept).
    Binary,
    /// A ping: the writer owes a pong with this payload.
    Ping(bytes::Bytes),
    Pong,
    /// The client's close frame, with its status code if it gave one.
    Close(Option<u16>),
}

/// Why reading failed; each maps to the close code the connection ends with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsError {
    /// A message above the size limit (close code 1009).
    #[error("message above {0} bytes")]
    TooBig(usize),
    /// A frame that breaks RFC 6455: unmasked, reserved bits or opcodes, a fragmented or oversized
    /// control frame, a continuation with nothing to continue (close code 1002).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A text message that is not UTF-8 (close code 1007).
    #[error("text message is not valid UTF-8")]
    BadUtf8,
    /// The connection failed (reset, or ended inside a frame).
    #[error("connection error: {0}")]
    Io(String),
}
