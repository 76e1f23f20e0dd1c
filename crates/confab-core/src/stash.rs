//! The contract for short-lived records a client may come back for on *any* node: today, Socket.IO's
//! connection state recovery (a socket's rooms and positions, kept under its private session id).
//!
//! A record is either **held** (a live session keeps it up to date: written when the session starts
//! and whenever its rooms change, its expiry renewed while it lives) or **final** (left by a session
//! whose connection was lost, for the recovery window). A held record exists so that a session whose
//! process dies without a word (`kill -9`) can still be recovered elsewhere.
//!
//! What a `Stash` promises:
//! - **Expiry.** A record written with `ttl` (or renewed with it) is gone once `ttl` has passed (it may
//!   go earlier only if the stash lost its data, as Redis without persistence does on a restart).
//! - **Taken once.** `take` returns a record and removes it in one step: of several nodes taking the
//!   same key at once, one gets it. A recovered session can therefore not be recovered twice.
//! - **One live holder.** A record held by a process that still runs is never taken
//!   ([`Taken::Held`]): a pid cannot open a second live session while its first one lives. A record
//!   whose holder's process is gone is taken like a final one. Writes by a holder apply only while
//!   the key is free or still its own, so a session taken over elsewhere cannot overwrite its
//!   successor's record.
//! - **Shared.** Every node of a cluster sees the same records (the Redis stash); a single node's
//!   stash is its memory ([`LocalStash`]), lost on restart, which only makes clients start afresh.
//!
//! Records are opaque bytes: what they mean belongs to the transport that wrote them. Holders are
//! named by the caller (a connection id); the stash qualifies them with its own process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::error::Result;

/// What [`Stash::take`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// No record (never written, expired, or taken already).
    Nothing,
    /// The record, now removed.
    Record(Vec<u8>),
    /// A live session of a running process holds the record: it was left in place.
    Held,
}

#[async_trait]
pub trait Stash: Send + Sync + 'static {
    /// Keeps `value` under `key` for `ttl` as held by this process's `holder`, when the key is free or
    /// already `holder`'s; false (nothing written) when anything else is there.
    async fn hold(&self, key: &str, holder: &str, value: Vec<u8>, ttl: Duration) -> Result<bool>;
    /// Renews the expiry of these keys to `ttl`, in one round trip.
    async fn renew(&self, keys: &[String], ttl: Duration) -> Result<()>;
    /// Leaves `value` under `key` for `ttl` as a final record, anyone's to take, when the key is free or
    /// `holder`'s; false (nothing written) when another holder or a final record is there.
    async fn put(&self, key: &str, holder: &str, value: Vec<u8>, ttl: Duration) -> Result<bool>;
    /// Removes the record under `key` if `holder` holds it.
    async fn release(&self, key: &str, holder: &str) -> Result<()>;
    /// The record under `key`, removed, when it is final or its holder's process is gone.
    async fn take(&self, key: &str) -> Result<Taken>;
}

struct Entry {
    until: Instant,
    /// `None` for a final record.
    holder: Option<String>,
    value: Vec<u8>,
}

/// A single node's stash, in memory. Expired records are dropped on every write, so what it holds is
/// bounded by what was written within one `ttl`. Every holder is this process, which runs: a held
/// record is never taken.
#[derive(Default)]
pub struct LocalStash {
    records: Mutex<HashMap<String, Entry>>,
}

impl LocalStash {
    /// Writes when the key is free (or expired) or held by `holder`.
    fn write(&self, key: &str, holder: &str, keep: Option<String>, value: Vec<u8>, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut records = self.records.lock();
        records.retain(|_, e| e.until > now);
        if records.get(key).is_some_and(|e| e.holder.as_deref() != Some(holder)) {
            return false;
        }
        records.insert(key.to_string(), Entry { until: now + ttl, holder: keep, value });
        true
    }
}

#[async_trait]
impl Stash for LocalStash {
    async fn hold(&self, key: &str, holder: &str, value: Vec<u8>, ttl: Duration) -> Result<bool> {
        Ok(self.write(key, holder, Some(holder.to_string()), value, ttl))
    }

    async fn renew(&self, keys: &[String], ttl: Duration) -> Result<()> {
        let until = Instant::now() + ttl;
        let mut records = self.records.lock();
        for key in keys {
            if let Some(e) = records.get_mut(key) {
                e.until = until;
            }
        }
        Ok(())
    }

    async fn put(&self, key: &str, holder: &str, value: Vec<u8>, ttl: Duration) -> Result<bool> {
        Ok(self.write(key, holder, None, value, ttl))
    }

    async fn release(&self, key: &str, holder: &str) -> Result<()> {
        let mut records = self.records.lock();
        if records.get(key).is_some_and(|e| e.holder.as_deref() == Some(holder)) {
            records.remove(key);
        }
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Taken> {
        let mut records = self.records.lock();
        let now = Instant::now();
        match records.get(key) {
            None => Ok(Taken::Nothing),
            Some(e) if e.until <= now => {
                records.remove(key);
                Ok(Taken::Nothing)
            }
            Some(e) if e.holder.is_some() => Ok(Taken::Held),
            Some(_) => Ok(records.remove(key).map_or(Taken::Nothing, |e| Taken::Record(e.value))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_final_record_is_taken_once_and_expires() {
        let s = LocalStash::default();
        assert!(s.put("a", "h", b"1".to_vec(), MINUTE).await.unwrap());
        assert!(s.put("b", "h", b"2".to_vec(), Duration::from_millis(1)).await.unwrap());
        assert_eq!(s.take("a").await.unwrap(), Taken::Record(b"1".to_vec()));
        assert_eq!(s.take("a").await.unwrap(), Taken::Nothing, "taken once");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(s.take("b").await.unwrap(), Taken::Nothing, "expired");
        s.put("c", "h", b"3".to_vec(), MINUTE).await.unwrap();
        assert_eq!(s.records.lock().len(), 1, "expired records are dropped on a write");
    }

    /// A held record is this running process's: never taken; only its holder rewrites, finalises or
    /// releases it.
    #[tokio::test]
    async fn a_held_record_is_not_taken_and_only_its_holder_writes_it() {
        let s = LocalStash::default();
        assert!(s.hold("p", "conn-1", b"live".to_vec(), MINUTE).await.unwrap());
        assert_eq!(s.take("p").await.unwrap(), Taken::Held);
        assert!(!s.hold("p", "conn-2", b"other".to_vec(), MINUTE).await.unwrap(), "another holder");
        assert!(!s.put("p", "conn-2", b"other".to_vec(), MINUTE).await.unwrap(), "another holder");
        s.release("p", "conn-2").await.unwrap();
        assert_eq!(s.take("p").await.unwrap(), Taken::Held, "not released by another holder");
        assert!(s.put("p", "conn-1", b"final".to_vec(), MINUTE).await.unwrap());
        assert!(!s.hold("p", "conn-1", b"again".to_vec(), MINUTE).await.unwrap(), "a final record is no one's");
        assert_eq!(s.take("p").await.unwrap(), Taken::Record(b"final".to_vec()));
        assert!(s.hold("q", "conn-1", b"live".to_vec(), MINUTE).await.unwrap());
        s.release("q", "conn-1").await.unwrap();
        assert_eq!(s.take("q").await.unwrap(), Taken::Nothing, "released");
    }

    #[tokio::test]
    async fn renewing_extends_the_expiry() {
        let s = LocalStash::default();
        s.hold("p", "h", b"x".to_vec(), Duration::from_millis(30)).await.unwrap();
        s.renew(&["p".to_string(), "missing".to_string()], MINUTE).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(s.take("p").await.unwrap(), Taken::Held, "renewed: still there");
    }
}
