//! When actors were last seen, for the expiry of idle guest sessions (`Store::expire_idle_guests`).
//! Using a session (signing in with its token: a page load, a reconnect) touches the actor's
//! `last_seen`, but at most once an hour per actor on each node: a map of who this node touched
//! within the hour makes the check a lookup, and the write a rare one, off the request's path. Sends
//! do not touch it: the write would be a commit of its own beside the messages', and a connected
//! guest signs in again whenever it reconnects.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::Chat;
use crate::model::{now_ms, Actor, ActorId};

/// How often one node writes an actor's `last_seen` at most. Expiry counts in days, so an hour's
/// imprecision costs nothing.
pub const TOUCH_EVERY_MS: i64 = 3_600_000;

#[derive(Default)]
pub(super) struct Seen {
    inner: Mutex<Touched>,
}

#[derive(Default)]
struct Touched {
    /// Actor -> when this node last wrote its `last_seen` (Unix ms).
    at: HashMap<ActorId, i64>,
    /// The map is pruned of entries older than an hour when it grows past this (then twice its size
    /// after pruning), so it holds about the actors seen in the last hour, amortised.
    prune_at: usize,
}

impl Seen {
    /// True when the actor's `last_seen` is due to be written (and notes that it is being written).
    pub(super) fn due(&self, id: &ActorId, now: i64) -> bool {
        let mut t = self.inner.lock();
        if t.at.len() >= t.prune_at.max(1024) {
            t.at.retain(|_, at| now - *at < TOUCH_EVERY_MS);
            t.prune_at = t.at.len() * 2;
        }
        match t.at.get(id) {
            Some(at) if now - *at < TOUCH_EVERY_MS => false,
            _ => {
                t.at.insert(id.clone(), now);
                true
            }
        }
    }
}

impl Chat {
    /// The actor used its session: writes its `last_seen` if this node has not within the hour. The
    /// write runs on its own task; failing it (a full disk, say) only delays the actor's expiry.
    pub(super) fn seen(&self, actor: &Actor) {
        let now = now_ms();
        if !self.seen.due(&actor.id, now) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let (store, id) = (Arc::clone(&self.store), actor.id.clone());
        rt.spawn(async move {
            if let Err(e) = store.touch_actor(&id, now).await {
                tracing::warn!(error = %e, "could not note when an actor was last seen");
            }
        });
    }

    /// Ends the sessions of guests not seen for `idle`; returns how many. Run periodically.
    pub async fn expire_idle_guests(&self, idle: std::time::Duration) -> crate::Result<usize> {
        let before = now_ms() - i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        self.store.expire_idle_guests(before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_is_touched_once_an_hour_and_the_map_stays_small() {
        let seen = Seen::default();
        let ann = ActorId::from("g_ann".to_string());
        assert!(seen.due(&ann, 0));
        assert!(!seen.due(&ann, TOUCH_EVERY_MS - 1), "not again within the hour");
        assert!(seen.due(&ann, TOUCH_EVERY_MS), "again after it");
        // Many actors seen long ago are pruned once the map grows.
        for i in 0..5000 {
            seen.due(&ActorId::from(format!("g_{i}")), 10);
        }
        let later = 10 * TOUCH_EVERY_MS;
        for i in 0..4000 {
            seen.due(&ActorId::from(format!("h_{i}")), later);
        }
        // The map reached its pruning size (8,192) on the way and lost the 5,000 old entries.
        assert_eq!(seen.inner.lock().at.len(), 4000, "old entries pruned");
    }
}
