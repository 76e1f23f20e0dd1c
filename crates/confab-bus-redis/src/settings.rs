//! Every setting the Redis bus and roster take, with the defaults a small cluster wants. The
//! server turns each into a flag and an environment variable (README's configuration table).

use std::time::Duration;

use confab_core::fanout::NodeId;

/// How to reach Redis and how hard to try. One per node; both [`crate::RedisBus`] and
/// [`crate::RedisRoster`] take it.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port/db` (`--redis-url`, `CONFAB_REDIS_URL`).
    pub url: String,
    /// Put before every channel and key, so that several clusters (or test runs) can share one Redis
    /// (`--redis-prefix`, `CONFAB_REDIS_PREFIX`, default `confab:`).
    pub prefix: String,
    /// This node's name in the cluster; it must differ between nodes (`--node-id`, `CONFAB_NODE_ID`,
    /// default random at start-up).
    pub node: NodeId,
    /// Publications waiting to be sent to Redis; past it they are dropped and counted (receivers
    /// recover from the store) (`--redis-publish-queue`, `CONFAB_REDIS_PUBLISH_QUEUE`, default 10,000).
    pub publish_queue: usize,
    /// First wait before reconnecting after Redis was lost; each failed try doubles it, with jitter
    /// (`--redis-backoff-initial-ms`, `CONFAB_REDIS_BACKOFF_INITIAL_MS`, default 100 ms).
    pub backoff_initial: Duration,
    /// Longest wait between two reconnection tries (`--redis-backoff-max-ms`,
    /// `CONFAB_REDIS_BACKOFF_MAX_MS`, default 5 s).
    pub backoff_max: Duration,
    /// How often the idle pub/sub connection is pinged, and how long a ping or a command may take
    /// before the connection is held for lost (`--redis-ping-ms`, `CONFAB_REDIS_PING_MS`, default 2 s).
    /// A silently dead connection (no reset from the peer) is noticed within twice this.
    pub ping_interval: Duration,
    /// How long a node may go without a heartbeat before the others count it dead and announce its
    /// users' leaves (`--presence-timeout-ms`, `CONFAB_PRESENCE_TIMEOUT_MS`, default 15 s). Each node
    /// beats every third of it.
    pub presence_timeout: Duration,
}

impl RedisSettings {
    /// The defaults, for a Redis at `url` and a node named `node`.
    pub fn new(url: impl Into<String>, node: impl Into<NodeId>) -> Self {
        RedisSettings {
            url: url.into(),
            prefix: "confab:".into(),
            node: node.into(),
            publish_queue: 10_000,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            ping_interval: Duration::from_secs(2),
            presence_timeout: Duration::from_secs(15),
        }
    }

    /// A client for `url` whose connections set TCP_NODELAY: without it, Nagle's algorithm and
    /// Redis's delayed acknowledgements can hold a small publication or script call back ~40 ms.
    pub(crate) fn client(&self) -> Result<redis::Client, crate::BusError> {
        use redis::IntoConnectionInfo;
        let invalid = |source| crate::BusError::Url { url: self.url.clone(), source };
        let info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(invalid)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        redis::Client::open(info).map_err(invalid)
    }

    /// A reconnecting connection (the roster's and the stash's), backing off between `backoff_initial`
    /// and `backoff_max`, with 2 s to connect and to answer; [`crate::BusError::Connect`] when Redis
    /// cannot be reached.
    pub(crate) async fn connection_manager(&self) -> Result<redis::aio::ConnectionManager, crate::BusError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_min_delay(self.backoff_initial)
            .set_max_delay(self.backoff_max)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        redis::aio::ConnectionManager::new_with_config(self.client()?, config)
            .await
            .map_err(|source| crate::BusError::Connect { url: self.url.clone(), source })
    }

    pub(crate) fn room_channel(&self, room: confab_core::RoomId) -> String {
        format!("{}room:{room}", self.prefix)
    }

    pub(crate) fn lobby_channel(&self) -> String {
        format!("{}lobby", self.prefix)
    }
}
