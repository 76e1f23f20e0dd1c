//! Sign-in throttling against password guessing: failed attempts are counted per account (its
//! username key) and per client address (IPv6: its /64) in a fixed window
//! (`--signin-window-secs`); past `--signin-attempts-per-account` or `--signin-attempts-per-address`
//! failures, sign-ins are refused with `rate_limited` until the window ends (Retry-After). A success
//! clears the account's count. Unknown usernames count like real ones, so the throttle tells
//! nothing about which accounts exist.
//!
//! The counts are per node and in memory: behind a load balancer with N nodes a guesser gets at
//! most N times the limit, which still stops guessing at scale. The per-account limit lets someone
//! lock an account out of password sign-in for one window; that is the usual price of it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Forget ended windows once the table has this many keys.
const SWEEP_AT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

pub struct Throttle {
    window: Duration,
    per_account: u32,
    per_address: u32,
    counts: Mutex<HashMap<Key, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(window: Duration, per_account: u32, per_address: u32) -> Self {
        Throttle { window, per_account, per_address, counts: Mutex::new(HashMap::new()) }
    }

    /// `Err(retry_after)` when this account or address has used up its failures in the window.
    pub fn check(&self, account: &str, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let counts = self.counts.lock();
        let over = |key: Key, limit: u32| {
            counts.get(&key).and_then(|&(start, n)| {
                let left = (start + self.window).checked_duration_since(now)?;
                (n >= limit).then_some(left)
            })
        };
        match over(Key::Account(account.to_string()), self.per_account).or_else(|| over(Key::Address(crate::http::guest_limit::key(ip)), self.per_address)) {
            Some(left) => Err(left.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    pub fn failed(&self, account: &str, ip: IpAddr) {
        let now = Instant::now();
        let mut counts = self.counts.lock();
        if counts.len() >= SWEEP_AT {
            counts.retain(|_, (start, _)| *start + self.window > now);
        }
        for key in [Key::Account(account.to_string()), Key::Address(crate::http::guest_limit::key(ip))] {
            let entry = counts.entry(key).or_insert((now, 0));
            if entry.0 + self.window <= now {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
    }

    pub fn succeeded(&self, account: &str) {
        self.counts.lock().remove(&Key::Account(account.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_per_address() {
        let t = Throttle::new(Duration::from_secs(60), 3, 5);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(t.check("ann", a).is_ok());
            t.failed("ann", a);
        }
        let retry = t.check("ann", b).unwrap_err();
        assert!(retry <= Duration::from_secs(60) && retry >= Duration::from_secs(59), "{retry:?}");
        assert!(t.check("bob", a).is_ok(), "another account from the same address");
        t.failed("bob", a);
        t.failed("cat", a);
        assert!(t.check("dan", a).is_err(), "five failures from one address");
        assert!(t.check("dan", b).is_ok());
        t.succeeded("ann");
        assert!(t.check("ann", b).is_ok(), "a success clears the account's count");
    }

    #[test]
    fn ipv6_counts_per_64() {
        let t = Throttle::new(Duration::from_secs(60), 100, 2);
        t.failed("x", "2001:db8::1".parse().unwrap());
        t.failed("y", "2001:db8::2".parse().unwrap());
        assert!(t.check("z", "2001:db8::ffff".parse().unwrap()).is_err());
        assert!(t.check("z", "2001:db8:0:1::1".parse().unwrap()).is_ok());
    }
}
