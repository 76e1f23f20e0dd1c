//! The subscriber task: owns the node's one pub/sub connection, applies subscription changes in
//! the order they were asked for, hands what arrives to the inbox, and reconnects when Redis is lost.
//!
//! Losing the connection loses whatever was published meanwhile, so after every reconnect the task
//! re-subscribes the lobby and every room in `Shared::rooms` and only then calls
//! [`Inbox::resync`](confab_core::fanout::Inbox::resync): the hub re-reads those rooms from the store
//! and, because the subscriptions are already active, misses nothing published after its read.
//!
//! A publication with no events is a publisher's loss notice (see `bus`): it also calls `resync`.
//!
//! A `subscribe` made while Redis is unreachable resolves at once: the room is in `Shared::rooms`, so
//! the reconnect subscribes it before calling `resync`, which covers everything it missed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use confab_core::fanout::{Wire, WireRoom};
use confab_core::RoomId;
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use redis::{Msg, RedisError, RedisResult};
use tokio::sync::{mpsc, oneshot};

use crate::backoff::Backoff;
use crate::bus::Shared;
use crate::settings::RedisSettings;

pub(crate) enum Command {
    /// Subscribe, then answer (once Redis confirmed, or at once while disconnected).
    Subscribe(RoomId, oneshot::Sender<()>),
    Unsubscribe(RoomId),
}

pub(crate) type PubSub = (PubSubSink, PubSubStream);

/// Opens a pub/sub connection subscribed to the lobby and to `rooms`.
pub(crate) async fn connect(client: &redis::Client, settings: &RedisSettings, rooms: &[RoomId]) -> RedisResult<PubSub> {
    let mut channels = vec![settings.lobby_channel()];
    channels.extend(rooms.iter().map(|r| settings.room_channel(*r)));
    open(client, settings, &channels).await
}

/// Opens a pub/sub connection subscribed to `channels`, each step within the ping interval.
pub(crate) async fn open(client: &redis::Client, settings: &RedisSettings, channels: &[String]) -> RedisResult<PubSub> {
    let limit = settings.ping_interval.max(Duration::from_millis(100));
    let (mut sink, stream) = timed(limit, client.get_async_pubsub()).await?.split();
    // SUBSCRIBE takes many channels; chunks keep each command and its confirmations small.
    for chunk in channels.chunks(500) {
        timed(limit, sink.subscribe(chunk)).await?;
    }
    Ok((sink, stream))
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    client: redis::Client,
    first: PubSub,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut conn = first;
    let mut backoff = Backoff::new(shared.settings.backoff_initial, shared.settings.backoff_max);
    loop {
        match serve(&shared, &mut conn, &mut commands).await {
            Ended::BusDropped => return,
            Ended::Lost(why) => tracing::warn!(error = %why, "lost the redis pub/sub connection; reconnecting"),
        }
        conn = loop {
            let wait = backoff.next_delay();
            if !wait_answering(&mut commands, wait).await {
                return;
            }
            let rooms: Vec<RoomId> = shared.rooms.lock().iter().copied().collect();
            match connect(&client, &shared.settings, &rooms).await {
                Ok(conn) => break conn,
                Err(e) => tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "redis still unreachable"),
            }
        };
        backoff.reset();
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        tracing::info!("redis pub/sub connection restored; re-reading subscribed rooms from the store");
        if let Some(inbox) = shared.inbox.get() {
            inbox.resync();
        }
    }
}

enum Ended {
    BusDropped,
    Lost(RedisError),
}

/// Runs one connection until it is lost or the bus is dropped.
async fn serve(shared: &Shared, (sink, stream): &mut PubSub, commands: &mut mpsc::UnboundedReceiver<Command>) -> Ended {
    let limit = shared.settings.ping_interval;
    let mut ping = tokio::time::interval(limit);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(msg) => deliver(shared, &msg),
                None => return Ended::Lost(closed()),
            },
            command = commands.recv() => match command {
                None => return Ended::BusDropped,
                Some(Command::Subscribe(room, done)) => {
                    // Answered even on failure: the room stays wanted, and the reconnect that
                    // follows subscribes it before `resync`.
                    let result = timed(limit, sink.subscribe(shared.settings.room_channel(room))).await;
                    let _ = done.send(());
                    if let Err(e) = result {
                        return Ended::Lost(e);
                    }
                }
                Some(Command::Unsubscribe(room)) => {
                    // Re-subscribed meanwhile: the later Subscribe is queued behind this one, but
                    // skipping the UNSUBSCRIBE saves a round trip.
                    if shared.rooms.lock().contains(&room) {
                        continue;
                    }
                    if let Err(e) = timed(limit, sink.unsubscribe(shared.settings.room_channel(room))).await {
                        return Ended::Lost(e);
                    }
                }
            },
            _ = ping.tick() => {
                if let Err(e) = timed(limit, sink.ping::<()>()).await {
                    return Ended::Lost(e);
                }
            }
        }
    }
}

/// Waits `wait` while answering subscriptions (the reconnect will make them active). False when
/// the bus was dropped.
async fn wait_answering(commands: &mut mpsc::UnboundedReceiver<Command>, wait: Duration) -> bool {
    let sleep = tokio::time::sleep(wait);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            command = commands.recv() => match command {
                None => return false,
                Some(Command::Subscribe(_, done)) => { let _ = done.send(()); }
                Some(Command::Unsubscribe(_)) => {}
            },
        }
    }
}

/// Hands one publication to the inbox, unless it is this node's own (already delivered locally),
/// for a room this node no longer wants, or not ours at all.
fn deliver(shared: &Shared, msg: &Msg) {
    let Some(inbox) = shared.inbox.get() else { return };
    let channel = msg.get_channel_name();
    let Some(name) = channel.strip_prefix(shared.settings.prefix.as_str()) else { return };
    if name == "lobby" {
        match serde_json::from_slice::<WireRoom>(msg.get_payload_bytes()) {
            Ok(wire) if wire.node != *shared.node() => inbox.room_changed(wire.room),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, channel, "undecodable lobby publication"),
        }
        return;
    }
    let Some(room) = name.strip_prefix("room:").and_then(|id| id.parse::<RoomId>().ok()) else { return };
    if !shared.rooms.lock().contains(&room) {
        return;
    }
    match Wire::decode(msg.get_payload_bytes()) {
        Ok(wire) if wire.node == *shared.node() => {}
        Ok(wire) if wire.room_id != room => tracing::warn!(channel, room = wire.room_id, "publication for another room"),
        // A loss notice: the publisher dropped some of this room's publications.
        Ok(wire) if wire.events.is_empty() => inbox.resync_room(wire.room_id),
        Ok(wire) => inbox.events(room, wire.events),
        Err(e) => tracing::warn!(error = %e, channel, "undecodable room publication"),
    }
}

/// A Redis call that takes longer than `limit` counts as a lost connection.
pub(crate) async fn timed<T>(limit: Duration, call: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "redis did not answer in time"))),
    }
}

pub(crate) fn closed() -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "pub/sub connection closed"))
}
