//! [`RedisRoster`]: the [`Roster`] contract in Redis, shared by every node of a cluster.
//!
//! Keys (under the prefix, `{p}`), per room `r` and actor `a`:
//! - `{p}presence:{r}:order` (zset actor -> arrival number), `{p}presence:{r}:names` (hash actor ->
//!   display name), `{p}presence:{r}:arrivals` (the arrival counter): the member list;
//! - `{p}presence:{r}:at:{a}` (set of node ids): which nodes hold the actor in the room;
//! - `{p}node:{n}:holds` (set of `[room id, room name, actor id]`): what node `n` holds, so that a
//!   survivor can depart it when `n` dies;
//! - `{p}node:{n}:alive` (expires after the presence timeout) and `{p}nodes` (set): the heartbeat;
//!   `{p}node:{n}:reaper` (the claim on a dead node) and `{p}node:{n}:reaped` (its tombstone).
//!
//! `arrive`, `depart` and the heartbeat are Lua scripts (src/lua/), so a count and the member list never disagree
//! and "first" and "last" are each answered once, however many nodes race. The `reaper`
//! task beats and departs dead nodes' members.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use confab_core::model::{ActorId, ActorRef, Room, RoomId};
use confab_core::roster::{Found, Roster};
use confab_core::{ChatError, Result};
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use redis::{RedisError, Script};
use tokio::sync::{mpsc, watch};

use crate::error::BusError;
use crate::reaper;
use crate::settings::RedisSettings;

/// One node's view of the cluster roster. Dropping it stops the heartbeat (and so, after the
/// presence timeout, the other nodes depart this node's members, as if it had died).
pub struct RedisRoster {
    inner: Arc<Inner>,
    found: Mutex<Option<mpsc::UnboundedReceiver<Found>>>,
    /// Dropped with the roster: tells the heartbeat and reaper tasks to stop.
    _stop: watch::Sender<()>,
}

pub(crate) struct Inner {
    pub(crate) settings: RedisSettings,
    /// Reconnects by itself (with the configured backoff); a call made while Redis is down fails.
    pub(crate) conn: ConnectionManager,
    arrive: Script,
    depart: Script,
    pub(crate) beat: Script,
}

impl RedisRoster {
    /// Connects, beats once (so this node counts as alive before it holds anyone), departs what a
    /// previous process with this node id left behind, and starts the heartbeat and reaper tasks.
    /// Fails with [`BusError::Connect`] when Redis cannot be reached.
    pub async fn start(settings: RedisSettings) -> Result<Arc<RedisRoster>, BusError> {
        let conn = settings.connection_manager().await?;
        let inner = Arc::new(Inner {
            settings,
            conn,
            arrive: Script::new(include_str!("lua/arrive.lua")),
            depart: Script::new(include_str!("lua/depart.lua")),
            beat: Script::new(include_str!("lua/beat.lua")),
        });
        reaper::beat(&inner).await.map_err(|source| BusError::Connect { url: inner.settings.url.clone(), source })?;
        let (found, found_rx) = mpsc::unbounded_channel();
        let me = inner.settings.node.clone();
        let stale = reaper::reap_node(&inner, &me).await?;
        if !stale.is_empty() {
            tracing::warn!(node = %me, members = stale.len(), "departing what an earlier process with this node id left");
        }
        for gone in stale {
            let _ = found.send(Found::Departed(gone));
        }
        let (stop, stopped) = watch::channel(());
        reaper::start(Arc::clone(&inner), found, stopped);
        Ok(Arc::new(RedisRoster { inner, found: Mutex::new(Some(found_rx)), _stop: stop }))
    }
}

impl Inner {
    fn key(&self, rest: std::fmt::Arguments) -> String {
        format!("{}{rest}", self.settings.prefix)
    }

    pub(crate) fn holds_key(&self, node: &str) -> String {
        self.key(format_args!("node:{node}:holds"))
    }
    pub(crate) fn alive_key(&self, node: &str) -> String {
        self.key(format_args!("node:{node}:alive"))
    }
    pub(crate) fn reaper_key(&self, node: &str) -> String {
        self.key(format_args!("node:{node}:reaper"))
    }
    pub(crate) fn tombstone_key(&self, node: &str) -> String {
        self.key(format_args!("node:{node}:reaped"))
    }
    pub(crate) fn nodes_key(&self) -> String {
        self.key(format_args!("nodes"))
    }
    fn order_key(&self, room: RoomId) -> String {
        self.key(format_args!("presence:{room}:order"))
    }
    fn names_key(&self, room: RoomId) -> String {
        self.key(format_args!("presence:{room}:names"))
    }

    /// The five keys both scripts take, in their order.
    fn script_keys(&self, room: RoomId, actor: &str, node: &str) -> [String; 5] {
        [
            self.order_key(room),
            self.names_key(room),
            self.key(format_args!("presence:{room}:arrivals")),
            self.key(format_args!("presence:{room}:at:{actor}")),
            self.holds_key(node),
        ]
    }

    /// Runs depart.lua for `node`; the actor's display name when that was the last node holding it.
    pub(crate) async fn depart_from(&self, room: &Held, node: &str) -> Result<Option<String>, RedisError> {
        let mut call = self.depart.prepare_invoke();
        for key in self.script_keys(room.room_id, &room.actor, node) {
            call.key(key);
        }
        call.arg(&room.actor).arg(node).arg(room.entry());
        call.invoke_async(&mut self.conn.clone()).await
    }
}

/// One (room, actor) a node holds, as stored in its `holds` set.
pub(crate) struct Held {
    pub(crate) room_id: RoomId,
    pub(crate) room_name: String,
    pub(crate) actor: String,
}

impl Held {
    fn of(room: &Room, actor: &ActorId) -> Held {
        Held { room_id: room.id, room_name: room.name.clone(), actor: actor.as_str().to_string() }
    }

    pub(crate) fn entry(&self) -> String {
        serde_json::json!([self.room_id, self.room_name, self.actor]).to_string()
    }

    pub(crate) fn parse(entry: &str) -> Option<Held> {
        let (room_id, room_name, actor): (RoomId, String, String) = serde_json::from_str(entry).ok()?;
        Some(Held { room_id, room_name, actor })
    }
}

fn unavailable(e: RedisError) -> ChatError {
    BusError::Command(e).into()
}

#[async_trait]
impl Roster for RedisRoster {
    async fn arrive(&self, room: &Room, actor: &ActorRef) -> Result<bool> {
        let inner = &self.inner;
        let node = inner.settings.node.as_ref();
        let held = Held::of(room, &actor.id);
        let mut call = inner.arrive.prepare_invoke();
        for key in inner.script_keys(room.id, &held.actor, node) {
            call.key(key);
        }
        call.arg(&held.actor).arg(&actor.name).arg(node).arg(held.entry());
        let first: i64 = call.invoke_async(&mut inner.conn.clone()).await.map_err(unavailable)?;
        Ok(first == 1)
    }

    async fn depart(&self, room: &Room, actor: &ActorId) -> Result<bool> {
        let node = self.inner.settings.node.clone();
        let last = self.inner.depart_from(&Held::of(room, actor), &node).await.map_err(unavailable)?;
        Ok(last.is_some())
    }

    async fn members(&self, room: RoomId) -> Result<Vec<ActorRef>> {
        let inner = &self.inner;
        let (ids, names): (Vec<String>, HashMap<String, String>) = redis::pipe()
            .atomic()
            .zrange(inner.order_key(room), 0, -1)
            .hgetall(inner.names_key(room))
            .query_async(&mut inner.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let name = names.get(&id)?.clone();
                Some(ActorRef { id: ActorId::from(id), name })
            })
            .collect())
    }

    async fn counts(&self, rooms: &[RoomId]) -> Result<Vec<usize>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.zcard(self.inner.order_key(*room));
        }
        pipe.query_async(&mut self.inner.conn.clone()).await.map_err(unavailable)
    }

    fn found(&self) -> Option<mpsc::UnboundedReceiver<Found>> {
        self.found.lock().take()
    }
}
