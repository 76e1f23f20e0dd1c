//! How many connections one client address may hold at once (`--max-connections-per-address`), so
//! that one host cannot take the whole `--max-connections` budget. Counted like the guest limit: per
//! IPv4 address, per IPv6 /64 (`http::guest_limit::key`), by the TCP peer (behind a reverse proxy,
//! all clients share the proxy's address: raise the limit there).
//!
//! A WebSocket upgrade on `/ws`, and a new Socket.IO session (polling handshake or WebSocket), takes a
//! [`Slot`], held for the connection's life; the upgrade of a polling session to WebSocket does not
//! take another. Over the limit the request is answered 429 `too many connections from this address`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::http::guest_limit::key;

pub struct PerAddress {
    /// 0: no limit.
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its address's count; dropping it frees the place.
pub struct Slot {
    address: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    pub fn new(max: usize) -> Self {
        PerAddress { max, open: Arc::default() }
    }

    /// A place for one more connection from `peer`, or `None` when it holds `max` already.
    pub fn take(&self, peer: IpAddr) -> Option<Slot> {
        let address = key(peer);
        let mut open = self.open.lock();
        let n = open.entry(address).or_insert(0);
        if self.max > 0 && *n >= self.max {
            if *n == 0 {
                open.remove(&address);
            }
            return None;
        }
        *n += 1;
        Some(Slot { address, open: Arc::clone(&self.open) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock();
        if let Some(n) = open.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                // Only addresses with open connections are kept.
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_max_and_a_slot_freed_is_taken_again() {
        let limit = PerAddress::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limit.take(a).unwrap();
        let _second = limit.take(a).unwrap();
        assert!(limit.take(a).is_none());
        assert!(limit.take(b).is_some(), "another address is not affected");
        drop(first);
        assert!(limit.take(a).is_some());
        // One IPv6 /64 counts as one address.
        let v6 = PerAddress::new(1);
        let _x = v6.take("2001:db8::1".parse().unwrap()).unwrap();
        assert!(v6.take("2001:db8::ffff".parse().unwrap()).is_none());
        assert!(v6.take("2001:db8:0:1::1".parse().unwrap()).is_some());
        assert!(PerAddress::new(0).take(a).is_some(), "0: unlimited");
    }

    #[test]
    fn the_table_forgets_addresses_with_no_connection() {
        let limit = PerAddress::new(5);
        let slots: Vec<_> = (0..100).map(|i| limit.take(IpAddr::from([10, 0, 0, i])).unwrap()).collect();
        assert_eq!(limit.open.lock().len(), 100);
        drop(slots);
        assert!(limit.open.lock().is_empty());
    }
}
