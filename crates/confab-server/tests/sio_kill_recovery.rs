//! Socket.IO connection state recovery after the node a socket was on is killed with `kill -9`: real
//! `confab` processes sharing PostgreSQL and Redis. The socket's record is held in Redis while it
//! lives, so a survivor finds it although the dead node wrote nothing at the end, and the offset the
//! client kept places it in every one of its rooms. On both Engine.IO transports; a revoked
//! credential is not recovered; a pid whose socket still lives is not recovered a second time.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::accounts;
use support::cluster::{redis_addr, Cluster};
use support::{eio_open, Client, Server, SioWs, WAIT};

const ARGS: &[&str] = &[
    "--requests-per-second",
    "0",
    "--socketio-recovery-ms",
    "10000",
    "--socketio-recovery-refresh-ms",
    "1000",
    "--leave-grace-ms",
    "10000",
];

/// A Socket.IO client on either transport, raw: Engine.IO and Socket.IO packets as text.
enum Sio {
    Ws(Box<SioWs>),
    Poll { addr: String, sid: String, pending: std::collections::VecDeque<String> },
}

impl Sio {
    async fn open(server: &Server, polling: bool) -> Sio {
        if polling {
            let (sid, _) = eio_open(server).await;
            Sio::Poll { addr: server.addr.clone(), sid, pending: Default::default() }
        } else {
            Sio::Ws(Box::new(SioWs::open(server).await))
        }
    }

    async fn send(&mut self, text: &str) {
        match self {
            Sio::Ws(ws) => ws.send(text).await,
            Sio::Poll { addr, sid, .. } => {
                let r = support::http_at(addr, "POST", &support::polling(sid), &[("Content-Type", "text/plain;charset=UTF-8")], text.as_bytes()).await;
                assert_eq!(r.status, 200, "POST {text}: {}", r.text());
            }
        }
    }

    /// The next packet (pings answered); `closed` once the session is gone.
    async fn recv(&mut self) -> String {
        match self {
            Sio::Ws(ws) => ws.recv().await,
            Sio::Poll { addr, sid, pending } => loop {
                if let Some(p) = pending.pop_front() {
                    if p == "2" {
                        let r = support::http_at(addr, "POST", &support::polling(sid), &[], b"3").await;
                        assert_eq!(r.status, 200);
                        continue;
                    }
                    return p;
                }
                let path = support::polling(sid);
                let r = tokio::time::timeout(WAIT, support::http_at(addr, "GET", &path, &[], b"")).await.expect("timed out polling");
                if r.status != 200 {
                    return format!("closed {}", r.status);
                }
                pending.extend(r.text().split('\u{1e}').map(str::to_string));
            },
        }
    }

    /// CONNECTs with `auth`; the CONNECT answer's JSON (`sid`, `pid`).
    async fn connect(&mut self, auth: Value) -> Value {
        self.send(&format!("40{auth}")).await;
        loop {
            let p = self.recv().await;
            assert!(!p.starts_with("closed") && !p.starts_with("44"), "CONNECT refused: {p}");
            if let Some(rest) = p.strip_prefix("40") {
                return serde_json::from_str(rest).expect("CONNECT answer JSON");
            }
        }
    }

    /// Emits with an acknowledgement and returns the ack's first argument; room messages that arrive
    /// first are kept for [`Sio::messages`].
    async fn call(&mut self, ack: u64, name: &str, payload: Value, seen: &mut Vec<Msg>) -> Value {
        self.send(&format!("42{ack}{}", json!([name, payload]))).await;
        let prefix = format!("43{ack}[");
        loop {
            let p = self.recv().await;
            assert!(!p.starts_with("closed"), "closed while waiting for ack {ack}: {p}");
            if let Some(rest) = p.strip_prefix(&prefix) {
                let args: Value = serde_json::from_str(&format!("[{rest}")).expect("ack JSON");
                return args[0].clone();
            }
            seen.extend(Msg::of(&p));
        }
    }

    /// Reads room messages into `seen` until `done` holds.
    async fn messages(&mut self, seen: &mut Vec<Msg>, done: impl Fn(&[Msg]) -> bool) {
        while !done(seen) {
            let p = self.recv().await;
            assert!(!p.starts_with("closed"), "closed while reading messages: {p}; saw {seen:?}");
            seen.extend(Msg::of(&p));
        }
    }
}

/// A `room_message` as the client got it.
#[derive(Debug, Clone)]
struct Msg {
    room: String,
    text: String,
    seq: i64,
    system: bool,
    /// The offset (last argument), when recovery is on.
    offset: Option<String>,
}

impl Msg {
    fn of(packet: &str) -> Option<Msg> {
        let v: Value = serde_json::from_str(packet.strip_prefix("42")?).ok()?;
        if v[0] != "room_message" {
            return None;
        }
        Some(Msg {
            room: v[1]["room"].as_str()?.to_string(),
            text: v[1]["message"].as_str()?.to_string(),
            seq: v[1]["seq"].as_i64()?,
            system: v[1]["user"] == "System",
            offset: v[2].as_str().map(str::to_string),
        })
    }
}

fn texts(seen: &[Msg], room: &str) -> Vec<String> {
    seen.iter().filter(|m| m.room == room && !m.system).map(|m| m.text.clone()).collect()
}

/// Node 0 holds a Socket.IO client in two rooms (`r1`, `r2`), which has seen four messages sent
/// alternately to both; bob writes on node 1. Returns the cluster, bob, the client's token, pid and
/// the offset of the last event it processed.
struct Scene {
    cluster: Cluster,
    bob: Client,
    token: String,
    pid: String,
    offset: String,
    /// The client's actor id.
    me: String,
    seen: Vec<Msg>,
}

/// The client is returned still connected: a test kills its node first, so that node 0 never sees the
/// connection lost (and never writes a final record).
async fn scene(polling: bool, name: &str) -> (Scene, Sio) {
    let cluster = Cluster::start(2, &redis_addr(), ARGS);
    let mut bob = Client::guest(cluster.node(1), "bob").await;
    for r in ["r1", "r2"] {
        bob.ok("create_room", json!({"room": r})).await;
        bob.join(r).await;
    }
    let account = accounts::register(cluster.node(1), name, "a long enough password").await;
    let token = account["token"].as_str().expect("token").to_string();
    let me = account["user"]["id"].as_str().expect("user id").to_string();
    let mut sio = Sio::open(cluster.node(0), polling).await;
    let answer = sio.connect(json!({"token": token})).await;
    let pid = answer["pid"].as_str().expect("a pid with recovery on").to_string();
    let mut seen = Vec::new();
    for (i, r) in ["r1", "r2"].into_iter().enumerate() {
        let joined = sio.call(i as u64 + 1, "join_room", json!({"room": r}), &mut seen).await;
        assert_eq!(joined["ok"], true, "{joined}");
    }
    for i in 0..4 {
        bob.say(if i % 2 == 0 { "r1" } else { "r2" }, &format!("before {i}")).await;
    }
    sio.messages(&mut seen, |s| s.iter().filter(|m| !m.system && m.text.starts_with("before")).count() == 4).await;
    let last = seen.iter().rev().find(|m| m.text == "before 3").expect("the last message seen");
    let offset = last.offset.clone().expect("an offset");
    // In two rooms, the offset names both: the event's own room first.
    assert_eq!(offset.split(',').count(), 2, "{offset}");
    assert!(offset.starts_with(&format!("{}:{},", offset.split(':').next().unwrap(), last.seq)), "{offset}");
    (Scene { cluster, bob, token, pid, offset, me, seen }, sio)
}

/// Kills node 0 with SIGKILL, sends three messages to each room on node 1 (interleaved), reconnects
/// the client to node 1 on `polling` or WebSocket with its pid and offset, and checks it is
/// recovered with exactly what it missed in each room, once, in order, then live events.
async fn killed_and_recovered(polling: bool) {
    let (Scene { mut cluster, mut bob, token, pid, offset, .. }, sio) = scene(polling, if polling { "pam" } else { "wes" }).await;
    cluster.kill(0);
    drop(sio);
    for i in 0..6 {
        bob.say(if i % 3 == 0 { "r2" } else { "r1" }, &format!("missed {i}")).await;
    }
    let mut back = Sio::open(cluster.node(1), polling).await;
    let answer = back.connect(json!({"token": token, "pid": pid, "offset": offset})).await;
    assert_eq!(answer["pid"], pid.as_str(), "the same pid: socket.recovered on the client");
    bob.say("r1", "live r1").await;
    bob.say("r2", "live r2").await;
    let mut seen = Vec::new();
    back.messages(&mut seen, |s| ["live r1", "live r2"].iter().all(|t| s.iter().any(|m| m.text == *t))).await;
    assert_eq!(texts(&seen, "r1"), ["missed 1", "missed 2", "missed 4", "missed 5", "live r1"], "{seen:?}");
    assert_eq!(texts(&seen, "r2"), ["missed 0", "missed 3", "live r2"], "{seen:?}");
    assert!(seen.iter().all(|m| !m.system), "the member never left: no leave or join notice: {seen:?}");
    // Each room's events once, gap-free, each offset naming its own event first.
    let mut ids: HashMap<String, String> = HashMap::new();
    for room in ["r1", "r2"] {
        let seqs: Vec<i64> = seen.iter().filter(|m| m.room == room).map(|m| m.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{room}: {seqs:?}");
    }
    for m in &seen {
        let offset = m.offset.as_deref().expect("an offset");
        let first = offset.split(',').next().unwrap();
        let (id, seq) = first.split_once(':').unwrap();
        assert_eq!(seq, m.seq.to_string(), "{offset}");
        assert_eq!(ids.entry(m.room.clone()).or_insert_with(|| id.to_string()), id, "one id per room");
    }
    // Both rooms rejoined and live: an event in either names both rooms' positions.
    bob.say("r1", "end").await;
    back.messages(&mut seen, |s| s.iter().any(|m| m.text == "end")).await;
    let end = seen.last().expect("the end message");
    assert_eq!(end.offset.as_deref().map(|o| o.split(',').count()), Some(2), "{end:?}");
    // Still in both rooms as itself: it sends without joining again.
    let sent = back.call(9, "send_message", json!({"room": "r2", "message": "back", "message_id": "b-1"}), &mut seen).await;
    assert_eq!(sent["ok"], true, "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_a_killed_node_recovers_on_a_survivor_over_websocket() {
    killed_and_recovered(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_a_killed_node_recovers_on_a_survivor_over_polling() {
    killed_and_recovered(true).await;
}

/// Signed out while its node was dead: the pid stood for that session, so it is not recovered (a
/// fresh pid, nothing replayed), though the record is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_is_not_recovered_after_kill() {
    let (Scene { mut cluster, mut bob, token, pid, offset, .. }, sio) = scene(false, "rev").await;
    cluster.kill(0);
    drop(sio);
    bob.say("r1", "missed").await;
    let out = accounts::call(cluster.node(1), "POST", "/api/auth/logout", Some(&token), None).await;
    assert_eq!(out.status, 204, "{}", out.text());
    let mut back = Sio::open(cluster.node(1), false).await;
    let answer = back.connect(json!({"pid": pid, "offset": offset})).await;
    assert_ne!(answer["pid"], pid.as_str(), "not recovered: {answer}");
    assert!(answer["pid"].is_string(), "a fresh pid: {answer}");
    bob.say("r1", "after").await;
    let Sio::Ws(ws) = &mut back else { unreachable!() };
    let quiet = tokio::time::timeout(Duration::from_millis(800), async {
        loop {
            let p = ws.recv().await;
            if let Some(m) = Msg::of(&p) {
                return m;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a socket not recovered is in no room: {quiet:?}");
}

/// A pid presented to another node while its socket still lives (a leaked pid, or a client that did
/// not notice its connection was alive) is not recovered there: one pid, one live socket. The
/// original socket goes on, and stays recoverable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_whose_socket_lives_is_not_recovered_elsewhere() {
    let cluster = Cluster::start(2, &redis_addr(), ARGS);
    let mut bob = Client::guest(cluster.node(1), "bob").await;
    bob.ok("create_room", json!({"room": "r1"})).await;
    bob.join("r1").await;
    let mut sio = Sio::open(cluster.node(0), false).await;
    let pid = sio.connect(json!({})).await["pid"].as_str().expect("pid").to_string();
    let mut seen = Vec::new();
    assert_eq!(sio.call(1, "join_room", json!({"room": "r1", "user": "sam"}), &mut seen).await["ok"], true);
    let mut other = Sio::open(cluster.node(1), true).await;
    let answer = other.connect(json!({"pid": pid})).await;
    assert_ne!(answer["pid"], pid.as_str(), "not a second live socket for the pid: {answer}");
    bob.say("r1", "still here").await;
    sio.messages(&mut seen, |s| s.iter().any(|m| m.text == "still here")).await;
    let offset = seen.iter().find(|m| m.text == "still here").and_then(|m| m.offset.clone()).expect("offset");
    // The original is still the holder: lost now, it is recovered.
    drop(sio);
    bob.say("r1", "missed").await;
    let mut back = Sio::open(cluster.node(1), false).await;
    let mut answer = json!({});
    for _ in 0..20 {
        // The loss reaches node 0 as the TCP close; its final record follows within moments.
        answer = back.connect(json!({"pid": pid, "offset": offset})).await;
        if answer["pid"] == pid.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        back = Sio::open(cluster.node(1), false).await;
    }
    assert_eq!(answer["pid"], pid.as_str(), "recovered once its socket is gone: {answer}");
    let mut seen = Vec::new();
    back.messages(&mut seen, |s| s.iter().any(|m| m.text == "missed")).await;
    assert_eq!(texts(&seen, "r1"), ["missed"]);
}

/// Killed twice: recovered on node 1 after node 0 was killed, the socket holds its record there in
/// turn; node 0 comes back, node 1 is killed, and the socket recovers on node 0 with exactly what it
/// missed since its second life.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovered_socket_survives_a_second_kill() {
    let (Scene { mut cluster, mut bob, token, pid, offset, .. }, sio) = scene(false, "twice").await;
    cluster.kill(0);
    drop(sio);
    bob.say("r1", "first r1").await;
    bob.say("r2", "first r2").await;
    let mut back = Sio::open(cluster.node(1), false).await;
    let answer = back.connect(json!({"token": token, "pid": pid, "offset": offset})).await;
    assert_eq!(answer["pid"], pid.as_str(), "recovered on node 1");
    let mut seen = Vec::new();
    back.messages(&mut seen, |s| ["first r1", "first r2"].iter().all(|t| s.iter().any(|m| m.text == *t))).await;
    bob.say("r1", "second r1").await;
    back.messages(&mut seen, |s| s.iter().any(|m| m.text == "second r1")).await;
    let offset = seen.last().and_then(|m| m.offset.clone()).expect("the last offset");
    assert_eq!(texts(&seen, "r1"), ["first r1", "second r1"]);
    assert_eq!(texts(&seen, "r2"), ["first r2"]);

    cluster.start_node(0);
    drop(bob);
    cluster.kill(1);
    drop(back);
    let mut carol = Client::guest(cluster.node(0), "carol").await;
    for r in ["r1", "r2"] {
        carol.join(r).await;
    }
    carol.say("r2", "third r2").await;
    carol.say("r1", "third r1").await;
    let mut again = Sio::open(cluster.node(0), false).await;
    let answer = again.connect(json!({"token": token, "pid": pid, "offset": offset})).await;
    assert_eq!(answer["pid"], pid.as_str(), "recovered on node 0 from the record node 1 held");
    let mut seen = Vec::new();
    again.messages(&mut seen, |s| ["third r1", "third r2"].iter().all(|t| s.iter().any(|m| m.text == *t))).await;
    // carol's joins are in the rooms' logs too (System notices); the messages are exactly the new ones.
    assert_eq!(texts(&seen, "r1"), ["third r1"], "{seen:?}");
    assert_eq!(texts(&seen, "r2"), ["third r2"], "{seen:?}");
    for room in ["r1", "r2"] {
        let seqs: Vec<i64> = seen.iter().filter(|m| m.room == room).map(|m| m.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{room}: {seqs:?}");
    }
}

/// Banned from one of its rooms while its node lived, then the node is killed: recovered on the
/// survivor in the other room only; nothing of the room it was banned from, and it cannot send there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_before_the_kill_is_not_undone_by_recovery() {
    let (Scene { mut cluster, mut bob, token, pid, me, mut seen, .. }, mut sio) = scene(false, "banned").await;
    bob.ok("ban", json!({"room": "r1", "actor": me})).await;
    bob.say("r2", "after the ban").await;
    sio.messages(&mut seen, |s| s.iter().any(|m| m.text == "after the ban")).await;
    assert!(seen.iter().any(|m| m.system && m.room == "r1" && m.text.contains("banned")), "{seen:?}");
    let offset = seen.last().and_then(|m| m.offset.clone()).expect("offset");
    assert_eq!(offset.split(',').count(), 1, "r1 ended with the ban: the offset names r2 only: {offset}");
    // The record's rewrite after the eviction is in Redis before anything else of this socket's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.kill(0);
    drop(sio);
    bob.say("r1", "missed r1").await;
    bob.say("r2", "missed r2").await;
    let mut back = Sio::open(cluster.node(1), false).await;
    let answer = back.connect(json!({"token": token, "pid": pid, "offset": offset})).await;
    assert_eq!(answer["pid"], pid.as_str(), "recovered, in the room it may still be in");
    let mut seen = Vec::new();
    back.messages(&mut seen, |s| s.iter().any(|m| m.text == "missed r2")).await;
    let refused = back.call(5, "send_message", json!({"room": "r1", "message": "let me in", "message_id": "x"}), &mut seen).await;
    assert_eq!(refused["ok"], false, "not back in the room it was banned from: {refused}");
    assert!(seen.iter().all(|m| m.room != "r1"), "nothing of r1: {seen:?}");
    assert_eq!(texts(&seen, "r2"), ["missed r2"]);
}
