//! The Redis roster against the real Redis: two or three nodes' rosters under a prefix of their own.

mod support;

use std::sync::Arc;
use std::time::Duration;

use confab_bus_redis::{RedisRoster, RedisSettings};
use confab_core::model::{Room, RoomKind};
use confab_core::roster::{Departed, Found, Roster};
use support::*;
use tokio::sync::mpsc::UnboundedReceiver;

fn room(id: i64) -> Room {
    Room { id, name: format!("room-{id}"), kind: RoomKind::Public, created_at: 0, top_seq: 0 }
}

fn quick(prefix: &str, node: &str) -> RedisSettings {
    let mut s = settings(prefix, node);
    s.presence_timeout = Duration::from_millis(600);
    s
}

async fn names(r: &RedisRoster, room: i64) -> Vec<String> {
    r.members(room).await.unwrap().into_iter().map(|a| a.name).collect()
}

/// Everything a roster's channel has found within `wait`.
async fn drain_found(rx: &mut UnboundedReceiver<Found>, wait: Duration) -> Vec<Found> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(d)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        got.push(d);
    }
    got
}

/// The departures among what a roster found within `wait`.
async fn drain(rx: &mut UnboundedReceiver<Found>, wait: Duration) -> Vec<Departed> {
    let found = drain_found(rx, wait).await;
    found
        .into_iter()
        .map(|f| match f {
            Found::Departed(d) => d,
            other => panic!("expected departures only, got {other:?}"),
        })
        .collect()
}

/// One actor on two nodes is one member: one join (first arrival), no leave when one node lets
/// go, one leave when both did.
#[tokio::test]
async fn one_actor_on_two_nodes_joins_once_and_leaves_once() {
    let p = prefix();
    let a = RedisRoster::start(quick(&p, "a")).await.unwrap();
    let b = RedisRoster::start(quick(&p, "b")).await.unwrap();
    let sam = actor("sam");
    assert!(a.arrive(&room(1), &sam).await.unwrap(), "first in the cluster: announce");
    assert!(!b.arrive(&room(1), &sam).await.unwrap(), "already a member through a");
    assert!(!a.arrive(&room(1), &sam).await.unwrap(), "a second arrive from one node changes nothing");
    assert_eq!(names(&a, 1).await, ["sam"]);
    assert_eq!(b.counts(&[1, 2]).await.unwrap(), [1, 0]);
    assert!(!a.depart(&room(1), &sam.id).await.unwrap(), "still on b: no leave");
    assert_eq!(names(&b, 1).await, ["sam"]);
    assert!(b.depart(&room(1), &sam.id).await.unwrap(), "last node: announce the leave");
    assert!(!b.depart(&room(1), &sam.id).await.unwrap(), "and only once");
    assert!(names(&a, 1).await.is_empty());
    assert_eq!(a.counts(&[1]).await.unwrap(), [0]);
}

/// Members are listed in the order they first arrived, whichever node they came through.
#[tokio::test]
async fn members_are_listed_in_cluster_arrival_order() {
    let p = prefix();
    let a = RedisRoster::start(quick(&p, "a")).await.unwrap();
    let b = RedisRoster::start(quick(&p, "b")).await.unwrap();
    for (node, who) in [(&a, "sam"), (&b, "ada"), (&a, "bob"), (&b, "sam")] {
        node.arrive(&room(1), &actor(who)).await.unwrap();
    }
    assert_eq!(names(&b, 1).await, ["sam", "ada", "bob"]);
}

/// Many nodes racing for one actor: exactly one arrival is first, exactly one departure is last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_nodes_get_one_first_and_one_last() {
    let p = prefix();
    let mut nodes = Vec::new();
    for i in 0..6 {
        nodes.push(RedisRoster::start(quick(&p, &format!("n{i}"))).await.unwrap());
    }
    let (r, sam) = (room(1), actor("sam"));
    let arrivals = futures_util::future::join_all(nodes.iter().map(|n| n.arrive(&r, &sam))).await;
    assert_eq!(arrivals.iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
    let departures = futures_util::future::join_all(nodes.iter().map(|n| n.depart(&r, &sam.id))).await;
    assert_eq!(departures.iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
}

/// A node that stops heartbeating (dropped without cleanup, like `kill -9`) has its members
/// departed after the timeout, not before, once across two survivors; an actor also present on a
/// survivor stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_members_depart_after_the_timeout_once() {
    let p = prefix();
    let a = RedisRoster::start(quick(&p, "a")).await.unwrap();
    let b = RedisRoster::start(quick(&p, "b")).await.unwrap();
    let (mut a_gone, mut b_gone) = (a.found().unwrap(), b.found().unwrap());
    let dead = RedisRoster::start(quick(&p, "dead")).await.unwrap();
    dead.arrive(&room(1), &actor("sam")).await.unwrap();
    dead.arrive(&room(1), &actor("ada")).await.unwrap();
    dead.arrive(&room(2), &actor("sam")).await.unwrap();
    a.arrive(&room(1), &actor("ada")).await.unwrap();
    drop(dead);

    let early = drain(&mut a_gone, Duration::from_millis(300)).await;
    assert!(early.is_empty(), "nothing before the timeout: {early:?}");
    assert_eq!(names(&a, 1).await, ["sam", "ada"]);

    let (mut got_a, got_b) = tokio::join!(drain(&mut a_gone, Duration::from_secs(3)), drain(&mut b_gone, Duration::from_secs(3)));
    got_a.extend(got_b);
    got_a.sort_by_key(|d| d.room_id);
    let seen: Vec<(i64, &str, &str)> =
        got_a.iter().map(|d| (d.room_id, d.room_name.as_str(), d.actor.name.as_str())).collect();
    assert_eq!(seen, [(1, "room-1", "sam"), (2, "room-2", "sam")], "sam's two rooms, once; ada is still on a");
    assert_eq!(names(&b, 1).await, ["ada"]);
    assert_eq!(b.counts(&[2]).await.unwrap(), [0]);
}

/// A node restarted with the same id departs what its previous process left behind.
#[tokio::test]
async fn a_restarted_node_departs_what_it_left_behind() {
    let p = prefix();
    let first = RedisRoster::start(quick(&p, "a")).await.unwrap();
    first.arrive(&room(1), &actor("sam")).await.unwrap();
    drop(first);
    let again = RedisRoster::start(quick(&p, "a")).await.unwrap();
    let gone = drain(&mut again.found().unwrap(), Duration::from_millis(200)).await;
    assert_eq!(gone.iter().map(|d| d.actor.name.as_str()).collect::<Vec<_>>(), ["sam"]);
    assert!(names(&again, 1).await.is_empty());
}

/// While Redis is unreachable presence calls fail with `unavailable` (they do not hang or panic),
/// and work again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_calls_fail_cleanly_while_redis_is_cut() {
    let p = prefix();
    let proxy = Proxy::start().await;
    let mut s = quick(&p, "a");
    s.url = proxy.url();
    let a = RedisRoster::start(s).await.unwrap();
    proxy.cut();
    let err = tokio::time::timeout(Duration::from_secs(10), a.arrive(&room(1), &actor("sam")))
        .await
        .expect("answers in time")
        .expect_err("cannot succeed while cut");
    assert_eq!(err.code, confab_core::ErrorCode::Unavailable);
    proxy.restore();
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(first) = a.arrive(&room(1), &actor("sam")).await {
            ok = first;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "arrive works again after the outage");
    let _ = Arc::clone(&a);
}

/// A node cut off from Redis past the timeout is counted dead by the others (its members depart);
/// when it is back, it is told it was forgotten with its leaves announced, and arrives again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_past_the_timeout_is_told_it_was_forgotten() {
    let p = prefix();
    let proxy = Proxy::start().await;
    let mut s = quick(&p, "a");
    s.url = proxy.url();
    let a = RedisRoster::start(s).await.unwrap();
    let b = RedisRoster::start(quick(&p, "b")).await.unwrap();
    let (mut a_found, mut b_found) = (a.found().unwrap(), b.found().unwrap());
    a.arrive(&room(1), &actor("sam")).await.unwrap();
    proxy.cut();
    let gone = drain(&mut b_found, Duration::from_millis(1500)).await;
    assert_eq!(gone.iter().map(|d| d.actor.name.as_str()).collect::<Vec<_>>(), ["sam"], "b counted a dead");
    proxy.restore();
    let told = drain_found(&mut a_found, Duration::from_secs(4)).await;
    assert_eq!(told, [Found::Forgotten { announced: true }]);
    assert!(a.arrive(&room(1), &actor("sam")).await.unwrap(), "first again: the join is to be announced");
}

/// Redis losing its data (here: our prefix's keys deleted, as a restart without persistence would)
/// tells every node it was forgotten, with nothing announced.
#[tokio::test]
async fn lost_redis_data_is_told_as_forgotten_without_announcements() {
    let p = prefix();
    let a = RedisRoster::start(quick(&p, "a")).await.unwrap();
    let mut a_found = a.found().unwrap();
    a.arrive(&room(1), &actor("sam")).await.unwrap();
    delete_prefix(&p).await;
    let told = drain_found(&mut a_found, Duration::from_millis(800)).await;
    assert_eq!(told, [Found::Forgotten { announced: false }]);
}

/// 1,000 actors arrive through two nodes in turn and depart again: the count follows exactly, and
/// the time per call is printed (one Redis round trip each).
#[tokio::test]
async fn a_thousand_arrivals_and_departures_keep_the_count() {
    let p = prefix();
    let a = RedisRoster::start(quick(&p, "a")).await.unwrap();
    let b = RedisRoster::start(quick(&p, "b")).await.unwrap();
    let people: Vec<_> = (0..1000).map(|i| actor(&format!("p{i}"))).collect();
    let start = std::time::Instant::now();
    let mut firsts = 0;
    for (i, who) in people.iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        firsts += node.arrive(&room(1), who).await.unwrap() as usize;
    }
    assert_eq!(firsts, 1000);
    assert_eq!(a.counts(&[1]).await.unwrap(), [1000]);
    assert_eq!(names(&b, 1).await.len(), 1000);
    let mut lasts = 0;
    for (i, who) in people.iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        lasts += node.depart(&room(1), &who.id).await.unwrap() as usize;
    }
    let took = start.elapsed();
    eprintln!("2,000 roster calls (arrive + depart) in {took:?}: {:?} per call", took / 2000);
    assert_eq!(lasts, 1000);
    assert_eq!(b.counts(&[1]).await.unwrap(), [0]);
}

/// Start-up with Redis unreachable fails with a typed error naming the URL, within seconds.
#[tokio::test]
async fn startup_without_redis_fails_with_a_clear_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut s = quick(&prefix(), "a");
    s.url = format!("redis://{closed}/");
    let start = std::time::Instant::now();
    match RedisRoster::start(s).await {
        Err(e @ confab_bus_redis::BusError::Connect { .. }) => assert!(e.to_string().contains(&closed.to_string()), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("started against a closed port"),
    }
    eprintln!("start-up gave up after {:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(15));
}
