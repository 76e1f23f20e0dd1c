//! The writer half of a WebSocket connection, shared by both protocols: it drains the connection's
//! queue in batches, lets the sequencer put room events in order, and sends every frame of the batch
//! in one vectored write, so a busy connection costs one system call per wake-up rather than one per
//! frame. It closes the socket with the reason the connection was killed for.

use std::sync::Arc;
use std::time::Duration;

use super::queue::Receiver;
use super::sequencer::Sequencer;
use super::ws::handshake::Writer;
use super::{CloseReason, ConnShared, Outbound};

/// Most queued items taken in one wake-up.
const BATCH: usize = 256;

pub async fn run(
    mut sink: Writer,
    mut rx: Receiver<Outbound>,
    mut sequencer: Sequencer,
    shared: Arc<ConnShared>,
) {
    // Empty while idle: they hold one wake-up's items and frames.
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
                let mut pongs = Vec::new();
                for item in items.drain(..) {
                    if let Outbound::Pong(payload) = item {
                        pongs.push(payload);
                    } else if let Err(reason) = sequencer.push(item, &mut frames) {
                        failed = Some(reason);
                        break;
                    }
                }
                let write = async {
                    for payload in &pongs {
                        sink.pong(payload).await?;
                    }
                    sink.send_texts(&frames).await?;
                    frames.clear();
                    Ok::<_, std::io::Error>(())
                };
                tokio::select! {
                    written = write => if written.is_err() {
                        shared.kill(CloseReason::Normal);
                        return;
                    },
                    reason = shared.killed() => break reason,
                }
                // Give the batch's space back: most connections are idle most of the time, and two
                // allocations per wake-up cost little next to the write.
                items = Vec::new();
                frames = Vec::new();
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
    while let Some(item) = rx.try_recv() {
        if sequencer.push(item, &mut frames).is_err() {
            break;
        }
    }
    let goodbye = async {
        sink.send_texts(&frames).await?;
        sink.close(reason.code(), reason.as_str()).await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
}
