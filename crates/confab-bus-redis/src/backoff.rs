//! Jittered exponential backoff between reconnection tries, so that the nodes of a cluster that all
//! lost Redis at once do not all come back in the same millisecond.

use std::time::Duration;

use rand::Rng;

pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
    initial: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff { next: initial, max: max.max(initial), initial }
    }

    /// The wait before the next try: between half and all of the current step ("equal jitter"),
    /// then the step doubles up to the maximum.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = step / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        let steps = [100u64, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (d, step) in delays.iter().zip(steps) {
            assert!(*d >= Duration::from_millis(step / 2) && *d <= Duration::from_millis(step), "{d:?} for step {step}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
