//! A token bucket per connection: `rate` requests a second on average, `burst` at once.

use std::time::Instant;

pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Refusals in a row; the caller closes the connection past its strike limit.
    pub strikes: u32,
}

impl TokenBucket {
    /// A `rate` of 0 means unlimited.
    pub fn new(rate: u32, burst: u32) -> Self {
        let burst = burst.max(rate).max(1) as f64;
        TokenBucket { rate: rate as f64, burst, tokens: burst, last: Instant::now(), strikes: 0 }
    }

    /// `per_minute` on average, `burst` at once; 0 per minute means unlimited.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        let burst = burst.max(1) as f64;
        TokenBucket { rate: f64::from(per_minute) / 60.0, burst, tokens: burst, last: Instant::now(), strikes: 0 }
    }

    pub fn take(&mut self) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            true
        } else {
            self.strikes += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let mut b = TokenBucket::new(1, 3);
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
        assert_eq!(b.strikes, 1);
        let mut unlimited = TokenBucket::new(0, 0);
        assert!((0..10_000).all(|_| unlimited.take()));
        let mut slow = TokenBucket::per_minute(60, 5);
        assert_eq!((0..100).filter(|_| slow.take()).count(), 5, "the burst, then about one a second");
        assert!((0..10_000).all(|_| TokenBucket::per_minute(0, 0).take()));
    }
}
