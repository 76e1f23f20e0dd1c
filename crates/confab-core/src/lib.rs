//! Confab's chat domain, apart from any transport or storage engine.
//!
//! - [`model`]: the nouns (actors, rooms, messages) and the validation of what users type.
//! - [`names`]: the checks every typed name goes through (NFC, no invisible characters), reusable for usernames.
//! - [`event`]: the per-room event log entry that history, resume and every transport read.
//! - [`accounts`]: usernames, passwords (argon2id), TOTP two-factor, and the account records.
//! - [`authz`]: the one place that decides whether an actor may do an action in a room.
//! - [`error`]: the error every layer returns, with a stable code that clients see.
//! - [`limits`]: every bound the server enforces, as named settings with defaults.
//! - [`store`]: the storage contract (SQLite today, PostgreSQL later) and the sink that receives
//!   committed events in commit order (in-process fan-out today, Redis later).
//! - [`fanout`]: the contract for carrying committed events between nodes ([`fanout::Bus`]), and its
//!   in-process implementation for a single node.
//! - [`presence`]: who is live in which room on this node, with the grace period that keeps a
//!   reconnect quiet.
//! - [`roster`]: the contract for presence across a cluster (one member per actor, announced once,
//!   a dead node's members departed), and its implementation for a single node.
//! - [`observe`]: the hook through which stores report their commits (for the server's metrics).
//! - [`chat`]: the service that transports call; it holds the chat rules.

pub mod accounts;
pub mod authz;
pub mod chat;
pub mod error;
pub mod event;
pub mod fanout;
pub mod limits;
pub mod model;
pub mod names;
pub mod observe;
pub mod presence;
pub mod roster;
pub mod store;

pub use chat::Chat;
pub use error::{ChatError, ErrorCode, Result};
pub use event::{Event, EventBody};
pub use limits::Limits;
pub use model::*;
