//! How many new identities (guest sessions) one client address may create: a token bucket per
//! address, `--guest-burst-per-address` at once and `--guests-per-minute-per-address` after that.
//! Every way of becoming a guest takes from the same bucket: `POST /api/guest`, `hello` with a name
//! on `/ws`, and the first `user` name of an anonymous Socket.IO session.
//!
//! IPv6 clients are counted per /64: one host is usually given a whole /64, and counting single
//! addresses would let it create identities without end. The table forgets an address once its bucket
//! is full again, so it holds only the addresses that created a guest recently.
//!
//! The address is the TCP peer. Behind a reverse proxy every client has the proxy's address; this
//! limit then applies to all of them together (trusting `X-Forwarded-For` is not implemented).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use confab_core::{ChatError, ErrorCode};
use parking_lot::Mutex;

/// Sweep the table for full buckets once it has this many addresses.
const SWEEP_AT: usize = 4096;

pub struct GuestLimiter {
    /// Tokens per second (the per-minute setting / 60); 0 disables the limit.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A refused creation: how long until the address may create one again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many new guest sessions from this address; try again in {} s", .retry_after.as_secs())]
pub struct TooManyGuests {
    pub retry_after: Duration,
}

impl From<TooManyGuests> for ChatError {
    fn from(e: TooManyGuests) -> Self {
        ChatError::new(ErrorCode::RateLimited, e.to_string())
    }
}

/// The address the limit counts: the address itself for IPv4, its /64 for IPv6.
pub(crate) fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl GuestLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        GuestLimiter {
            rate: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one creation from `ip`'s bucket, or says how long to wait.
    pub fn take(&self, ip: IpAddr) -> Result<(), TooManyGuests> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * self.rate < self.burst);
        }
        let b = buckets.entry(key(ip)).or_insert(Bucket { tokens: self.burst, last: now });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.rate;
            Err(TooManyGuests { retry_after: Duration::from_secs(wait.ceil().max(1.0) as u64) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_with_a_wait_per_address() {
        let limiter = GuestLimiter::new(60, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| limiter.take(a).is_ok()));
        let refused = limiter.take(a).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert!(limiter.take("10.0.0.2".parse().unwrap()).is_ok(), "another address has its own bucket");
    }

    #[test]
    fn ipv6_counts_per_64() {
        let limiter = GuestLimiter::new(1, 1);
        assert!(limiter.take("2001:db8::1".parse().unwrap()).is_ok());
        assert!(limiter.take("2001:db8::ffff:2".parse().unwrap()).is_err());
        assert!(limiter.take("2001:db8:0:1::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = GuestLimiter::new(0, 0);
        assert!((0..10_000).all(|_| limiter.take("10.0.0.1".parse().unwrap()).is_ok()));
    }
}
