//! What Confab parses out of client input itself, apart from the WebSocket codec (`confab-ws`) and
//! Engine.IO/Socket.IO packets (`confab-engineio`): pure functions from text to values, with no I/O,
//! so that each is fuzzed on its own (`fuzz/`).
//!
//! - [`request`]: the native protocol's request frames (docs/protocol.md).
//! - [`query`]: URL query parameters and cookies (session tokens, Engine.IO's `EIO`/`sid`).
//! - [`credentials`]: which token a request carries (cookie, `?token=`, bearer) and of what kind.
//! - [`accounts`]: the JSON bodies of the accounts routes (register, sign in, password, 2FA, tokens).
//! - [`webhook`]: the incoming-webhook payload (Slack's JSON, or its `payload=` form).
//! - [`fuzzing`]: the fuzz targets' bodies, shared with the tests that replay what they found.

pub mod accounts;
pub mod credentials;
pub mod fuzzing;
pub mod query;
pub mod request;
pub mod webhook;
