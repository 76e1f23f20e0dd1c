//! What a node is built on, chosen at start-up from the settings: the store (SQLite in the data
//! directory, or PostgreSQL with `--database-url`), the bus that carries committed events to the
//! other nodes and the roster that counts who is where (in-process for one node, Redis with
//! `--redis-url`), and the hub that ties them to this node's connections.
//!
//! The order matters and is the same for every combination: the bus first (the store publishes on
//! it from its first commit), then the store, then the hub attached to the bus as its inbox before
//! anyone can subscribe, then the roster and the chat service.

use std::sync::Arc;

use confab_bus_redis::{BusError, RedisBus, RedisRoster};
use confab_core::fanout::{Bus, LocalBus, Publisher};
use confab_core::presence::Presence;
use confab_core::roster::{LocalRoster, Roster};
use confab_core::store::{EventSink, Store};
use confab_core::Chat;
use confab_store_postgres::PostgresStore;
use confab_store_sqlite::SqliteStore;

use crate::app::StartError;
use crate::config::Config;
use crate::fanout::Hub;

pub struct Backends {
    pub chat: Arc<Chat>,
    /// The store, for the accounts service (which keeps no chat rules, so it does not go through `Chat`).
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    /// For the start-up log line: which store and which bus this node runs on.
    pub description: String,
    /// The Redis bus, when there is one, for its counters on /metrics.
    pub redis_bus: Option<Arc<RedisBus>>,
}

/// The two buses, which differ only in how they are attached to the hub.
enum NodeBus {
    Local(Arc<LocalBus>),
    Redis(Arc<RedisBus>),
}

impl NodeBus {
    fn as_bus(&self) -> Arc<dyn Bus> {
        match self {
            NodeBus::Local(b) => b.clone(),
            NodeBus::Redis(b) => b.clone(),
        }
    }
}

pub async fn open(config: &Config) -> Result<Backends, StartError> {
    let redis = config.redis();
    let bus = match &redis {
        Some(settings) => NodeBus::Redis(RedisBus::connect(settings.clone()).await?),
        None => NodeBus::Local(LocalBus::new()),
    };
    let sink: Arc<dyn EventSink> = Arc::new(Publisher(bus.as_bus()));
    let (store, storage): (Arc<dyn Store>, String) = match config.postgres() {
        Some(settings) => {
            let schema = settings.schema.clone().unwrap_or_else(|| "(search_path)".into());
            let store = PostgresStore::open(&settings, Arc::clone(&sink)).await?;
            (Arc::new(store), format!("postgresql, schema {schema}"))
        }
        None => {
            let store = SqliteStore::open(&config.data_dir, Arc::clone(&sink))?;
            (Arc::new(store), format!("sqlite in {}", config.data_dir.display()))
        }
    };
    let presence = Arc::new(Presence::default());
    let roster: Arc<dyn Roster> = match &redis {
        Some(settings) => RedisRoster::start(settings.clone()).await?,
        None => Arc::new(LocalRoster::default()),
    };
    let hub = Hub::start(Arc::clone(&store), bus.as_bus(), Arc::clone(&roster), config.gap_fill_wait());
    match &bus {
        NodeBus::Local(b) => b.attach(hub.clone()),
        NodeBus::Redis(b) => b.attach(hub.clone()),
    }
    let chat = Chat::with_roster(Arc::clone(&store), presence, roster, sink, config.limits());
    if redis.is_none() {
        // Alone, this node is the only one that can tell who the log lists after a crash.
        let listed = chat.recover_listed().await?;
        if listed > 0 {
            tracing::info!(listed, "people the log still listed are in their grace period");
        }
    }
    let description = match &redis {
        Some(r) => format!("{storage}; redis bus, node {}", r.node),
        None => storage,
    };
    let redis_bus = match &bus {
        NodeBus::Redis(b) => Some(Arc::clone(b)),
        NodeBus::Local(_) => None,
    };
    Ok(Backends { chat, store, hub, description, redis_bus })
}

impl From<BusError> for StartError {
    fn from(e: BusError) -> Self {
        StartError::Redis(e)
    }
}
