//! The heartbeat and the reaper, one task per node.
//!
//! Every third of the presence timeout the task renews this node's `alive` key (it expires after
//! the timeout) and looks for nodes in `{p}nodes` whose key has expired. A dead node is claimed
//! with `SET {p}node:{n}:reaper NX PX timeout`, so one survivor does the work; it runs depart.lua
//! for every (room, actor) the dead node held, and each departure that left a room without the
//! actor goes to `Chat` to be appended as a `disconnected` leave. depart.lua removes each entry as
//! it answers, so a survivor that dies halfway leaves the rest to the next claim, and nothing is
//! announced twice.

use std::sync::Arc;
use std::time::Duration;

use confab_core::model::{ActorId, ActorRef};
use confab_core::roster::Departed;
use redis::{AsyncCommands, RedisError};
use tokio::sync::{mpsc, oneshot};

use crate::error::BusError;
use crate::roster::{Held, Inner};

pub(crate) async fn run(inner: Arc<Inner>, found: mpsc::UnboundedSender<Departed>, mut stop: oneshot::Receiver<()>) {
    let period = (inner.settings.presence_timeout / 3).max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = beat(&inner).await {
            tracing::warn!(error = %e, "presence heartbeat failed; other nodes will count this one dead after the timeout");
            continue;
        }
        match reap_dead(&inner).await {
            Ok(gone) => {
                for departed in gone {
                    let _ = found.send(departed);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not check for dead nodes"),
        }
    }
}

/// Renews this node's heartbeat.
pub(crate) async fn beat(inner: &Inner) -> Result<(), RedisError> {
    let node = inner.settings.node.as_ref();
    let ttl = inner.settings.presence_timeout.as_millis().max(1) as u64;
    redis::pipe()
        .set_options(inner.alive_key(node), 1, redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ttl)))
        .ignore()
        .sadd(inner.nodes_key(), node)
        .ignore()
        .query_async(&mut inner.conn.clone())
        .await
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
        let _: () = conn.srem(inner.nodes_key(), node).await?;
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
