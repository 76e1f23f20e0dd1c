//! Confab on several nodes: the Redis implementations of two confab-core contracts.
//!
//! - [`RedisBus`] ([`bus`], [`subscriber`], [`publisher`]): the fan-out [`Bus`](confab_core::fanout::Bus)
//!   between nodes on Redis pub/sub.
//! - [`RedisRoster`] ([`roster`], [`reaper`]): cluster-wide presence, the
//!   [`Roster`](confab_core::roster::Roster) contract, in Redis keys kept atomic by Lua scripts,
//!   with a heartbeat per node and a reaper that announces the leaves of a dead node's users.
//! - [`RedisSettings`] ([`settings`]): every setting both take; [`BusError`] ([`error`]).
//!
//! The store stays the source of truth: Redis only wakes other nodes up and counts who is where.
//! docs/scaling.md says what is lost when, and how it is recovered.
//!
//! Wiring a node (inside the Tokio runtime, before serving clients):
//! ```ignore
//! let settings = RedisSettings::new(config.redis_url, config.node_id);   // plus the other flags
//! let bus = RedisBus::connect(settings.clone()).await?;                 // BusError::Connect if unreachable
//! let store = SqliteStore::open(dir, Arc::new(Publisher(bus.clone())))?; // commits -> bus.publish
//! let hub = Hub::start(...);                                             // implements Inbox
//! bus.attach(hub.clone());
//! let roster = RedisRoster::start(settings).await?;                      // heartbeat + reaper tasks
//! let chat = Chat::with_roster(store, presence, roster, sink, limits);   // announces reaped leaves
//! ```

mod backoff;
pub mod bus;
pub mod error;
pub mod publisher;
pub mod reaper;
pub mod roster;
pub mod settings;
pub mod subscriber;

pub use bus::RedisBus;
pub use error::BusError;
pub use roster::RedisRoster;
pub use settings::RedisSettings;
