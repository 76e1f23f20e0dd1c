//! The sending side of a WebSocket connection, shared by both protocols: it takes the connection's
//! queued items in batches, lets the sequencer put room events in order, and sends every frame of a
//! batch in one vectored write, so a busy connection costs one system call per wake-up rather than
//! one per frame. It closes the socket with the reason the connection was killed for.
//!
//! [`Outgoing`] is the state; a native session drives it from its own task (one task per
//! connection), and [`run`] drives it as a task of its own (Socket.IO, whose reading side lives in
//! other tasks).

use std::sync::Arc;
use std::time::Duration;

use confab_ws::upgrade::Writer;

use super::queue::Receiver;
use super::sequencer::Sequencer;
use super::{CloseReason, ConnShared, Outbound};

/// Most queued items taken in one wake-up.
pub const BATCH: usize = 256;

pub struct Outgoing {
    sink: Writer,
    sequencer: Sequencer,
}

impl Outgoing {
    pub fn new(sink: Writer, sequencer: Sequencer) -> Self {
        Outgoing { sink, sequencer }
    }

    /// Sends one batch of queued items (and empties `items`). `Err` when the connection must close:
    /// the sequencer's reason, or `Normal` when the socket failed.
    pub async fn send(&mut self, items: &mut Vec<Outbound>, shared: &ConnShared) -> Result<(), CloseReason> {
        let mut frames = Vec::with_capacity(items.len());
        let mut pong = None;
        let mut failed = None;
        self.sequencer.me = shared.actor();
        for item in items.drain(..) {
            if let Outbound::Pong = item {
                pong = shared.take_pong();
            } else if let Err(reason) = self.sequencer.push(item, &mut frames) {
                failed = Some(reason);
                break;
            }
        }
        // Give the batch's space back: most connections are idle most of the time, and an
        // allocation per wake-up costs little next to the write.
        *items = Vec::new();
        for room in self.sequencer.take_evicted() {
            shared.evict(room);
        }
        if let Some(payload) = pong {
            self.sink.pong(&payload).await.map_err(|_| CloseReason::Normal)?;
        }
        self.sink.send_texts(&frames).await.map_err(|_| CloseReason::Normal)?;
        failed.map_or(Ok(()), Err)
    }

    /// Sends a heartbeat ping. A client that stopped reading may not take it; this gives up after a
    /// while (the heartbeat timeout then closes the connection).
    pub async fn ping(&mut self) -> Result<(), CloseReason> {
        match tokio::time::timeout(Duration::from_secs(5), self.sink.ping(b"confab")).await {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(_)) => Err(CloseReason::Normal),
        }
    }

    /// Sends what is still queued (an answer explaining a rate limit, say), then the close frame. A
    /// client that stopped reading may take none of it; this does not wait for it forever.
    pub async fn close(mut self, rx: &mut Receiver<Outbound>, reason: CloseReason) {
        let mut frames = Vec::new();
        while let Some(item) = rx.try_recv() {
            if self.sequencer.push(item, &mut frames).is_err() {
                break;
            }
        }
        let goodbye = async {
            self.sink.send_texts(&frames).await?;
            self.sink.close(reason.code(), reason.as_str()).await
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
    }
}

/// Sends a batch unless the connection is killed first (a write to a client that stopped reading can
/// wait forever).
pub async fn send_or_killed(out: &mut Outgoing, items: &mut Vec<Outbound>, shared: &ConnShared) -> Result<(), CloseReason> {
    tokio::select! {
        sent = out.send(items, shared) => sent,
        reason = shared.killed() => Err(reason),
    }
}

/// The writer as a task of its own: until the connection is killed or the queue's sender is gone.
/// Killed with `going_away` (a shutdown), it first waits, up to `settle_by()` (the shutdown's
/// deadline and its answer slack), for the request side to [`ConnShared::settle`], so that the answers it queues last go
/// out before the close.
pub async fn run(
    mut out: Outgoing,
    mut rx: Receiver<Outbound>,
    shared: Arc<ConnShared>,
    settle_by: impl Fn() -> tokio::time::Instant,
) {
    let mut items = Vec::new();
    let reason = loop {
        tokio::select! {
            biased;
            reason = shared.killed() => break reason,
            n = rx.recv_many(&mut items, BATCH) => {
                if n == 0 {
                    break CloseReason::Normal;
                }
                if let Err(reason) = send_or_killed(&mut out, &mut items, &shared).await {
                    shared.kill(reason);
                    break shared.kill_reason().unwrap_or(reason);
                }
            }
        }
    };
    if reason == CloseReason::GoingAway {
        let _ = tokio::time::timeout_at(settle_by(), shared.settled()).await;
    }
    out.close(&mut rx, reason).await;
}
