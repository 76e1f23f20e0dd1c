//! WebSocket (RFC 6455) for both of Confab's protocols, written here rather than taken from a
//! library, for the memory an idle connection holds and the copies a delivery costs. Nothing in this
//! crate knows about chat: it turns bytes into [`Message`]s and text into frames.
//!
//! - [`handshake`]: checking an upgrade request and the `Sec-WebSocket-Accept` answer (no I/O).
//! - `upgrade` (feature `axum`): the upgrade as an axum extractor, and the connection's two halves
//!   after the `101`.
//! - [`read`]: client frames: masked, possibly fragmented, control frames in between. Bytes are read
//!   into a buffer on the stack and only what is left of a partial frame is kept, so an idle
//!   connection holds no read buffer.
//! - [`write`](mod@write): server frames: each frame is a 2-10 byte header and the payload, which is the
//!   delivery's shared, already-encoded bytes; one vectored write sends a whole batch. There is no
//!   per-connection write buffer and no copy of a payload.
//! - [`close`]: which close codes a peer may send, and the codes reading errors map to.
//! - [`fuzzing`]: the fuzz targets' bodies, shared with the tests that replay what they found.
//!
//! What is not supported, by design: extensions (no `permessage-deflate`: its per-connection
//! compression state costs tens of KiB), subprotocols, and binary messages (both protocols are text;
//! a binary message is read and reported so the session can refuse it).

pub mod close;
mod error;
pub mod fuzzing;
pub mod handshake;
pub mod read;
#[cfg(feature = "axum")]
pub mod upgrade;
pub mod write;

pub use error::WsError;
pub use read::WsReader;
#[cfg(feature = "axum")]
pub use upgrade::WsUpgrade;
pub use write::WsWriter;

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    /// A binary message (its content is not kept).
    Binary,
    /// A ping: the peer is owed a pong with this payload (or with a later ping's, RFC 6455 §5.5.3).
    Ping(bytes::Bytes),
    Pong,
    /// The client's close frame, with its status code if it gave one (always a valid one: see
    /// [`close::valid_from_peer`]).
    Close(Option<u16>),
}
