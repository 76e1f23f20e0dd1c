//! The writer half of a WebSocket connection, shared by both protocols: it drains the connection's
//! queue in batches, lets the sequencer put room events in order, writes every frame of the batch,
//! and flushes once, so a busy connection costs one system call per wake-up rather than one per frame.
//! It closes the socket with the reason the connection was killed for.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::mpsc;

use super::sequencer::Sequencer;
use super::{CloseReason, ConnShared, Outbound};

/// Most queued items taken in one wake-up.
const BATCH: usize = 256;
/// Frame buffers larger than this after a write are shrunk back.
const SHRINK_ABOVE: usize = 2 * BATCH;

pub async fn run(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    mut sequencer: Sequencer,
    shared: Arc<ConnShared>,
) {
    // Empty at first: most connections are idle, and these grow only as far as the bursts they see.
    let mut items = Vec::new();
    let mut frames = Vec::new();
    let reason = loop {
        tokio::select! {
            biased;
            reason = shared.killed() => break reason,
            n = rx.recv_many(&mut items, BATCH) => {
                if n == 0 {
                    break CloseReason::Normal;
                }
                let mut failed = None;
                for item in items.drain(..) {
                    if let Err(reason) = sequencer.push(item, &mut frames) {
                        failed = Some(reason);
                        break;
                    }
                }
                let write = async {
                    for frame in frames.drain(..) {
                        sink.feed(Message::Text(frame)).await?;
                    }
                    sink.flush().await
                };
                tokio::select! {
                    written = write => if written.is_err() {
                        shared.kill(CloseReason::Normal);
                        return;
                    },
                    reason = shared.killed() => break reason,
                }
                if frames.capacity() > SHRINK_ABOVE {
                    // A replay or a burst is over; do not keep its space for the connection's lifetime.
                    frames.shrink_to(BATCH / 8);
                    items.shrink_to(BATCH / 8);
                }
                if let Some(reason) = failed {
                    shared.kill(reason);
                    break reason;
                }
            }
        }
    };
    // Send what was already queued (an answer explaining a rate limit, say), then the close frame.
    // A client that stopped reading may take none of it; do not wait for it forever.
    frames.clear();
    while let Ok(item) = rx.try_recv() {
        if sequencer.push(item, &mut frames).is_err() {
            break;
        }
    }
    let close = CloseFrame { code: reason.code(), reason: reason.as_str().into() };
    let goodbye = async {
        for frame in frames.drain(..) {
            sink.feed(Message::Text(frame)).await?;
        }
        sink.send(Message::Close(Some(close))).await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
}
