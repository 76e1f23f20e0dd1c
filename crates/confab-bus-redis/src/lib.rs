//! Confab on several nodes: the Redis implementations of two confab-core contracts.
//!
//! - [`RedisBus`] ([`bus`]; its tasks in `subscriber` and `publisher`): the fan-out
//!   [`Bus`](confab_core::fanout::Bus) between nodes on Redis pub/sub.
//! - [`RedisRoster`] ([`roster`]; its task in `reaper`): cluster-wide presence, the
//!   [`Roster`](confab_core::roster::Roster) contract, in Redis keys kept atomic by Lua scripts
//!   (`src/lua/`), with a heartbeat per node and a reaper that departs a dead node's members.
//! - [`RedisStash`] ([`stash`]): the [`Stash`](confab_core::stash::Stash) contract (records taken
//!   once, expiring), for Socket.IO sessions recovered on another node.
//! - [`RedisSettings`] ([`settings`]): every setting both take; [`BusError`] ([`error`]).
//!
//! The database stays the source of truth: Redis only wakes other nodes up and counts who is where.
//! docs/scaling.md says what is lost when, and how it is recovered.
//!
//! Wiring a node (inside the Tokio runtime, before serving clients):
//! ```ignore
//! let mut settings = RedisSettings::new(redis_url, node_id);  // then prefix, queue, backoff, timeout
//! let bus = RedisBus::connect(settings.clone()).await?;      // BusError::Connect if Redis is unreachable
//! let store = Store::open(.., Arc::new(Publisher(bus.clone())));  // every commit -> Bus::publish
//! let hub = Hub::start(..);                                   // the node's Inbox
//! bus.attach(hub.clone());                                    // before the first subscribe
//! let roster = RedisRoster::start(settings).await?;           // heartbeat and reaper tasks
//! let chat = Chat::with_roster(store, presence, roster, sink, limits); // acts on what the roster finds
//! ```
//! Cluster-wide reads go through `Chat`: `Chat::members(room)` (Socket.IO's `update_users`),
//! `Chat::room_summary(room)` and `Chat::list_rooms()` (member counts). `Chat::summary` stays this
//! node's count, with no round trip.

mod backoff;
pub mod bus;
pub mod error;
mod publisher;
mod reaper;
pub mod roster;
pub mod settings;
pub mod stash;
mod subscriber;

pub use bus::RedisBus;
pub use error::BusError;
pub use roster::RedisRoster;
pub use settings::RedisSettings;
pub use stash::RedisStash;
