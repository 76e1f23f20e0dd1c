//! A bounded FIFO queue with one sender and one receiver, for a connection's outbound items (and the
//! Socket.IO inbound packets).
//!
//! Why not `tokio::sync::mpsc`: it allocates its first block of 32 slots, and the shared state around
//! it, when the channel is made (1.8 KB per connection, measured), and keeps its blocks afterwards.
//! Most connections are idle most of the time, so this queue holds nothing while empty: its storage
//! is allocated when an item arrives and given back when the receiver drains it.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Wakes the receiver (a stored permit if it is not waiting yet).
    readable: Notify,
    /// Wakes senders waiting for room.
    writable: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    /// The sender or the receiver is gone.
    closed: bool,
}

pub struct Sender<T>(Arc<Shared<T>>);
pub struct Receiver<T>(Arc<Shared<T>>);

#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue holds `capacity` items.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { items: VecDeque::new(), closed: false }),
        capacity: capacity.max(1),
        readable: Notify::new(),
        writable: Notify::new(),
    });
    (Sender(Arc::clone(&shared)), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `item` if there is room; on success, how many items the queue then holds.
    pub fn try_send(&self, item: T) -> Result<usize, TrySendError<T>> {
        let mut state = self.0.state.lock();
        if state.closed {
            return Err(TrySendError::Closed(item));
        }
        if state.items.len() >= self.0.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        let len = state.items.len();
        drop(state);
        self.0.readable.notify_one();
        Ok(len)
    }

    /// Queues `item`, waiting for room; gives it back if the receiver is gone.
    pub async fn send(&self, mut item: T) -> Result<(), T> {
        loop {
            let room = self.0.writable.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_send(item) {
                Ok(_) => return Ok(()),
                Err(TrySendError::Closed(back)) => return Err(back),
                Err(TrySendError::Full(back)) => item = back,
            }
            room.await;
        }
    }
}

impl<T> Receiver<T> {
    /// Waits for items and moves up to `limit` of them into `out`; 0 once the sender is gone and
    /// the queue is empty.
    pub async fn recv_many(&mut self, out: &mut Vec<T>, limit: usize) -> usize {
        loop {
            let ready = self.0.readable.notified();
            if let Some(n) = self.take(out, limit) {
                return n;
            }
            ready.await;
        }
    }

    /// Refuses items from now on (senders get them back at once); those already queued can still be
    /// taken.
    pub fn close(&mut self) {
        self.0.state.lock().closed = true;
        self.0.writable.notify_waiters();
    }

    /// The next item; `None` once the sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            let ready = self.0.readable.notified();
            match self.pop() {
                Ok(item) => return Some(item),
                Err(true) => return None,
                Err(false) => ready.await,
            }
        }
    }

    pub fn try_recv(&mut self) -> Option<T> {
        self.pop().ok()
    }

    /// An item, or whether the queue is closed.
    fn pop(&self) -> Result<T, bool> {
        self.take_with(|items| items.pop_front().expect("not empty"))
    }

    /// `Some(n)` when it took `n > 0` items or the queue is closed and empty (`Some(0)`).
    fn take(&self, out: &mut Vec<T>, limit: usize) -> Option<usize> {
        let taken = self.take_with(|items| {
            let n = limit.min(items.len());
            out.extend(items.drain(..n));
            n
        });
        match taken {
            Ok(n) => Some(n),
            Err(closed) => closed.then_some(0),
        }
    }

    /// Runs `take` on the items when there are any, then gives the storage back if they are all
    /// gone (an idle connection holds none) and wakes senders waiting for room. `Err(closed)` when
    /// the queue is empty.
    fn take_with<R>(&self, take: impl FnOnce(&mut VecDeque<T>) -> R) -> Result<R, bool> {
        let mut state = self.0.state.lock();
        if state.items.is_empty() {
            return Err(state.closed);
        }
        let taken = take(&mut state.items);
        if state.items.is_empty() {
            state.items = VecDeque::new();
        }
        drop(state);
        self.0.writable.notify_waiters();
        Ok(taken)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.state.lock().closed = true;
        self.0.readable.notify_one();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.closed = true;
        state.items = VecDeque::new();
        drop(state);
        self.0.writable.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fifo_bounded_and_closed_both_ways() {
        let (tx, mut rx) = channel(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        let mut got = Vec::new();
        assert_eq!(rx.recv_many(&mut got, 10).await, 2);
        assert_eq!(got, [1, 2]);
        assert_eq!(rx.0.state.lock().items.capacity(), 0, "storage given back once drained");
        tx.try_send(4).unwrap();
        drop(tx);
        assert_eq!(rx.try_recv(), Some(4), "items queued before the sender went are still received");
        assert_eq!(rx.recv_many(&mut got, 10).await, 0);

        let (tx, rx) = channel::<u8>(1);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(TrySendError::Closed(1)));
        assert_eq!(tx.send(2).await, Err(2));
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_and_order_is_kept() {
        let (tx, mut rx) = channel(4);
        let producer = tokio::spawn(async move {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while got.len() < 1000 {
            let mut batch = Vec::new();
            let n = tokio::time::timeout(Duration::from_secs(5), rx.recv_many(&mut batch, 3)).await.expect("no stall");
            assert!(n > 0 && n <= 3);
            got.extend(batch);
        }
        producer.await.unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
}
