//! Several Confab nodes on one PostgreSQL schema and one Redis prefix, acting as one: real `confab`
//! processes, real PostgreSQL and Redis, real WebSocket clients of both protocols.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use support::cluster::{redis_addr, Cluster, TcpProxy};
use support::{Client, SioWs};

/// Reads room events until `count` messages arrived; asserts that the sequence numbers run
/// `after + 1, after + 2, ...` with no gap and no duplicate, and returns the messages' texts.
async fn messages_in_order(c: &mut Client, after: i64, count: usize) -> Vec<String> {
    let mut expected = after + 1;
    let mut texts = Vec::new();
    while texts.len() < count {
        let e = c.event().await;
        assert_eq!(e["seq"].as_i64(), Some(expected), "gap or duplicate: {e}");
        expected += 1;
        if e["kind"] == "message" {
            texts.push(e["message"]["content"]["text"].as_str().unwrap().to_string());
        }
    }
    texts
}

/// People on different nodes in one room see each other exactly as on one node, on both protocols:
/// two senders on two nodes writing at once get gap-free sequence numbers, and every member, native
/// or Socket.IO, on either node, gets every message once, in the room's order.
#[tokio::test]
async fn members_on_different_nodes_see_one_room_in_order() {
    let cluster = Cluster::start(2, &redis_addr(), &["--requests-per-second", "0"]);
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut ann = Client::guest(a, "ann").await;
    ann.ok("create_room", json!({"room": "spread"})).await;
    let ann_top = ann.join("spread").await["top_seq"].as_i64().unwrap();
    let mut bob = Client::guest(b, "bob").await;
    let bob_top = bob.join("spread").await["top_seq"].as_i64().unwrap();
    let mut sio = SioWs::connect(b, None).await;
    let joined = sio.call(1, "join_room", json!({"room": "spread", "user": "sam"})).await;
    assert_eq!(joined["ok"], true, "{joined}");

    let mut ann_w = Client::with_token(a, &ann.token()).await;
    let mut bob_w = Client::with_token(b, &bob.token()).await;
    ann_w.join("spread").await;
    bob_w.join("spread").await;
    const EACH: usize = 40;
    let (acks_a, acks_b) = tokio::join!(
        async {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                seqs.push(ann_w.say("spread", &format!("a{i}")).await["seq"].as_i64().unwrap());
            }
            seqs
        },
        async {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                seqs.push(bob_w.say("spread", &format!("b{i}")).await["seq"].as_i64().unwrap());
            }
            seqs
        }
    );
    let all: HashSet<i64> = acks_a.iter().chain(&acks_b).copied().collect();
    assert_eq!(all.len(), 2 * EACH, "two nodes writing one room never share a sequence number");

    // Everyone sees every message in the room's order (the joins of the writers' second
    // connections are not announced: the same people are already there).
    let seen_a = messages_in_order(&mut ann, ann_top, 2 * EACH).await;
    let seen_b = messages_in_order(&mut bob, bob_top, 2 * EACH).await;
    assert_eq!(seen_a, seen_b, "both nodes deliver one order");
    for who in ["a", "b"] {
        let mine: Vec<&String> = seen_a.iter().filter(|t| t.starts_with(who)).collect();
        let sent: Vec<String> = (0..EACH).map(|i| format!("{who}{i}")).collect();
        assert_eq!(mine, sent.iter().collect::<Vec<_>>(), "one sender's messages keep its order");
    }
    let mut sio_seqs = Vec::new();
    while sio_seqs.len() < 2 * EACH {
        let m = sio.event("room_message").await;
        if m["user"] != "System" {
            sio_seqs.push(m["seq"].as_i64().unwrap());
        }
    }
    let mut sorted = sio_seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sio_seqs, sorted, "Socket.IO members get each message once, in order");
    assert_eq!(sio_seqs.len(), 2 * EACH);
}

/// A client cut off from one node reconnects to another and resumes with exactly what it missed.
#[tokio::test]
async fn a_client_resumes_on_another_node_without_gap_or_duplicate() {
    let cluster = Cluster::start(2, &redis_addr(), &["--requests-per-second", "0"]);
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut ann = Client::guest(a, "ann").await;
    ann.ok("create_room", json!({"room": "hop"})).await;
    ann.join("hop").await;
    let mut bob = Client::guest(b, "bob").await;
    bob.join("hop").await;
    bob.say("hop", "before").await;
    let last_seen = loop {
        let e = ann.event().await;
        if e["kind"] == "message" {
            break e["seq"].as_i64().unwrap();
        }
    };
    let token = ann.token();
    ann.drop_connection();
    for i in 0..20 {
        bob.say("hop", &format!("missed {i}")).await;
    }
    let mut ann = Client::with_token(b, &token).await;
    let ack = ann.ok("join", json!({"room": "hop", "since": last_seen})).await;
    assert_eq!(ack["complete"], true);
    let top = ack["top_seq"].as_i64().unwrap();
    let replayed: Vec<Value> = {
        let mut v = Vec::new();
        for _ in 0..ack["replayed"].as_i64().unwrap() {
            v.push(ann.event().await);
        }
        v
    };
    let seqs: Vec<i64> = replayed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, ((last_seen + 1)..=top).collect::<Vec<_>>());
    let texts: Vec<&str> = replayed.iter().filter(|e| e["kind"] == "message").map(|e| e["message"]["content"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, (0..20).map(|i| format!("missed {i}")).collect::<Vec<_>>());
    bob.say("hop", "live again").await;
    let live = messages_in_order(&mut ann, top, 1).await;
    assert_eq!(live, ["live again"]);
}

/// A node killed with SIGKILL says nothing; a survivor notices through the missing heartbeat after
/// the presence timeout and announces the leave of its people once.
#[tokio::test]
async fn a_killed_nodes_people_leave_through_a_survivor() {
    let mut cluster = Cluster::start(2, &redis_addr(), &["--presence-timeout-ms", "1500"]);
    let mut ann = Client::guest(cluster.node(0), "ann").await;
    ann.ok("create_room", json!({"room": "wake"})).await;
    ann.join("wake").await;
    let mut bob = Client::guest(cluster.node(1), "bob").await;
    let joined = bob.join("wake").await;
    let names: Vec<&str> = joined["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ann", "bob"], "the member list is cluster-wide");
    let token = ann.token();
    let ann_id = ann.id();
    cluster.kill(0);
    let started = tokio::time::Instant::now();
    let leave = bob.event_of("leave").await;
    assert_eq!(leave["actor"]["id"], ann_id.as_str());
    assert_eq!(leave["reason"], "disconnected");
    assert!(started.elapsed() >= Duration::from_millis(1000), "not before the presence timeout");
    bob.quiet(2500).await; // announced once
    // ann reconnects to the survivor and resumes; she sees her own leave and her new join.
    let mut ann = Client::with_token(cluster.node(1), &token).await;
    let ack = ann.ok("join", json!({"room": "wake", "since": leave["seq"].as_i64().unwrap() - 1})).await;
    assert_eq!(ack["complete"], true);
    let first = ann.event().await;
    assert_eq!(first["seq"], leave["seq"]);
    let rejoin = bob.event_of("join").await;
    assert_eq!(rejoin["actor"]["id"], ann_id.as_str());
}

/// Redis cut off for a while: sends are still acknowledged (the database is the source of truth),
/// members on the same node still get them live, and once Redis is back the other node catches up
/// from the database: nothing lost, nothing duplicated, in order.
// Multi-threaded: starting a node blocks this thread while the proxy must accept its connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_loses_nothing() {
    let proxy = TcpProxy::start(&redis_addr()).await;
    let cluster = Cluster::start(2, &proxy.addr.to_string(), &["--requests-per-second", "0", "--redis-backoff-max-ms", "500"]);
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut ann = Client::guest(a, "ann").await;
    ann.ok("create_room", json!({"room": "storm"})).await;
    let ann_top = ann.join("storm").await["top_seq"].as_i64().unwrap();
    let mut bob = Client::guest(b, "bob").await;
    let bob_top = bob.join("storm").await["top_seq"].as_i64().unwrap();

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..10 {
        bob.say("storm", &format!("during {i}")).await;
    }
    // bob's own node delivers at once; ann's cannot hear of it yet.
    let bob_seen = messages_in_order(&mut bob, bob_top, 10).await;
    assert_eq!(bob_seen, (0..10).map(|i| format!("during {i}")).collect::<Vec<_>>());
    proxy.restore();
    // Catching up from the database (after a join event for bob, which ann's node may see first).
    let seen = messages_in_order(&mut ann, ann_top, 10).await;
    assert_eq!(seen, bob_seen);
    bob.say("storm", "after").await;
    let after = ann.event_of("message").await;
    assert_eq!(after["message"]["content"]["text"], "after");
    ann.quiet(300).await;
}
