//! What Confab parses out of client input itself, apart from the WebSocket codec (`confab-ws`) and
//! Engine.IO/Socket.IO packets (`confab-engineio`): pure functions from text to values, with no I/O,
//! so that each is fuzzed on its own (`fuzz/`).
//!
//! - [`request`]: the native protocol's request frames (docs/protocol.md).
//! - [`query`]: URL query parameters and cookies (session tokens, Engine.IO's `EIO`/`sid`).
//! - [`fuzzing`]: the fuzz targets' bodies, shared with the tests that replay what they found.

pub mod fuzzing;
pub mod query;
pub mod request;
