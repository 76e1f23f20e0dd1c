//! [`RedisStash`]: the [`Stash`] contract in Redis, so that a record one node put (a disconnected
//! Socket.IO socket's recovery state) is found by whichever node the client reconnects to.
//!
//! Keys: `{p}stash:{key}`, written with `SET ... PX ttl` (Redis expires them) and taken with
//! `GETDEL` (one step: a record is taken once, however many nodes ask).

use std::time::Duration;

use async_trait::async_trait;
use confab_core::stash::Stash;
use confab_core::Result;
use redis::aio::ConnectionManager;

use crate::error::BusError;
use crate::settings::RedisSettings;

pub struct RedisStash {
    prefix: String,
    /// Reconnects by itself; a call made while Redis is down fails (`unavailable`).
    conn: ConnectionManager,
}

impl RedisStash {
    /// Connects; fails with [`BusError::Connect`] when Redis cannot be reached.
    pub async fn connect(settings: &RedisSettings) -> Result<RedisStash, BusError> {
        let conn = settings.connection_manager().await?;
        Ok(RedisStash { prefix: settings.prefix.clone(), conn })
    }

    fn key(&self, key: &str) -> String {
        format!("{}stash:{key}", self.prefix)
    }
}

#[async_trait]
impl Stash for RedisStash {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        let mut conn = self.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async::<()>(&mut conn)
            .await
            .map_err(BusError::from)?;
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> =
            redis::cmd("GETDEL").arg(self.key(key)).query_async(&mut conn).await.map_err(BusError::from)?;
        Ok(value)
    }
}
