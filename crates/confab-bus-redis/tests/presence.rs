//! Presence across nodes as `Chat` announces it: two or three `Chat` services (one per node, each
//! with its own connections' `Presence` and a `RedisRoster`) over one shared store (SQLite here; in
//! a cluster, the shared PostgreSQL), against the real Redis. What the tests read is the room's
//! event log, which is what every client is shown.

mod support;

use std::sync::Arc;
use std::time::Duration;

use confab_bus_redis::RedisRoster;
use confab_core::event::{EventBody, LeaveReason};
use confab_core::presence::Presence;
use confab_core::store::{EventRange, EventSink, Store};
use confab_core::{Actor, Chat, Event, Limits, Role, Room};
use confab_store_sqlite::SqliteStore;
use support::*;

struct NoSink;
impl EventSink for NoSink {
    fn committed(&self, _events: Vec<Event>) {}
}

struct Cluster {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    prefix: Prefix,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), Arc::new(NoSink)).expect("open the store");
        Cluster { _dir: dir, store: Arc::new(store), prefix: prefix() }
    }

    async fn node(&self, name: &str) -> Arc<Chat> {
        self.node_at(name, None).await
    }

    /// A node that reaches Redis through `proxy` when given.
    async fn node_at(&self, name: &str, proxy: Option<&Proxy>) -> Arc<Chat> {
        let mut s = settings(&self.prefix, name);
        if let Some(proxy) = proxy {
            s.url = proxy.url();
        }
        s.presence_timeout = Duration::from_millis(600);
        let roster = RedisRoster::start(s).await.expect("roster");
        let limits = Limits { leave_grace: Duration::from_millis(100), ..Limits::default() };
        Chat::with_roster(Arc::clone(&self.store), Arc::new(Presence::default()), roster, Arc::new(NoSink), limits)
    }

    /// (kind, actor name) of every join and leave in the room's log, in order.
    async fn log(&self, room: &Room) -> Vec<(String, String)> {
        let events = self.store.events(room.id, EventRange::After(0), 1000).await.expect("read the log");
        events
            .into_iter()
            .filter_map(|e| match e.body {
                EventBody::Join => Some(("join".to_string(), e.actor.name)),
                EventBody::Leave { reason: LeaveReason::Left } => Some(("left".to_string(), e.actor.name)),
                EventBody::Leave { reason: LeaveReason::Disconnected } => Some(("disconnected".to_string(), e.actor.name)),
                _ => None,
            })
            .collect()
    }

    /// The log, read until it has more than `n` entries or `limit` passed.
    async fn log_once_longer_than(&self, room: &Room, n: usize, limit: Duration) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let log = self.log(room).await;
            if log.len() > n || tokio::time::Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn guest(chat: &Chat, name: &str) -> Actor {
    chat.create_guest(name, name.as_bytes()).await.expect("guest")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect()
}

/// One person on two nodes is one member: one join, no leave when one node's connection leaves,
/// one leave when both have.
#[tokio::test]
async fn one_person_on_two_nodes_is_announced_once() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let sam = guest(&a, "sam").await;
    let room = a.create_room(&sam, "general").await.unwrap();
    let joined = a.join(&sam, 1, &room, Role::Owner, None).await.unwrap();
    assert_eq!(joined.members.len(), 1);
    let joined = b.join(&sam, 2, &room, Role::Owner, None).await.unwrap();
    assert_eq!(joined.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["sam"], "one member, not two");
    assert_eq!(cluster.log(&room).await, pairs(&[("join", "sam")]));
    a.leave(&sam, 1, &room).await.unwrap();
    assert_eq!(cluster.log(&room).await, pairs(&[("join", "sam")]), "still on b: no leave");
    assert_eq!(b.list_rooms(None).await.unwrap()[0].members, 1, "the lobby counts the cluster");
    b.leave(&sam, 2, &room).await.unwrap();
    assert_eq!(cluster.log(&room).await, pairs(&[("join", "sam"), ("left", "sam")]));
    assert_eq!(a.list_rooms(None).await.unwrap()[0].members, 0);
}

/// A dropped connection whose person is still on another node ends its grace period quietly;
/// members joined through different nodes are listed together, in arrival order.
#[tokio::test]
async fn a_drop_on_one_node_is_quiet_while_the_person_is_on_another() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let sam = guest(&a, "sam").await;
    let ada = guest(&a, "ada").await;
    let room = a.create_room(&sam, "general").await.unwrap();
    a.join(&sam, 1, &room, Role::Owner, None).await.unwrap();
    b.join(&ada, 2, &room, Role::Member, None).await.unwrap();
    let joined = b.join(&sam, 3, &room, Role::Owner, None).await.unwrap();
    assert_eq!(joined.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["sam", "ada"]);
    a.disconnected(&sam, 1, vec![room.clone()]);
    tokio::time::sleep(Duration::from_millis(400)).await; // past the 100 ms grace
    assert_eq!(cluster.log(&room).await, pairs(&[("join", "sam"), ("join", "ada")]));
    b.disconnected(&sam, 3, vec![room.clone()]);
    let log = cluster.log_once_longer_than(&room, 2, Duration::from_secs(3)).await;
    assert_eq!(log, pairs(&[("join", "sam"), ("join", "ada"), ("disconnected", "sam")]));
}

/// A node that dies (dropped without leaving, like `kill -9`): after the presence timeout a
/// survivor appends `disconnected` leaves for its people, once even with two survivors, and none
/// for a person who is also on a survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_people_leave_once_after_the_timeout() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let dead = cluster.node("dead").await;
    let sam = guest(&a, "sam").await;
    let ada = guest(&a, "ada").await;
    let room = a.create_room(&sam, "general").await.unwrap();
    dead.join(&sam, 1, &room, Role::Owner, None).await.unwrap();
    dead.join(&ada, 2, &room, Role::Member, None).await.unwrap();
    b.join(&ada, 3, &room, Role::Member, None).await.unwrap();
    drop(dead);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cluster.log(&room).await.len(), 2, "nothing before the timeout");
    let log = cluster.log_once_longer_than(&room, 2, Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // time for a second announcement, if any
    assert_eq!(cluster.log(&room).await, pairs(&[("join", "sam"), ("join", "ada"), ("disconnected", "sam")]), "was {log:?}");
    let members = a.members(room.id).await.unwrap();
    assert_eq!(members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["ada"]);
}

/// A node cut off from Redis past the timeout: a survivor announces its person's leave; when the
/// node is back it announces the join again (the person never left it), and lists it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_past_the_timeout_announces_its_people_again() {
    let cluster = Cluster::new();
    let proxy = Proxy::start().await;
    let a = cluster.node_at("a", Some(&proxy)).await;
    let b = cluster.node("b").await;
    let sam = guest(&a, "sam").await;
    let ada = guest(&a, "ada").await;
    let room = a.create_room(&sam, "general").await.unwrap();
    a.join(&sam, 1, &room, Role::Owner, None).await.unwrap();
    b.join(&ada, 2, &room, Role::Member, None).await.unwrap();
    proxy.cut();
    let log = cluster.log_once_longer_than(&room, 2, Duration::from_secs(3)).await;
    assert_eq!(log, pairs(&[("join", "sam"), ("join", "ada"), ("disconnected", "sam")]));
    proxy.restore();
    let log = cluster.log_once_longer_than(&room, 3, Duration::from_secs(5)).await;
    assert_eq!(log, pairs(&[("join", "sam"), ("join", "ada"), ("disconnected", "sam"), ("join", "sam")]));
    let members = b.members(room.id).await.unwrap();
    assert_eq!(members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["ada", "sam"]);
    a.leave(&sam, 1, &room).await.unwrap();
    assert_eq!(cluster.log(&room).await.last().unwrap(), &("left".to_string(), "sam".to_string()), "and leaves normally");
}

/// Redis losing its data: every node lists its people again, and nothing is announced.
#[tokio::test]
async fn lost_redis_data_is_rebuilt_quietly() {
    let cluster = Cluster::new();
    let a = cluster.node("a").await;
    let sam = guest(&a, "sam").await;
    let room = a.create_room(&sam, "general").await.unwrap();
    a.join(&sam, 1, &room, Role::Owner, None).await.unwrap();
    delete_prefix(&cluster.prefix).await;
    assert!(a.members(room.id).await.unwrap().is_empty(), "forgotten");
    tokio::time::sleep(Duration::from_millis(600)).await; // a beat or two
    let members = a.members(room.id).await.unwrap();
    assert_eq!(members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["sam"], "listed again");
    assert_eq!(cluster.log(&room).await, pairs(&[("join", "sam")]), "no announcement");
}
