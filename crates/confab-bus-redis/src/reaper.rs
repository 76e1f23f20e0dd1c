//! The heartbeat and the reaper: two tasks per node, so that departing a large dead node never
//! delays this node's own heartbeat (and gets it counted dead in turn).
//!
//! Every third of the presence timeout the heartbeat renews this node's `alive` key (it expires
//! after the timeout), and the reaper looks for nodes in `{p}nodes` whose key has expired. A dead node is claimed
//! with `SET {p}node:{n}:reaper NX PX timeout`, so one survivor does the work; it runs depart.lua
//! for every (room, actor) the dead node held, and each departure that left a room without the
//! actor goes to `Chat` to be appended as a `disconnected` leave. depart.lua removes each entry as
//! it answers, so a survivor that dies halfway leaves the rest to the next claim, and nothing is
//! announced twice. The reaper then leaves a tombstone (`{p}node:{n}:reaped`, kept a day).
//!
//! A node that was only cut off finds, on its next beat (beat.lua), that the cluster forgot it:
//! with the tombstone, its members' leaves were announced; without, Redis lost its data (a restart
//! without persistence) and nothing was. Either way it tells `Chat` ([`Found::Forgotten`]), which
//! arrives this node's members again.

use std::sync::Arc;
use std::time::Duration;

use confab_core::model::{ActorId, ActorRef};
use confab_core::roster::{Departed, Found};
use redis::{AsyncCommands, RedisError};
use tokio::sync::{mpsc, watch};

use crate::error::BusError;
use crate::roster::{Held, Inner};

/// How long a tombstone says "your members' leaves were announced" to a node that comes back.
const TOMBSTONE: Duration = Duration::from_secs(24 * 3600);

/// Starts the heartbeat and the reaper; both stop when `stop`'s sender is dropped.
pub(crate) fn start(inner: Arc<Inner>, found: mpsc::UnboundedSender<Found>, stop: watch::Receiver<()>) {
    tokio::spawn(heartbeat(Arc::clone(&inner), found.clone(), stop.clone()));
    tokio::spawn(reaper(inner, found, stop));
}

/// Waits for the next tick; false once the roster was dropped.
async fn next_tick(tick: &mut tokio::time::Interval, stop: &mut watch::Receiver<()>) -> bool {
    tokio::select! {
        _ = stop.changed() => false,
        _ = tick.tick() => true,
    }
}

fn every_third_of_the_timeout(inner: &Inner) -> tokio::time::Interval {
    let period = (inner.settings.presence_timeout / 3).max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

async fn heartbeat(inner: Arc<Inner>, found: mpsc::UnboundedSender<Found>, mut stop: watch::Receiver<()>) {
    let mut tick = every_third_of_the_timeout(&inner);
    while next_tick(&mut tick, &mut stop).await {
        match beat(&inner).await {
            Ok(Known::Yes) => {}
            Ok(known) => {
                tracing::warn!(announced = known == Known::Reaped, "the cluster had forgotten this node's members");
                let _ = found.send(Found::Forgotten { announced: known == Known::Reaped });
            }
            Err(e) => tracing::warn!(error = %e, "presence heartbeat failed; other nodes will count this one dead after the timeout"),
        }
    }
}

async fn reaper(inner: Arc<Inner>, found: mpsc::UnboundedSender<Found>, mut stop: watch::Receiver<()>) {
    let mut tick = every_third_of_the_timeout(&inner);
    while next_tick(&mut tick, &mut stop).await {
        match reap_dead(&inner).await {
            Ok(gone) => {
                for departed in gone {
                    let _ = found.send(Found::Departed(departed));
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not check for dead nodes"),
        }
    }
}

/// Whether the cluster knew this node when it beat.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Known {
    Yes,
    /// Not known, and nothing announced: a first beat, or Redis lost its data.
    Forgotten,
    /// Counted dead: its members' leaves were announced.
    Reaped,
}

/// Renews this node's heartbeat.
pub(crate) async fn beat(inner: &Inner) -> Result<Known, RedisError> {
    let node = inner.settings.node.as_ref();
    let ttl = inner.settings.presence_timeout.as_millis().max(1) as u64;
    let known: i64 = inner
        .beat
        .key(inner.alive_key(node))
        .key(inner.nodes_key())
        .key(inner.tombstone_key(node))
        .arg(node)
        .arg(ttl)
        .invoke_async(&mut inner.conn.clone())
        .await?;
    Ok(match known {
        0 => Known::Yes,
        2 => Known::Reaped,
        _ => Known::Forgotten,
    })
}

/// Departs the members of every node whose heartbeat expired and that this node could claim.
async fn reap_dead(inner: &Inner) -> Result<Vec<Departed>, BusError> {
    let mut conn = inner.conn.clone();
    let me = inner.settings.node.as_ref();
    let nodes: Vec<String> = conn.smembers(inner.nodes_key()).await?;
    let mut gone = Vec::new();
    for node in nodes.iter().filter(|n| n.as_str() != me) {
        let alive: bool = conn.exists(inner.alive_key(node)).await?;
        if alive {
            continue;
        }
        let ttl = inner.settings.presence_timeout.as_millis().max(1) as u64;
        let claimed: Option<String> = redis::cmd("SET")
            .arg(inner.reaper_key(node))
            .arg(me)
            .arg("NX")
            .arg("PX")
            .arg(ttl)
            .query_async(&mut conn)
            .await?;
        if claimed.is_none() {
            continue; // another survivor is on it
        }
        let departed = reap_node(inner, node).await?;
        tracing::warn!(node = %node, members = departed.len(), "node stopped heartbeating; announcing its members' leaves");
        gone.extend(departed);
        let _: () = redis::pipe()
            .srem(inner.nodes_key(), node)
            .ignore()
            .set_options(
                inner.tombstone_key(node),
                1,
                redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(TOMBSTONE.as_millis() as u64)),
            )
            .ignore()
            .query_async(&mut conn)
            .await?;
    }
    Ok(gone)
}

/// Departs everything `node` holds; returns the departures that left a room without the actor.
pub(crate) async fn reap_node(inner: &Inner, node: &str) -> Result<Vec<Departed>, BusError> {
    let entries: Vec<String> = inner.conn.clone().smembers(inner.holds_key(node)).await?;
    let mut gone = Vec::new();
    for entry in entries {
        let Some(held) = Held::parse(&entry) else {
            tracing::warn!(node, entry, "unreadable presence entry; removed");
            let _: () = inner.conn.clone().srem(inner.holds_key(node), &entry).await?;
            continue;
        };
        if let Some(name) = inner.depart_from(&held, node).await? {
            gone.push(Departed {
                room_id: held.room_id,
                room_name: held.room_name,
                actor: ActorRef { id: ActorId::from(held.actor), name },
            });
        }
    }
    Ok(gone)
}
