//! Graceful shutdown, against real `confab` processes: SIGTERM while clients of both protocols have
//! sends in flight. Each send is answered (stored and acknowledged, or `unavailable`) or never read;
//! nothing acknowledged is lost; connections close with 1001 `going_away` (Socket.IO: its Engine.IO
//! session closes, a pending poll gets the close packet); everyone in a room gets a `disconnected`
//! leave before the exit; the process exits 0; and the next start finds nobody left listed.
//! In a cluster, the other nodes see a stopping node's people leave at once.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::cluster::{redis_addr, Cluster};
use support::{eio_open, eio_post, http_at, polling, Client, Server, SioWs};

/// Every event of `room` in log order, read by a fresh guest through `history`.
async fn whole_log(server: &Server, room: &str) -> Vec<Value> {
    let mut reader = Client::guest(server, "reader").await;
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = reader.ok("history", json!({"room": room, "after": after, "limit": 200})).await;
        let got = page["events"].as_array().expect("events").clone();
        if let Some(last) = got.last() {
            after = last["seq"].as_i64().expect("seq");
        }
        events.extend(got);
        if page["more"] != true {
            return events;
        }
    }
}

/// The `disconnected` leaves in the log, by actor id, and whether each came after the actor's
/// last join.
fn leaves_by_actor(log: &[Value]) -> HashMap<String, usize> {
    let mut leaves = HashMap::new();
    for e in log.iter().filter(|e| e["kind"] == "leave") {
        assert_eq!(e["reason"], "disconnected", "a shutdown's leave: {e}");
        *leaves.entry(e["actor"]["id"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    leaves
}

/// The top sequence after the restart's grace period has passed: unchanged means the grace pass
/// (Chat::recover_listed) found nobody listed.
async fn top_after_grace(server: &Server, room: &str, before: i64) {
    tokio::time::sleep(Duration::from_millis(1200)).await; // the tests' leave grace is 300 ms
    let log = whole_log(server, room).await;
    let top = log.last().and_then(|e| e["seq"].as_i64()).unwrap_or(0);
    assert_eq!(top, before, "nothing appended after the restart: nobody was left listed ({:?})", log.last());
}

/// SIGTERM while a native client has a thousand sends in flight: each answered send was stored
/// (acks) or is answered `unavailable`; the answers come before the 1001 close; every acknowledged
/// message is in the log exactly once after a restart; both members have one `disconnected` leave;
/// the process exits 0; and the restart appends nothing (nobody listed).
#[tokio::test]
async fn sigterm_answers_sends_in_flight_then_closes_going_away_and_leaves_everyone() {
    let mut server = Server::start(&["--requests-per-second", "0", "--shutdown-timeout-ms", "5000"]);
    let room = "halt";
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": room})).await;
    ann.join(room).await;
    let mut bob = Client::guest(&server, "bob").await;
    bob.join(room).await;
    let sent = 1000;
    for i in 0..sent {
        let frame = json!({"type": "send", "id": 10_000 + i, "room": room, "text": format!("m{i}"), "client_id": format!("c{i}")});
        ann.send_text(&frame.to_string()).await;
    }
    server.signal_term();
    let mut acked: Vec<(u64, i64)> = Vec::new();
    let mut unavailable = 0;
    let close = loop {
        let v = ann.recv().await;
        match v["type"].as_str() {
            Some("ack") if v["id"].as_u64().is_some_and(|id| id >= 10_000) => {
                acked.push((v["id"].as_u64().unwrap() - 10_000, v["seq"].as_i64().expect("seq")))
            }
            Some("error") => {
                assert_eq!(v["code"], "unavailable", "{v}");
                unavailable += 1;
            }
            Some("closed") => break v,
            _ => {}
        }
    };
    assert_eq!(close["code"], 1001, "{close}");
    assert_eq!(close["reason"], "going_away");
    let bob_close = loop {
        let v = bob.recv().await;
        if v["type"] == "closed" {
            break v;
        }
    };
    assert_eq!(bob_close["code"], 1001, "{bob_close}");
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0), "a graceful stop exits 0");
    assert!(!acked.is_empty(), "some sends were acknowledged");
    // Answers come in the order of the sends, and each send is answered at most once.
    assert!(acked.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "acks in order");
    eprintln!("of {sent} sends: {} acknowledged, {unavailable} unavailable, {} never read", acked.len(), sent as usize - acked.len() - unavailable);

    let server = server.start_again();
    let log = whole_log(&server, room).await;
    let mut stored: HashMap<String, i64> = HashMap::new();
    for e in log.iter().filter(|e| e["kind"] == "message") {
        let cid = e["message"]["client_id"].as_str().unwrap_or_default().to_string();
        assert!(stored.insert(cid, e["seq"].as_i64().unwrap()).is_none(), "stored twice: {e}");
    }
    for (i, seq) in &acked {
        assert_eq!(stored.get(&format!("c{i}")), Some(seq), "acknowledged message c{i} is in the log at its seq");
    }
    let leaves = leaves_by_actor(&log);
    assert_eq!(leaves.get(&ann.id()), Some(&1), "ann's leave, once: {leaves:?}");
    assert_eq!(leaves.get(&bob.id()), Some(&1), "bob's leave, once: {leaves:?}");
    let last_message = log.iter().filter(|e| e["kind"] == "message").map(|e| e["seq"].as_i64().unwrap()).max().unwrap();
    assert!(
        log.iter().filter(|e| e["kind"] == "leave").all(|e| e["seq"].as_i64().unwrap() > last_message),
        "the leaves come after every stored message"
    );
    let top = log.last().unwrap()["seq"].as_i64().unwrap();
    top_after_grace(&server, room, top).await;
    // Coming back is a new join, since the leave was logged.
    let mut ann = Client::with_token(&server, &ann.token()).await;
    let mut carol = Client::guest(&server, "carol").await;
    carol.join(room).await;
    ann.join(room).await;
    // (carol's own join may come first: a joiner sees its own join live.)
    let join = loop {
        let join = carol.event_of("join").await;
        if join["actor"]["id"] != carol.id().as_str() {
            break join;
        }
    };
    assert_eq!(join["actor"]["id"], ann.id().as_str());
}

/// SIGTERM with Socket.IO clients: one on the WebSocket transport with acknowledged sends in flight
/// gets every answer before the transport closes with 1001, and one long-polling gets the Engine.IO
/// close packet (`1`) on its pending poll, so both reconnect by themselves; both get their leave,
/// and every acknowledged message is stored.
#[tokio::test]
async fn sigterm_answers_socketio_sends_and_closes_both_transports() {
    let mut server = Server::start(&["--requests-per-second", "0", "--shutdown-timeout-ms", "5000"]);
    let room = "sio-halt";
    let mut sue = SioWs::connect(&server, None).await;
    let joined = sue.call(1, "join_room", json!({"room": room, "user": "sue"})).await;
    assert_eq!(joined["ok"], false, "no such room yet: {joined}");
    sue.call(2, "create_room", json!(room)).await;
    let joined = sue.call(3, "join_room", json!({"room": room, "user": "sue"})).await;
    assert_eq!(joined["ok"], true, "{joined}");

    // A polling client in a room of its own (so that sue's messages do not end its polls), with a
    // poll pending when the signal comes.
    let quiet_room = "sio-halt-quiet";
    sue.call(4, "create_room", json!(quiet_room)).await;
    let (sid, _) = eio_open(&server).await;
    assert_eq!(eio_post(&server, &sid, "40").await.status, 200);
    let join = format!("421{}", json!(["join_room", {"room": quiet_room, "user": "pat"}]));
    assert_eq!(eio_post(&server, &sid, &join).await.status, 200);
    let addr = server.addr.clone();
    // Polls until one ends with the close packet (what comes before it, the CONNECT answer, the
    // join's ack, lobby updates, is read on the way).
    let pending_poll = tokio::spawn(async move {
        loop {
            let r = http_at(&addr, "GET", &polling(&sid), &[], b"").await;
            if r.status != 200 || r.text().ends_with('1') {
                return r;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sent = 500u64;
    for i in 0..sent {
        let payload = json!(["send_message", {"room": room, "message": format!("s{i}"), "message_id": format!("sid-{i}")}]);
        sue.send(&format!("42{}{payload}", 100 + i)).await;
    }
    server.signal_term();
    let mut acked = Vec::new();
    let close = loop {
        let p = sue.recv().await;
        if p.starts_with("closed") {
            break p;
        }
        if let Some(rest) = p.strip_prefix("43") {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let ack: u64 = digits.parse().unwrap();
            let args: Value = serde_json::from_str(&rest[digits.len()..]).unwrap();
            if ack >= 100 {
                if args[0]["ok"] == true {
                    acked.push((ack - 100, args[0]["message_id"].clone()));
                } else {
                    assert_eq!(args[0]["error"]["code"], "unavailable", "{p}");
                }
            }
        }
    };
    assert_eq!(close, "closed 1001", "the WebSocket transport closes going away");
    let last_poll = pending_poll.await.unwrap();
    assert_eq!(last_poll.status, 200);
    assert!(last_poll.text().ends_with('1'), "the pending poll ends with the close packet: {:?}", last_poll.text());
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(!acked.is_empty());
    assert!(acked.windows(2).all(|w| w[0].0 < w[1].0), "acks in order");

    let server = server.start_again();
    let log = whole_log(&server, room).await;
    for (i, mid) in &acked {
        assert_eq!(mid, &json!(format!("sid-{i}")), "the ack names the client's message id");
        let n = log.iter().filter(|e| e["message"]["client_id"] == json!(format!("sid-{i}"))).count();
        assert_eq!(n, 1, "acknowledged message sid-{i} stored once");
    }
    let leaves = leaves_by_actor(&log);
    assert_eq!(leaves.len(), 1, "sue leaves once: {leaves:?}");
    assert!(leaves.values().all(|n| *n == 1));
    let quiet_log = whole_log(&server, quiet_room).await;
    let pat_leaves = leaves_by_actor(&quiet_log);
    assert_eq!(pat_leaves.values().copied().collect::<Vec<_>>(), [1], "pat, polling, leaves once: {pat_leaves:?}");
    let top = log.last().unwrap()["seq"].as_i64().unwrap();
    top_after_grace(&server, room, top).await;
}

/// A node stopped with SIGTERM departs its people from the cluster's roster: a member on another
/// node sees their `disconnected` leave at once, long before the presence timeout (30 s here), and
/// exactly once; the stopped node exits 0.
#[tokio::test]
async fn a_stopping_node_departs_its_people_at_once() {
    let mut cluster = Cluster::start(2, &redis_addr(), &["--presence-timeout-ms", "30000"]);
    let mut ann = Client::guest(cluster.node(0), "ann").await;
    ann.ok("create_room", json!({"room": "depart"})).await;
    ann.join("depart").await;
    let mut bob = Client::guest(cluster.node(1), "bob").await;
    bob.join("depart").await;
    let ann_id = ann.id();
    let started = tokio::time::Instant::now();
    assert_eq!(cluster.terminate(0), Some(0));
    let leave = bob.event_of("leave").await;
    assert_eq!(leave["actor"]["id"], ann_id.as_str());
    assert_eq!(leave["reason"], "disconnected");
    assert!(started.elapsed() < Duration::from_secs(10), "at once, not after the presence timeout: {:?}", started.elapsed());
    bob.quiet(1500).await; // once
    let members = bob.ok("join", json!({"room": "depart"})).await;
    let names: Vec<&str> = members["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob"], "the cluster's member list agrees");
}

/// The deadline end to end: PostgreSQL stops answering (a proxy that stops forwarding but keeps
/// the connections open) while a send on `/ws`, one on Socket.IO and a `POST /api/rooms` wait for
/// it; SIGTERM arrives; each is answered `unavailable` (HTTP 503, a failed Socket.IO ack) at `--shutdown-timeout-ms` (not before: nothing else could answer them, the
/// database's own timeout being longer), the process exits within the deadline plus a margin, and
/// the send was not stored (its transaction never reached PostgreSQL), while the message
/// acknowledged before is there. (Multi-threaded: the proxy's tasks run while the test blocks on
/// the server's start.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_cannot_commit_by_the_deadline_is_answered_unavailable_and_the_process_exits() {
    const DEADLINE_MS: u64 = 1500;
    let proxy = support::cluster::TcpProxy::start("127.0.0.1:5432").await;
    let deadline = DEADLINE_MS.to_string();
    let args = ["--shutdown-timeout-ms", deadline.as_str(), "--database-timeout-ms", "60000", "--requests-per-second", "0"];
    let mut server = Server::start_on_postgres_via(&proxy.addr.to_string(), &args);
    let room = support::room("deadline");
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": room, "create": true})).await;
    ann.say(&room, "stored before").await;
    let mut sue = SioWs::connect(&server, Some(&ann.token())).await;
    assert_eq!(sue.call(1, "join_room", json!({"room": room})).await["ok"], true);

    proxy.pause();
    sue.send(&format!("422{}", json!(["send_message", {"room": room, "message": "from socket.io in flight", "message_id": "sio-in-flight"}]))).await;
    ann.send_text(&json!({"type": "send", "id": 900, "room": room, "text": "in flight", "client_id": "in-flight-1"}).to_string()).await;
    // And over HTTP: a room created while the store does not answer.
    let (addr, auth) = (server.addr.clone(), format!("Bearer {}", ann.token()));
    let http_request = tokio::spawn(async move {
        let body = json!({"name": "never-created"}).to_string();
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        let r = http_at(&addr, "POST", "/api/rooms", &headers, body.as_bytes()).await;
        (r.status, r.json()["error"]["code"].clone())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    server.signal_term();
    let answer = ann.answer(900).await;
    let answered = signalled.elapsed();
    assert_eq!((answer["type"].as_str(), answer["code"].as_str()), (Some("error"), Some("unavailable")), "{answer}");
    assert!(answered >= Duration::from_millis(DEADLINE_MS - 200), "answered at the deadline, not before: {answered:?}");
    assert_eq!(http_request.await.unwrap(), (503, json!("unavailable")), "the HTTP request in flight is answered too");
    let acked = sue.ack(2).await;
    assert_eq!((acked["ok"].as_bool(), acked["error"]["code"].as_str()), (Some(false), Some("unavailable")), "Socket.IO: {acked}");
    let margin = Duration::from_millis(DEADLINE_MS + 3000);
    server.wait_exit(margin);
    let exited = signalled.elapsed();
    assert!(exited < margin, "the process exited within the deadline plus a margin: {exited:?}");
    eprintln!("deadline {DEADLINE_MS} ms: answered unavailable after {answered:?}, exited after {exited:?}");

    // The held connections close: PostgreSQL ends their sessions (nothing of the send reached it).
    proxy.cut();
    let server = server.start_again();
    let texts: Vec<Value> =
        whole_log(&server, &room).await.iter().filter(|e| e["kind"] == "message").map(|e| e["message"]["content"]["text"].clone()).collect();
    assert_eq!(texts, vec![json!("stored before")], "the unacknowledged send was not stored");
    let mut c = Client::guest(&server, "auditor").await;
    let rooms = c.ok("rooms", json!({"subscribe": false})).await;
    assert!(!rooms.to_string().contains("never-created"), "the room answered unavailable was not created: {rooms}");
}
