//! Which open connections each session or API token authenticated, so that revoking a credential
//! closes them at once, not only refuses their next request.
//!
//! - Revoked on this node (sign out, sign out everywhere, a session deleted, a password change, an
//!   API token deleted): [`Registry::close`] right away.
//! - Revoked anywhere else (another node, `confab admin` on the same database) or the account
//!   disabled: the recheck task asks the store every `--credential-recheck-ms` which of the
//!   credentials in use here are still live, and closes the connections of the others. That bounds
//!   the time a revocation takes to reach every node without a message on the bus.
//!
//! - A session past its lifetime (idle or too old, `--session-idle-days`, `--session-max-days`):
//!   the same recheck finds it expired and closes its connections with `session_expired` (and the
//!   sweep that deletes expired rows closes any it finds first). The recheck also records the use
//!   of the live sessions with open connections: a connection open for days is a session in use.
//!
//! Closing: native connections get close code 4003 with reason `session_revoked` or
//! `session_expired`; Socket.IO ones an `error` event with that code and a DISCONNECT packet, then
//! the close (each transport hands its goodbye in when it registers).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use confab_core::accounts::SessionLifetime;
use confab_core::model::now_ms;
use confab_core::store::Store;
use parking_lot::Mutex;

use crate::conn::{CloseReason, ConnShared};

/// What a transport sends before the connection is closed for a revoked or expired credential
/// (the reason is `SessionRevoked` or `SessionExpired`).
pub type Goodbye = fn(&ConnShared, CloseReason);

/// One open connection of a credential, and what to tell it before closing.
type Entry = (Weak<ConnShared>, Goodbye);

#[derive(Default)]
pub struct Registry {
    conns: Mutex<HashMap<String, Vec<Entry>>>,
}

impl Registry {
    /// Remembers that `conn` is authenticated by the credential `id`.
    pub fn add(&self, id: &str, conn: &Arc<ConnShared>, goodbye: Goodbye) {
        let mut conns = self.conns.lock();
        let list = conns.entry(id.to_string()).or_default();
        list.retain(|(w, _)| w.strong_count() > 0);
        list.push((Arc::downgrade(conn), goodbye));
    }

    /// Closes every open connection of these credentials with `reason` (`SessionRevoked` or
    /// `SessionExpired`); returns how many.
    pub fn close(&self, ids: &[String], reason: CloseReason) -> usize {
        let closing: Vec<_> = {
            let mut conns = self.conns.lock();
            ids.iter().filter_map(|id| conns.remove(id)).flatten().collect()
        };
        let mut closed = 0;
        for (weak, goodbye) in closing {
            if let Some(conn) = weak.upgrade() {
                goodbye(&conn, reason);
                conn.kill(reason);
                closed += 1;
            }
        }
        closed
    }

    /// The credentials with open connections, forgetting those whose connections all closed.
    fn in_use(&self) -> Vec<String> {
        let mut conns = self.conns.lock();
        conns.retain(|_, list| {
            list.retain(|(w, _)| w.strong_count() > 0);
            !list.is_empty()
        });
        conns.keys().cloned().collect()
    }

    /// One recheck: closes the connections of credentials the store no longer knows as live, with
    /// `session_expired` for sessions past their lifetime and `session_revoked` for the others.
    pub async fn recheck(&self, store: &dyn Store, lifetime: &SessionLifetime) -> usize {
        let ids = self.in_use();
        if ids.is_empty() {
            return 0;
        }
        match store.live_credentials(&ids, now_ms(), lifetime).await {
            Ok(found) => {
                let dead: Vec<String> =
                    ids.into_iter().filter(|id| !found.live.contains(id) && !found.expired.contains(id)).collect();
                self.close(&found.expired, CloseReason::SessionExpired) + self.close(&dead, CloseReason::SessionRevoked)
            }
            Err(e) => {
                // Fail open for one period: a database outage should not close every connection.
                tracing::warn!(error = %e, "credential recheck failed; trying again next period");
                0
            }
        }
    }

    /// The recheck loop (`--credential-recheck-ms`), for the life of the server.
    pub fn start_rechecks(self: &Arc<Self>, store: Arc<dyn Store>, lifetime: SessionLifetime, every: Duration) {
        let registry = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(registry) = registry.upgrade() else { break };
                let closed = registry.recheck(store.as_ref(), &lifetime).await;
                if closed > 0 {
                    tracing::info!(closed, "closed connections of revoked or expired sessions or tokens");
                }
            }
        });
    }
}
