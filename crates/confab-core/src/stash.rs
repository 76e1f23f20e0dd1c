//! The contract for short-lived records a client may come back for on *any* node: today, Socket.IO's
//! connection state recovery (a disconnected socket's rooms and positions, kept for the recovery
//! window under its private session id).
//!
//! What a `Stash` promises:
//! - **Expiry.** A record put with `ttl` is gone once `ttl` has passed (it may go earlier only if
//!   the stash lost its data, as Redis without persistence does on a restart).
//! - **Taken once.** `take` returns a record and removes it in one step: of several nodes taking
//!   the same key at once, one gets it. A recovered session can therefore not be recovered twice.
//! - **Shared.** Every node of a cluster sees the same records (the Redis stash); a single node's
//!   stash is its memory ([`LocalStash`]), lost on restart, which only makes clients start afresh.
//!
//! Records are opaque bytes: what they mean belongs to the transport that wrote them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::error::Result;

#[async_trait]
pub trait Stash: Send + Sync + 'static {
    /// Keeps `value` under `key` for `ttl`, replacing what was there.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()>;
    /// The value under `key`, removed; `None` if there is none or it expired.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>>;
}

/// A single node's stash, in memory. Expired records are dropped on every `put`, so what it holds
/// is bounded by what was put within one `ttl`.
#[derive(Default)]
pub struct LocalStash {
    records: Mutex<HashMap<String, (Instant, Vec<u8>)>>,
}

#[async_trait]
impl Stash for LocalStash {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let mut records = self.records.lock();
        records.retain(|_, (until, _)| *until > now);
        records.insert(key.to_string(), (now + ttl, value));
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let record = self.records.lock().remove(key);
        Ok(record.filter(|(until, _)| *until > Instant::now()).map(|(_, v)| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_record_is_taken_once_and_expires() {
        let s = LocalStash::default();
        s.put("a", b"1".to_vec(), Duration::from_secs(60)).await.unwrap();
        s.put("b", b"2".to_vec(), Duration::from_millis(1)).await.unwrap();
        assert_eq!(s.take("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.take("a").await.unwrap(), None, "taken once");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(s.take("b").await.unwrap(), None, "expired");
        s.put("c", b"3".to_vec(), Duration::from_secs(60)).await.unwrap();
        assert_eq!(s.records.lock().len(), 1, "expired records are dropped on put");
    }
}
