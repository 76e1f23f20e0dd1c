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

/// PostgreSQL unreachable: sends are answered with a clear `unavailable` error (nothing is
/// acknowledged that is not stored), and once the database is back the same node takes sends again
/// without a restart; the log holds exactly what was acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_and_survived() {
    let pg = TcpProxy::start("127.0.0.1:5432").await;
    let cluster = Cluster::start_via(
        2,
        &redis_addr(),
        Some(&pg.addr.to_string()),
        &["--requests-per-second", "0", "--database-timeout-ms", "1000"],
    );
    let mut ann = Client::guest(cluster.node(0), "ann").await;
    ann.ok("create_room", json!({"room": "dark"})).await;
    ann.join("dark").await;
    let mut bob = Client::guest(cluster.node(1), "bob").await;
    bob.join("dark").await;
    let before = bob.say("dark", "before").await["seq"].as_i64().unwrap();

    pg.cut();
    let mut refused = 0;
    for i in 0..5 {
        let answer = bob.request("send", json!({"room": "dark", "text": format!("during {i}")})).await;
        if answer["type"] == "error" {
            assert_eq!(answer["code"], "unavailable", "{answer}");
            refused += 1;
        }
    }
    assert_eq!(refused, 5, "nothing is acknowledged while the database is away");
    pg.restore();
    let mut after = None;
    for _ in 0..50 {
        let answer = bob.request("send", json!({"room": "dark", "text": "after"})).await;
        if answer["type"] == "ack" {
            after = answer["seq"].as_i64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = after.expect("sends are taken again once the database is back");
    assert_eq!(after, before + 1, "refused sends consumed no sequence number");
    let history = ann.ok("history", json!({"room": "dark", "after": 0, "limit": 50})).await;
    let texts: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| e["message"]["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before", "after"]);
}

/// A leave made while Redis is unreachable cannot be counted in the cluster's roster at once; it
/// waits in the node's departure queue and is announced once Redis answers again, exactly once, so
/// the member list and the log agree after the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_during_a_redis_outage_is_announced_when_redis_is_back() {
    let proxy = TcpProxy::start(&redis_addr()).await;
    let cluster = Cluster::start(
        2,
        &proxy.addr.to_string(),
        &["--requests-per-second", "0", "--redis-backoff-max-ms", "300", "--departure-retry-ms", "200"],
    );
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut ann = Client::guest(a, "ann").await;
    ann.ok("create_room", json!({"room": "outage"})).await;
    ann.join("outage").await;
    let mut bob = Client::guest(b, "bob").await;
    let joined = bob.join("outage").await;
    let names = |v: &Value| -> Vec<String> {
        v["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&joined), ["ann", "bob"]);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    ann.ok("leave", json!({"room": "outage"})).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.restore();

    let leave = tokio::time::timeout(Duration::from_secs(10), bob.event_of("leave")).await.expect("the leave is announced");
    assert_eq!(leave["actor"]["name"], "ann", "{leave}");
    // Node 1's own roster connection may still be coming back: its first joins can be `unavailable`.
    let mut carol = Client::guest(b, "carol").await;
    let mut tries = 0;
    let listed = loop {
        let answer = carol.request("join", json!({"room": "outage"})).await;
        if answer["type"] == "ack" || tries == 20 {
            break answer;
        }
        assert_eq!(answer["code"], "unavailable", "{answer}");
        tries += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(names(&listed), ["bob", "carol"], "the member list agrees with the log: {listed}");
    // Once: no second leave (bob sees carol's join and nothing about ann).
    let next = bob.event().await;
    assert_eq!((next["kind"].as_str(), next["actor"]["name"].as_str()), (Some("join"), Some("carol")), "{next}");
    bob.quiet(500).await;
}

/// Socket.IO connection state recovery across nodes, on the raw protocol: a socket connected to
/// node 0 loses its connection (dropped, no close), messages are sent meanwhile on node 1, and the
/// client's CONNECT to node 1 with `{pid, offset}` is answered with the same pid, followed by
/// exactly the missed messages, once, in order, each with its offset, then live ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socketio_client_recovers_on_another_node() {
    let cluster = Cluster::start(
        2,
        &redis_addr(),
        &["--requests-per-second", "0", "--socketio-recovery-ms", "5000", "--leave-grace-ms", "5000"],
    );
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut bob = Client::guest(b, "bob").await;
    bob.ok("create_room", json!({"room": "relay"})).await;
    bob.join("relay").await;

    let mut sio = SioWs::open(a).await;
    sio.send("40").await;
    let connect = sio.recv().await;
    let answer: Value = serde_json::from_str(connect.strip_prefix("40").expect("CONNECT answer")).unwrap();
    let pid = answer["pid"].as_str().expect("a pid with recovery on").to_string();
    let joined = sio.call(1, "join_room", json!({"room": "relay", "user": "sam"})).await;
    assert_eq!(joined["ok"], true, "{joined}");
    bob.say("relay", "seen").await;
    // The last event the client processed, with its offset (its last argument).
    let offset = loop {
        let p = sio.recv().await;
        let Some(rest) = p.strip_prefix("42") else { continue };
        let v: Value = serde_json::from_str(rest).unwrap();
        if v[0] == "room_message" && v[1]["message"] == "seen" {
            let offset = v[2].as_str().expect("an offset").to_string();
            assert_eq!(offset, format!("{}:{}", offset.split(':').next().unwrap(), v[1]["seq"]));
            break offset;
        }
    };
    drop(sio);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..5 {
        bob.say("relay", &format!("missed {i}")).await;
    }

    let mut back = SioWs::open(b).await;
    back.send(&format!("40{}", json!({"pid": pid, "offset": offset}))).await;
    let connect = back.recv().await;
    let answer: Value = serde_json::from_str(connect.strip_prefix("40").expect("CONNECT answer")).unwrap();
    assert_eq!(answer["pid"], pid.as_str(), "the same pid: socket.recovered on the client");
    bob.say("relay", "live").await;
    let mut texts = Vec::new();
    let mut seqs = Vec::new();
    while texts.last().map(String::as_str) != Some("live") {
        let p = back.recv().await;
        assert!(!p.starts_with("closed"), "{p}");
        let Some(rest) = p.strip_prefix("42") else { continue };
        let v: Value = serde_json::from_str(rest).unwrap();
        if v[0] != "room_message" {
            continue;
        }
        assert_eq!(v[2].as_str(), Some(format!("{}:{}", offset.split(':').next().unwrap(), v[1]["seq"]).as_str()), "{v}");
        assert_ne!(v[1]["user"], "System", "no join or leave notice for a recovered socket: {v}");
        texts.push(v[1]["message"].as_str().unwrap().to_string());
        seqs.push(v[1]["seq"].as_i64().unwrap());
    }
    let want: Vec<String> = (0..5).map(|i| format!("missed {i}")).chain(["live".to_string()]).collect();
    assert_eq!(texts, want, "exactly the missed messages, once, in order, then live");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap-free: {seqs:?}");
    // The restored socket is still sam in the room: it may send there without joining again.
    let sent = back.call(2, "send_message", json!({"room": "relay", "message": "back", "message_id": "b-1"})).await;
    assert_eq!(sent["ok"], true, "{sent}");
}
