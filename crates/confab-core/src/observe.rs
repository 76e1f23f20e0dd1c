//! A hook through which the stores report each group commit (how many requests, which events, how
//! long), so that the server can count them without the stores depending on a metrics library.
//! Nothing is reported until the binary installs an observer; a library user pays one atomic load.

use std::sync::OnceLock;
use std::time::Duration;

use crate::event::Event;

/// Receives one call per committed batch, on the store's writer thread or task: keep it cheap.
pub trait CommitObserver: Send + Sync + 'static {
    /// `store` names the backend (`sqlite`, `postgres`); `requests` is the batch's size (every
    /// request in the transaction, not only appends); `elapsed` runs from `BEGIN` to the end of
    /// `COMMIT` (for SQLite the fsync is inside it).
    fn committed(&self, store: &'static str, requests: usize, events: &[Event], elapsed: Duration);
}

static OBSERVER: OnceLock<Box<dyn CommitObserver>> = OnceLock::new();

/// Installs the process's observer; the first one wins (a second call is ignored and says so).
pub fn install(observer: Box<dyn CommitObserver>) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// Called by a store after a successful commit.
pub fn committed(store: &'static str, requests: usize, events: &[Event], elapsed: Duration) {
    if let Some(o) = OBSERVER.get() {
        o.committed(store, requests, events, elapsed);
    }
}
