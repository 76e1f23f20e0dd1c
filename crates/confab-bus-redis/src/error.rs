//! The crate's error type: what can go wrong between a node and Redis.

use confab_core::{ChatError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The URL does not parse (`--redis-url`).
    #[error("invalid Redis URL {url:?}: {source}")]
    Url { url: String, source: redis::RedisError },
    /// Redis could not be reached at start-up. Confab does not start without it: a node that
    /// cannot reach the others would serve a room as if it were alone.
    #[error("cannot reach Redis at {url}: {source}")]
    Connect { url: String, source: redis::RedisError },
    /// A command failed (connection lost, timeout, script error).
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    /// Redis answered something this code did not write (another program using our prefix?).
    #[error("unexpected answer from Redis: {0}")]
    Unexpected(String),
}

impl From<BusError> for ChatError {
    /// What a client sees when presence cannot be read or written: `unavailable`, detail logged.
    fn from(e: BusError) -> Self {
        tracing::error!(error = %e, "redis failure");
        ChatError::new(ErrorCode::Unavailable, "the presence service is unavailable; try again")
    }
}
