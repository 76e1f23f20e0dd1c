//! Password hashing off the async runtime: argon2id takes ~19 MiB and tens of milliseconds per
//! hash by design, so hashes run on tokio's blocking threads, at most
//! `--password-hash-concurrency` at once. Callers beyond that wait, at most
//! `--password-hash-queue` of them; more are refused at once (`rate_limited`, retry in a second),
//! so a burst of sign-ins neither stalls message delivery nor queues work without bound.

use std::sync::atomic::{AtomicUsize, Ordering};

use confab_core::{ChatError, ErrorCode};
use tokio::sync::Semaphore;

pub struct Hasher {
    permits: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Refused because too many hashes are waiting.
pub fn busy() -> ChatError {
    ChatError::new(ErrorCode::RateLimited, "the server is busy checking passwords; try again in a second")
}

impl Hasher {
    pub fn new(concurrency: usize, max_waiting: usize) -> Self {
        Hasher { permits: Semaphore::new(concurrency.max(1)), waiting: AtomicUsize::new(0), max_waiting }
    }

    /// Runs `f` (a hash or a verification) on a blocking thread once a slot is free.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, ChatError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(ChatError::internal)?;
        tokio::task::spawn_blocking(f).await.map_err(ChatError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// With one slot and room for one waiter, a third caller is refused at once (`rate_limited`)
    /// instead of queueing, and the waiter runs once the slot frees.
    #[tokio::test]
    async fn a_burst_beyond_the_queue_is_refused_not_queued() {
        let hasher = Arc::new(Hasher::new(1, 1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy_slot = tokio::spawn({
            let h = Arc::clone(&hasher);
            async move { h.run(move || wait.recv_timeout(Duration::from_secs(5)).is_ok()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waiter = tokio::spawn({
            let h = Arc::clone(&hasher);
            async move { h.run(|| 7).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = hasher.run(|| 0).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        release.send(()).unwrap();
        assert!(busy_slot.await.unwrap().unwrap());
        assert_eq!(waiter.await.unwrap().unwrap(), 7);
        assert_eq!(hasher.run(|| 1).await.unwrap(), 1, "room again once the burst is done");
    }
}
