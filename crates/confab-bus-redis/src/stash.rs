//! [`RedisStash`]: the [`Stash`] contract in Redis, so that a record one node wrote (a Socket.IO
//! socket's recovery state) is found by whichever node the client reconnects to, even after the node
//! that wrote it was killed.
//!
//! Keys: `{p}stash:{key}`, a hash (`h`: the holder, `""` for a final record; `v`: the value) with a
//! Redis expiry. Writes, takes and releases are Lua scripts (src/lua/stash_*.lua) that check the
//! holder in the same step; renewals are one pipeline of `PEXPIRE`.
//!
//! Holders are `{incarnation}/{holder}`, the incarnation being random per process. Whether a holder's
//! process still runs is asked of Redis itself: each stash keeps a pub/sub connection subscribed to
//! `{p}stash:alive:{incarnation}`, and `PUBSUB NUMSUB` of that channel is 0 once the process is gone
//! (Redis drops a killed process's connection as soon as its socket closes) or cut off from Redis
//! (then a takeover elsewhere is told to the old holder by its next write failing).

use std::time::Duration;

use async_trait::async_trait;
use confab_core::stash::{Stash, Taken};
use confab_core::Result;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::Script;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::error::BusError;
use crate::settings::RedisSettings;
use crate::subscriber::{self, closed, timed, PubSub};

pub struct RedisStash {
    prefix: String,
    /// This process's part of every holder it writes.
    incarnation: String,
    /// Reconnects by itself; a call made while Redis is down fails (`unavailable`).
    conn: ConnectionManager,
    write: Script,
    take: Script,
    release: Script,
    /// Dropped with the stash: stops the liveness task.
    _stop: watch::Sender<()>,
}

impl RedisStash {
    /// Connects, and subscribes this process's liveness channel before any record is held; fails with
    /// [`BusError::Connect`] when Redis cannot be reached.
    pub async fn connect(settings: &RedisSettings) -> Result<RedisStash, BusError> {
        let conn = settings.connection_manager().await?;
        let incarnation = format!("{:024x}", rand::random::<u128>() >> 32);
        let channel = alive_channel(&settings.prefix, &incarnation);
        let client = settings.client()?;
        let first = subscribe(&client, settings, &channel)
            .await
            .map_err(|source| BusError::Connect { url: settings.url.clone(), source })?;
        let (stop, stopped) = watch::channel(());
        tokio::spawn(keep_alive(client, settings.clone(), channel, first, stopped));
        Ok(RedisStash {
            prefix: settings.prefix.clone(),
            incarnation,
            conn,
            write: Script::new(include_str!("lua/stash_write.lua")),
            take: Script::new(include_str!("lua/stash_take.lua")),
            release: Script::new(include_str!("lua/stash_release.lua")),
            _stop: stop,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}stash:{key}", self.prefix)
    }

    fn holder(&self, holder: &str) -> String {
        format!("{}/{holder}", self.incarnation)
    }

    async fn write(&self, key: &str, holder: &str, keep: &str, value: Vec<u8>, ttl: Duration) -> Result<bool> {
        let mut conn = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        let written: i64 = self
            .write
            .key(self.key(key))
            .arg(self.holder(holder))
            .arg(keep)
            .arg(value)
            .arg(ms)
            .invoke_async(&mut conn)
            .await
            .map_err(BusError::from)?;
        Ok(written == 1)
    }

    /// Whether the process of `holder` (`{incarnation}/...`) still has its liveness channel subscribed.
    async fn runs(&self, holder: &str) -> Result<bool> {
        let Some((incarnation, _)) = holder.split_once('/') else { return Ok(false) };
        if incarnation == self.incarnation {
            return Ok(true);
        }
        let mut conn = self.conn.clone();
        let (_, subscribers): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(alive_channel(&self.prefix, incarnation))
            .query_async(&mut conn)
            .await
            .map_err(BusError::from)?;
        Ok(subscribers > 0)
    }
}

fn alive_channel(prefix: &str, incarnation: &str) -> String {
    format!("{prefix}stash:alive:{incarnation}")
}

async fn subscribe(client: &redis::Client, settings: &RedisSettings, channel: &str) -> redis::RedisResult<PubSub> {
    subscriber::open(client, settings, &[channel.to_string()]).await
}

/// Keeps the liveness channel subscribed (pinging it every `--redis-ping-ms`, reconnecting with the
/// configured backoff) until the stash is dropped.
async fn keep_alive(client: redis::Client, settings: RedisSettings, channel: String, first: PubSub, mut stop: watch::Receiver<()>) {
    let mut conn = first;
    let mut backoff = Backoff::new(settings.backoff_initial, settings.backoff_max);
    loop {
        let lost = {
            let (sink, stream) = &mut conn;
            let mut ping = tokio::time::interval(settings.ping_interval);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    msg = stream.next() => if msg.is_none() { break closed() },
                    _ = ping.tick() => if let Err(e) = timed(settings.ping_interval, sink.ping::<()>()).await { break e },
                }
            }
        };
        tracing::warn!(error = %lost, "lost the stash's liveness subscription; reconnecting (held Socket.IO sessions may be recovered elsewhere meanwhile)");
        conn = loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(backoff.next_delay()) => {}
            }
            match subscribe(&client, &settings, &channel).await {
                Ok(conn) => break conn,
                Err(e) => tracing::warn!(error = %e, "redis still unreachable for the stash's liveness subscription"),
            }
        };
        backoff.reset();
    }
}

#[async_trait]
impl Stash for RedisStash {
    async fn hold(&self, key: &str, holder: &str, value: Vec<u8>, ttl: Duration) -> Result<bool> {
        self.write(key, holder, &self.holder(holder), value, ttl).await
    }

    async fn renew(&self, keys: &[String], ttl: Duration) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let ms = ttl.as_millis().max(1) as u64;
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("PEXPIRE").arg(self.key(key)).arg(ms).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(BusError::from)?;
        Ok(())
    }

    async fn put(&self, key: &str, holder: &str, value: Vec<u8>, ttl: Duration) -> Result<bool> {
        self.write(key, holder, "", value, ttl).await
    }

    async fn release(&self, key: &str, holder: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        self.release.key(self.key(key)).arg(self.holder(holder)).invoke_async::<()>(&mut conn).await.map_err(BusError::from)?;
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Taken> {
        let mut conn = self.conn.clone();
        let holder: Option<String> =
            redis::cmd("HGET").arg(self.key(key)).arg("h").query_async(&mut conn).await.map_err(BusError::from)?;
        let Some(holder) = holder else { return Ok(Taken::Nothing) };
        if !holder.is_empty() && self.runs(&holder).await? {
            return Ok(Taken::Held);
        }
        let value: Option<Vec<u8>> =
            self.take.key(self.key(key)).arg(&holder).invoke_async(&mut conn).await.map_err(BusError::from)?;
        Ok(value.map_or(Taken::Nothing, Taken::Record))
    }
}
