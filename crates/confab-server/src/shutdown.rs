//! Graceful shutdown as a mechanism of its own: one [`Shutdown`] per server, shared by every
//! connection.
//!
//! On SIGTERM or Ctrl-C the server stops accepting (new TCP connections, and upgrades on connections
//! already open, answered 503 `shutting down`), and every connection is asked to close with
//! `going_away`. A connection then stops reading, but finishes what it was already asked: the request
//! being handled and every send, edit or delete waiting for its commit get their answer, the ack if
//! the store commits before the deadline, else `unavailable` (so nothing is acknowledged that is not
//! stored, and nothing stored is left without a reason to resend). Then it sends its close (native:
//! 1001 `going_away`; Socket.IO: the Engine.IO session closes, and clients reconnect by themselves).
//! Once the connections are gone, everyone still listed in a room on this node gets a `disconnected`
//! leave at once, not after the grace period, so that the log and every other node's member lists
//! agree with who is there, and a restart finds nobody listed.
//!
//! `--shutdown-timeout-ms` bounds the whole: at the deadline what has not committed is answered
//! `unavailable`, and the process exits.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use confab_core::{ChatError, ErrorCode};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long past the deadline a connection waits for the `unavailable` answers given at the
/// deadline to reach its queue (they are ready at once; this only covers the scheduling). Well
/// inside the server's own slack for the exit (`app.rs`).
const ANSWER_SLACK: Duration = Duration::from_millis(100);

pub struct Shutdown {
    /// How long the drain may take, from the signal to the exit.
    timeout: Duration,
    /// When the drain must end; set once, by [`Shutdown::begin`].
    deadline: OnceLock<Instant>,
    /// `Draining` from the signal, `Expired` from the deadline: connections wait on it.
    phase: watch::Sender<Phase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Running,
    Draining,
    Expired,
}

impl Shutdown {
    pub fn new(timeout: Duration) -> Self {
        Shutdown { timeout, deadline: OnceLock::new(), phase: watch::channel(Phase::Running).0 }
    }

    /// Starts the drain (once; later calls change nothing): sets the deadline and a timer for it.
    pub fn begin(&self) {
        let deadline = Instant::now() + self.timeout;
        if self.deadline.set(deadline).is_err() {
            return;
        }
        self.phase.send_replace(Phase::Draining);
        let phase = self.phase.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            phase.send_replace(Phase::Expired);
        });
    }

    /// Whether the server is shutting down: new connections are refused.
    pub fn draining(&self) -> bool {
        *self.phase.borrow() != Phase::Running
    }

    /// When the drain must end (far in the future while the server runs).
    pub fn deadline(&self) -> Instant {
        self.deadline.get().copied().unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
    }

    /// How long a connection waits, when draining, for what it is still handling: the deadline, at
    /// which [`Shutdown::bounded`] answers `unavailable`, and the slack for those answers to reach
    /// the connection's queue before it closes.
    pub fn answers_by(&self) -> Instant {
        self.deadline() + ANSWER_SLACK
    }

    /// Resolves at the drain's deadline (never while the server runs normally).
    pub async fn expired(&self) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|p| *p == Phase::Expired).await;
    }

    /// `pending` (a commit, or a request being handled), or `unavailable` if the drain's deadline
    /// comes first.
    pub async fn bounded<T>(&self, pending: impl Future<Output = Result<T, ChatError>>) -> Result<T, ChatError> {
        tokio::select! {
            biased;
            done = pending => done,
            _ = self.expired() => Err(ChatError::new(
                ErrorCode::Unavailable,
                "the server shut down before this was done; resend it after reconnecting (a resend with the same client_id is never stored twice)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_slower_than_the_deadline_is_answered_unavailable() {
        let shutdown = Shutdown::new(Duration::from_millis(100));
        assert!(!shutdown.draining());
        shutdown.begin();
        assert!(shutdown.draining());
        let fast = shutdown.bounded(async { Ok::<_, ChatError>(1) }).await;
        assert_eq!(fast.ok(), Some(1));
        let slow = shutdown
            .bounded(async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok::<_, ChatError>(2)
            })
            .await;
        assert_eq!(slow.err().map(|e| e.code), Some(ErrorCode::Unavailable));
    }
}
