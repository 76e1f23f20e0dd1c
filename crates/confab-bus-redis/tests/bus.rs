//! The Redis bus against the real Redis on 127.0.0.1:6379: each test builds two or three bus
//! instances (one per node) with a recording inbox, under a key prefix of its own.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_bus_redis::{BusError, RedisBus, RedisSettings};
use confab_core::fanout::Bus;
use support::*;

const WAIT: Duration = Duration::from_secs(5);

async fn node(settings: RedisSettings) -> (Arc<RedisBus>, Arc<Recorder>) {
    let bus = RedisBus::connect(settings).await.expect("connect to redis");
    let inbox = Arc::new(Recorder::default());
    bus.attach(inbox.clone());
    (bus, inbox)
}

/// Only nodes subscribed to a room get its traffic; the publisher's own inbox gets it at once.
#[tokio::test]
async fn only_the_subscribed_node_receives_a_rooms_events() {
    let p = prefix();
    let (a, a_in) = node(settings(&p, "a")).await;
    let (b, b_in) = node(settings(&p, "b")).await;
    let (c, c_in) = node(settings(&p, "c")).await;
    b.subscribe(1).await.unwrap();
    c.subscribe(2).await.unwrap();
    a.publish(vec![event(1, 1), event(2, 1), event(1, 2)]);
    assert_eq!(a_in.seqs(), vec![(1, 1), (1, 2), (2, 1)], "local delivery is immediate, grouped by room");
    assert!(eventually(WAIT, || b_in.seqs().len() == 2 && c_in.seqs().len() == 1).await);
    // A later publication to both rooms proves nothing else was on its way.
    a.publish(vec![event(1, 3), event(2, 2)]);
    assert!(eventually(WAIT, || b_in.has(1, 3) && c_in.has(2, 2)).await);
    assert_eq!(b_in.seqs(), vec![(1, 1), (1, 2), (1, 3)], "b hears room 1 only");
    assert_eq!(c_in.seqs(), vec![(2, 1), (2, 2)], "c hears room 2 only");
    assert_eq!(numsub(&format!("{p}room:1")).await, 1, "one pub/sub connection for node b, none for a or c");
}

/// A node's own publication reaches its inbox once (locally), not a second time from Redis.
#[tokio::test]
async fn a_node_does_not_receive_its_own_publication_twice() {
    let p = prefix();
    let (a, a_in) = node(settings(&p, "a")).await;
    let (b, _b_in) = node(settings(&p, "b")).await;
    a.subscribe(7).await.unwrap();
    a.publish(vec![event(7, 1)]);
    b.publish(vec![event(7, 2)]);
    assert!(eventually(WAIT, || a_in.has(7, 2)).await, "b's publication arrives");
    // a's echo went through Redis before b's publication reached a (one connection, in order).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a_in.seqs(), vec![(7, 1), (7, 2)]);
}

/// 10,000 events published one commit at a time arrive complete and in commit order.
#[tokio::test]
async fn one_publishers_events_arrive_in_commit_order() {
    let p = prefix();
    let mut s = settings(&p, "a");
    s.publish_queue = 20_000;
    let (a, _) = node(s).await;
    let (b, b_in) = node(settings(&p, "b")).await;
    b.subscribe(1).await.unwrap();
    b.subscribe(2).await.unwrap();
    let start = Instant::now();
    for seq in 1..=5_000 {
        a.publish(vec![event(1, seq), event(2, seq)]);
    }
    assert!(eventually(Duration::from_secs(30), || b_in.seqs().len() == 10_000).await, "got {}", b_in.seqs().len());
    let elapsed = start.elapsed();
    eprintln!("10,000 events in 10,000 publications arrived in {elapsed:?}");
    for room in [1, 2] {
        let seqs: Vec<i64> = b_in.seqs().into_iter().filter(|(r, _)| *r == room).map(|(_, s)| s).collect();
        assert_eq!(seqs, (1..=5_000).collect::<Vec<_>>(), "room {room} in commit order");
    }
    assert_eq!(a.dropped(), 0);
}

/// A publication made right after `subscribe` resolved always arrives (50 fresh rooms).
#[tokio::test]
async fn a_publication_right_after_subscribe_resolved_arrives() {
    let p = prefix();
    let (a, _) = node(settings(&p, "a")).await;
    let (b, b_in) = node(settings(&p, "b")).await;
    for room in 100..150 {
        b.subscribe(room).await.unwrap();
        a.publish(vec![event(room, 1)]);
    }
    assert!(eventually(WAIT, || b_in.seqs().len() == 50).await, "got {:?}", b_in.seqs());
}

/// After `unsubscribe` the node gets none of the room's traffic, and Redis no longer counts it.
#[tokio::test]
async fn unsubscribe_stops_traffic() {
    let p = prefix();
    let (a, _) = node(settings(&p, "a")).await;
    let (b, b_in) = node(settings(&p, "b")).await;
    b.subscribe(1).await.unwrap();
    b.subscribe(2).await.unwrap();
    a.publish(vec![event(1, 1)]);
    assert!(eventually(WAIT, || b_in.has(1, 1)).await);
    b.unsubscribe(1);
    let start = Instant::now();
    while numsub(&format!("{p}room:1")).await != 0 {
        assert!(start.elapsed() < WAIT, "redis still counts b on room 1");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.publish(vec![event(1, 2)]);
    a.publish(vec![event(2, 1)]);
    assert!(eventually(WAIT, || b_in.has(2, 1)).await);
    assert_eq!(b_in.seqs(), vec![(1, 1), (2, 1)], "nothing of room 1 after unsubscribe");
}

/// A lobby change reaches every node once, the publisher's own locally.
#[tokio::test]
async fn lobby_changes_reach_all_nodes() {
    let p = prefix();
    let (a, a_in) = node(settings(&p, "a")).await;
    let (_b, b_in) = node(settings(&p, "b")).await;
    let (_c, c_in) = node(settings(&p, "c")).await;
    a.publish_room_changed(summary("general", 3));
    assert!(eventually(WAIT, || b_in.lobby.lock().len() == 1 && c_in.lobby.lock().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a_in.lobby.lock().len(), 1, "no echo of its own");
    assert_eq!(b_in.lobby.lock()[0], summary("general", 3));
}

/// Redis lost for 3 s behind a proxy: the bus retries with backoff (a handful of tries, not a
/// storm), re-subscribes, calls `resync` once, and hears publications made after the reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_reconnects_with_backoff_resubscribes_and_resyncs() {
    let p = prefix();
    let proxy = Proxy::start().await;
    let mut s = settings(&p, "a");
    s.url = proxy.url();
    let (a, a_in) = node(s).await;
    let (b, _) = node(settings(&p, "b")).await;
    a.subscribe(1).await.unwrap();
    b.publish(vec![event(1, 1)]);
    assert!(eventually(WAIT, || a_in.has(1, 1)).await);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.publish(vec![event(1, 2)]); // lost for a: it is what resync is for
    // A subscription asked for during the outage resolves, and is active after the reconnect.
    tokio::time::timeout(Duration::from_secs(2), a.subscribe(2)).await.expect("subscribe resolves while cut").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tries = proxy.refused.load(Ordering::SeqCst);
    eprintln!("{tries} connection tries during a 3 s outage");
    assert_eq!(a_in.resyncs.load(Ordering::SeqCst), 0, "no resync before the reconnect");
    proxy.restore();
    let restored = Instant::now();
    assert!(eventually(WAIT, || a_in.resyncs.load(Ordering::SeqCst) == 1).await, "resync after the reconnect");
    eprintln!("resync {:?} after Redis was reachable again", restored.elapsed());
    assert_eq!(a.reconnects(), 1);
    // 50 ms doubling to 800 ms over ~3 s is about 7 tries; without backoff it would be hundreds.
    assert!((3..=20).contains(&tries), "{tries} connection tries during the outage");
    b.publish(vec![event(1, 3), event(2, 1)]);
    assert!(eventually(WAIT, || a_in.has(1, 3) && a_in.has(2, 1)).await, "resubscribed rooms hear new traffic: {:?}", a_in.seqs());
    assert!(!a_in.has(1, 2), "the publication made during the outage was lost (recovered from the store by resync)");
    // a's own publishing also recovered.
    a.publish(vec![event(1, 4)]);
    let b2 = node(settings(&p, "b2")).await;
    b2.0.subscribe(1).await.unwrap();
    a.publish(vec![event(1, 5)]);
    assert!(eventually(WAIT, || b2.1.has(1, 5)).await, "a publishes again after the outage");
    assert_eq!(a_in.resyncs.load(Ordering::SeqCst), 1, "exactly one resync for one outage");
}

/// A node whose publications were lost (its link to Redis cut while it published) sends the room a
/// loss notice once it is back, even if it publishes nothing more: the room's receivers resync, and
/// receivers of rooms that lost nothing do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_publications_make_their_rooms_receivers_resync() {
    let p = prefix();
    let proxy = Proxy::start().await;
    let mut s = settings(&p, "a");
    s.url = proxy.url();
    let (a, _) = node(s).await;
    let (b, b_in) = node(settings(&p, "b")).await;
    let (c, c_in) = node(settings(&p, "c")).await;
    b.subscribe(1).await.unwrap();
    c.subscribe(2).await.unwrap();
    a.publish(vec![event(2, 1)]);
    assert!(eventually(WAIT, || c_in.has(2, 1)).await);
    proxy.cut();
    a.publish(vec![event(1, 1)]);
    assert!(eventually(WAIT, || a.dropped() == 1).await, "the failed PUBLISH is counted");
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.restore();
    assert!(eventually(WAIT, || b_in.resyncs.load(Ordering::SeqCst) == 1).await, "room 1's receiver resyncs");
    assert!(b_in.seqs().is_empty(), "the lost event itself is not delivered by the bus");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c_in.resyncs.load(Ordering::SeqCst), 0, "room 2 lost nothing");
    assert_eq!(b_in.resyncs.load(Ordering::SeqCst), 1, "one notice for one loss");
}

/// `publish` from a plain thread (as the store's writer calls it) never waits: with Redis cut off
/// and a queue of 100, 20,000 commits return at once, reach the local inbox, and what did not fit
/// is dropped and counted; after the outage publishing works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_never_blocks_and_counts_what_it_drops() {
    let p = prefix();
    let proxy = Proxy::start().await;
    let mut s = settings(&p, "a");
    s.url = proxy.url();
    s.publish_queue = 100;
    let (a, a_in) = node(s).await;
    proxy.cut();
    let writer = {
        let a = Arc::clone(&a);
        std::thread::spawn(move || {
            let start = Instant::now();
            for seq in 1..=20_000 {
                a.publish(vec![event(1, seq)]);
            }
            start.elapsed()
        })
    };
    let took = writer.join().expect("the writer thread");
    eprintln!("20,000 publish calls with Redis cut off took {took:?}; dropped {}", a.dropped());
    // A publish that waited for Redis would take seconds per call; debug builds need ~40 µs.
    assert!(took < Duration::from_secs(5), "publish waited: {took:?}");
    assert_eq!(a_in.seqs().len(), 20_000, "every commit reached the local inbox");
    assert!(a.dropped() >= 19_000, "dropped {} of 20,000 with a queue of 100", a.dropped());
    proxy.restore();
    let (b, b_in) = node(settings(&p, "b")).await;
    b.subscribe(1).await.unwrap();
    // The queued ones, and then this one, go out once the publisher has reconnected.
    let mut seq = 20_001;
    assert!(
        eventually(Duration::from_secs(10), || {
            a.publish(vec![event(1, seq)]);
            seq += 1;
            !b_in.seqs().is_empty()
        })
        .await,
        "a publishes again after the outage"
    );
}

/// Start-up with Redis unreachable fails with a typed error naming the URL.
#[tokio::test]
async fn startup_without_redis_fails_with_a_clear_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = RedisSettings::new(format!("redis://{closed}/"), "a");
    match RedisBus::connect(s).await {
        Err(e @ BusError::Connect { .. }) => assert!(e.to_string().contains(&closed.to_string()), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("connected to a closed port"),
    }
    let bad = RedisSettings::new("not a url", "a");
    assert!(matches!(RedisBus::connect(bad).await, Err(BusError::Url { .. })));
}
