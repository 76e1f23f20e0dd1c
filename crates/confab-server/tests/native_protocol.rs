//! Confab's own protocol at /ws, end to end: a real server process and real WebSocket clients.

mod support;

use serde_json::{json, Value};
use support::{Client, Server};

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

/// Two people in a room see each other's messages live, in order, exactly once, and see joins.
#[tokio::test]
async fn messages_reach_every_member_in_order_exactly_once() {
    let server = Server::start(&[]);
    let mut ann = Client::guest(&server, "ann").await;
    let mut bob = Client::guest(&server, "bob").await;
    ann.ok("create_room", json!({"room": "general"})).await;
    let joined = ann.join("general").await;
    assert_eq!(joined["members"][0]["name"], "ann");
    assert_eq!(joined["role"], "owner");
    let ann_join = ann.event().await;
    assert_eq!((ann_join["kind"].as_str(), ann_join["seq"].as_i64()), (Some("join"), Some(1)));

    let joined = bob.join("general").await;
    assert_eq!(joined["top_seq"], 1);
    let names: Vec<&str> = joined["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ann", "bob"]);
    assert_eq!(joined["role"], "member");
    let seen = ann.event().await;
    assert_eq!((seen["kind"].as_str(), seen["actor"]["name"].as_str()), (Some("join"), Some("bob")));
    assert_eq!(bob.event().await["seq"], 2, "bob sees his own join");

    for i in 0..50 {
        let (who, text) = if i % 2 == 0 { (&mut ann, format!("a{i}")) } else { (&mut bob, format!("b{i}")) };
        let ack = who.say("general", &text).await;
        assert_eq!(ack["seq"], 3 + i, "acks carry the room sequence");
    }
    for c in [&mut ann, &mut bob] {
        let mut got = Vec::new();
        for _ in 0..50 {
            got.push(c.event().await);
        }
        assert_eq!(seqs(&got), (3..53).collect::<Vec<_>>());
        assert_eq!(got[0]["message"]["content"]["text"], "a0");
        assert_eq!(got[1]["actor"]["name"], "bob");
        c.quiet(200).await;
    }
}

/// Only the author edits; the author or a moderator (the room's owner) deletes; others are refused and
/// nothing changes.
#[tokio::test]
async fn edit_and_delete_belong_to_the_author() {
    let server = Server::start(&[]);
    let mut owner = Client::guest(&server, "owner").await;
    let mut sam1 = Client::guest(&server, "sam").await;
    let mut sam2 = Client::guest(&server, "sam").await;
    owner.ok("create_room", json!({"room": "r"})).await;
    for c in [&mut owner, &mut sam1, &mut sam2] {
        c.join("r").await;
    }
    let id = sam1.say("r", "hello").await["message_id"].clone();

    // Same display name, different identity: refused.
    sam2.refused("edit", json!({"room": "r", "message_id": id, "text": "hacked"}), "forbidden").await;
    sam2.refused("delete", json!({"room": "r", "message_id": id}), "forbidden").await;
    // The owner may delete but not rewrite someone's words.
    owner.refused("edit", json!({"room": "r", "message_id": id, "text": "x"}), "forbidden").await;

    sam1.ok("edit", json!({"room": "r", "message_id": id, "text": "hello, edited"})).await;
    let edit = sam2.event_of("edit").await;
    assert_eq!((edit["message_id"].clone(), edit["content"]["text"].as_str()), (id.clone(), Some("hello, edited")));
    assert!(edit["edited_at"].is_i64());

    let mine = sam2.say("r", "sam2's").await["message_id"].clone();
    owner.ok("delete", json!({"room": "r", "message_id": mine})).await;
    let del = sam1.event_of("delete").await;
    assert_eq!((del["message_id"].clone(), del["actor"]["name"].as_str()), (mine.clone(), Some("owner")));
    sam2.refused("edit", json!({"room": "r", "message_id": mine, "text": "again"}), "message_not_found").await;

    let history = sam2.ok("history", json!({"room": "r", "after": 0})).await;
    let messages: Vec<&Value> = history["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "message").collect();
    assert_eq!(messages[0]["message"]["content"]["text"], "hello, edited", "history shows the current text");
    assert_eq!(messages[1]["message"]["deleted"], true);
    assert_eq!(messages[1]["message"]["content"]["text"], "", "a deleted message's text is gone");
}

/// A client cut off mid-stream resumes with `since` and gets exactly the events it missed: messages,
/// edits, deletes, joins and leaves, with no gap and no duplicate, then live events.
#[tokio::test]
async fn resume_after_a_cut_has_no_gap_and_no_duplicate() {
    let server = Server::start(&[]);
    let mut ann = Client::guest(&server, "ann").await;
    let mut bob = Client::guest(&server, "bob").await;
    ann.ok("join", json!({"room": "live", "create": true})).await;
    bob.join("live").await;
    let first = bob.say("live", "before the cut").await;
    let mut last_seen;
    loop {
        let e = ann.event().await;
        last_seen = e["seq"].as_i64().unwrap();
        if e["kind"] == "message" {
            break;
        }
    }
    let token = ann.token();
    ann.drop_connection();

    // While ann is away: messages, an edit, a delete, someone joining and leaving.
    for i in 0..30 {
        bob.say("live", &format!("missed {i}")).await;
    }
    bob.ok("edit", json!({"room": "live", "message_id": first["message_id"], "text": "edited while away"})).await;
    let gone = bob.say("live", "to be deleted").await;
    bob.ok("delete", json!({"room": "live", "message_id": gone["message_id"]})).await;
    let mut cid = Client::guest(&server, "cid").await;
    cid.join("live").await;
    cid.ok("leave", json!({"room": "live"})).await;
    let top = bob.say("live", "last while away").await["seq"].as_i64().unwrap();

    let mut ann = Client::with_token(&server, &token).await;
    let ack = ann.ok("join", json!({"room": "live", "since": last_seen})).await;
    assert_eq!(ack["complete"], true);
    let replayed = ack["replayed"].as_i64().unwrap();
    let mut got = Vec::new();
    for _ in 0..replayed {
        got.push(ann.event().await);
    }
    // The leave of ann's own dropped connection may be among them, even after `top` when the grace
    // period ran out first on a loaded machine; everything up to the join's top is there once.
    let join_top = ack["top_seq"].as_i64().unwrap();
    assert!(join_top >= top, "the join's top {join_top} is at least the last message {top}");
    assert_eq!(seqs(&got), ((last_seen + 1)..=join_top).collect::<Vec<_>>());
    let kinds: Vec<&str> = got.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["message", "edit", "delete", "join", "leave"] {
        assert!(kinds.contains(&kind), "missing {kind} in {kinds:?}");
    }
    // Live events follow the replay without a gap (ann's own leave and rejoin may come first).
    bob.say("live", "after resume").await;
    let mut expected = join_top + 1;
    loop {
        let live = ann.event().await;
        assert_eq!(live["seq"], expected);
        expected += 1;
        if live["kind"] == "message" {
            assert_eq!(live["message"]["content"]["text"], "after resume");
            break;
        }
    }
}

/// Resume beyond the replay cap says so, and `since` above the top is refused.
#[tokio::test]
async fn resume_is_capped_and_checked() {
    let server = Server::start(&["--max-replay", "5"]);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": "cap", "create": true})).await;
    for i in 0..10 {
        ann.say("cap", &format!("m{i}")).await;
    }
    let mut again = Client::with_token(&server, &ann.token()).await;
    again.refused("join", json!({"room": "cap", "since": 1000}), "bad_seq").await;
    let ack = again.ok("join", json!({"room": "cap", "since": 1})).await;
    assert_eq!((ack["complete"].as_bool(), ack["replayed"].as_i64()), (Some(false), Some(0)));
    let page = again.ok("history", json!({"room": "cap", "after": 1, "limit": 4})).await;
    assert_eq!(seqs(page["events"].as_array().unwrap()), vec![2, 3, 4, 5]);
    assert_eq!(page["more"], true);
    let page = again.ok("history", json!({"room": "cap", "before": 3})).await;
    assert_eq!(seqs(page["events"].as_array().unwrap()), vec![1, 2]);
    assert_eq!(page["more"], false);
}

/// Sending again with the same client_id stores nothing new.
#[tokio::test]
async fn resending_with_a_client_id_is_idempotent() {
    let server = Server::start(&[]);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": "idem", "create": true})).await;
    let a = ann.ok("send", json!({"room": "idem", "text": "once", "client_id": "c-1"})).await;
    let b = ann.ok("send", json!({"room": "idem", "text": "once", "client_id": "c-1"})).await;
    assert_eq!((a["duplicate"].as_bool(), b["duplicate"].as_bool()), (Some(false), Some(true)));
    assert_eq!((a["seq"].clone(), a["message_id"].clone()), (b["seq"].clone(), b["message_id"].clone()));
    let history = ann.ok("history", json!({"room": "idem", "after": 0})).await;
    let n = history["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "message").count();
    assert_eq!(n, 1);
}

/// Acknowledged messages survive a SIGKILL of the server, and sessions too.
#[tokio::test]
async fn acknowledged_messages_survive_a_crash() {
    let server = Server::start(&[]);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": "durable", "create": true})).await;
    let mut acked = Vec::new();
    for i in 0..20 {
        acked.push(ann.say("durable", &format!("m{i}")).await["message_id"].clone());
    }
    let token = ann.token();
    let server = server.restart();
    let mut ann = Client::with_token(&server, &token).await;
    assert_eq!(ann.user["name"], "ann");
    let history = ann.ok("history", json!({"room": "durable", "after": 0})).await;
    let ids: Vec<Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| e["message"]["id"].clone())
        .collect();
    assert_eq!(ids, acked);
}

/// Closing the connection counts as leaving, after the grace period; a reconnect within it is quiet.
#[tokio::test]
async fn a_dropped_connection_leaves_after_the_grace_period() {
    let server = Server::start(&["--leave-grace-ms", "400"]);
    let mut ann = Client::guest(&server, "ann").await;
    let bob = Client::guest(&server, "bob").await;
    ann.ok("join", json!({"room": "g", "create": true})).await;
    let token = bob.token();
    let mut bob = bob;
    bob.join("g").await;
    while ann.event_of("join").await["actor"]["name"] != "bob" {}

    // Quick reconnect: no leave, no second join.
    bob.drop_connection();
    let mut bob = Client::with_token(&server, &token).await;
    bob.join("g").await;
    ann.quiet(700).await;

    bob.drop_connection();
    let leave = ann.event_of("leave").await;
    assert_eq!((leave["actor"]["name"].as_str(), leave["reason"].as_str()), (Some("bob"), Some("disconnected")));
    let rooms = ann.ok("rooms", json!({"subscribe": false})).await;
    assert_eq!(rooms["rooms"][0]["members"], 1);
}

/// The lobby lists rooms live with member counts.
#[tokio::test]
async fn lobby_lists_rooms_live() {
    let server = Server::start(&[]);
    let mut watcher = Client::guest(&server, "w").await;
    let list = watcher.ok("rooms", json!({})).await;
    assert_eq!(list["rooms"], json!([]));
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": "Design"})).await;
    ann.refused("create_room", json!({"room": "design"}), "room_exists").await;
    let update = watcher.recv().await;
    assert_eq!((update["type"].as_str(), update["room"]["name"].as_str()), (Some("room_update"), Some("Design")));
    ann.join("design").await;
    loop {
        let update = watcher.recv().await;
        assert_eq!(update["type"], "room_update");
        if update["room"]["members"] == 1 {
            break;
        }
    }
}

/// Every kind of bad input gets an error with a code, and the connection keeps working.
#[tokio::test]
async fn bad_input_gets_a_coded_error_and_the_connection_survives() {
    let server = Server::start(&["--max-text-bytes", "100", "--max-rooms-per-connection", "2"]);
    let mut c = Client::connect_raw(&server).await;
    assert!(c.welcome["user"].is_null());
    c.refused("join", json!({"room": "x"}), "unauthenticated").await;
    c.refused("hello", json!({"name": "  "}), "invalid_name").await;
    c.refused("hello", json!({"token": "nope"}), "unauthenticated").await;
    c.ok("hello", json!({"name": "tester"})).await;

    for (raw, code) in [
        ("not json", "bad_frame"),
        ("[1,2]", "bad_frame"),
        (r#"{"type":"send"}"#, "bad_request"),
        (r#"{"id":1}"#, "bad_request"),
        (r#"{"id":{"x":1},"type":"ping"}"#, "bad_request"),
    ] {
        c.send_text(raw).await;
        let v = c.recv().await;
        assert_eq!((v["type"].as_str(), v["code"].as_str()), (Some("error"), Some(code)), "{raw}");
    }
    c.refused("fly", json!({}), "unknown_type").await;
    c.refused("join", json!({}), "bad_request").await;
    c.refused("join", json!({"room": 5}), "bad_request").await;
    c.refused("join", json!({"room": "a/b"}), "invalid_room_name").await;
    c.refused("join", json!({"room": "nowhere"}), "room_not_found").await;
    c.refused("send", json!({"room": "nowhere", "text": "x"}), "room_not_found").await;
    c.ok("create_room", json!({"room": "here"})).await;
    c.refused("send", json!({"room": "here", "text": "x"}), "not_joined").await;
    c.join("here").await;
    c.refused("send", json!({"room": "here", "text": "   "}), "text_empty").await;
    c.refused("send", json!({"room": "here", "text": "x".repeat(101)}), "text_too_long").await;
    c.refused("send", json!({"room": "here", "text": "ok", "client_id": ""}), "bad_request").await;
    c.refused("edit", json!({"room": "here", "message_id": 999, "text": "x"}), "message_not_found").await;
    c.refused("delete", json!({"room": "here", "message_id": "7"}), "bad_request").await;
    c.refused("history", json!({"room": "here"}), "bad_request").await;
    c.refused("history", json!({"room": "here", "before": -1}), "bad_seq").await;
    c.ok("join", json!({"room": "two", "create": true})).await;
    c.refused("join", json!({"room": "three", "create": true}), "too_many_rooms").await;
    c.send_message(tokio_tungstenite::tungstenite::Message::Binary(vec![1, 2, 3].into())).await;
    let v = loop {
        let v = c.recv().await;
        if v["type"] == "error" {
            break v;
        }
    };
    assert_eq!(v["code"], "bad_frame");

    // Still usable, and nothing stored was altered.
    let ack = c.say("here", "<img src=x onerror=alert(1)>").await;
    let history = c.ok("history", json!({"room": "here", "after": 0})).await;
    let texts: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"]["content"]["text"].as_str())
        .collect();
    assert_eq!(texts, ["<img src=x onerror=alert(1)>"]);
    assert!(ack["seq"].as_i64().unwrap() > 1);
}

/// A frame above the size limit closes the connection with 1009; the server keeps serving.
#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let server = Server::start(&["--max-frame-bytes", "1024"]);
    let mut c = Client::guest(&server, "big").await;
    c.send_text(&format!(r#"{{"id":1,"type":"ping","pad":"{}"}}"#, "x".repeat(2000))).await;
    let v = c.recv().await;
    assert_eq!(v["type"], "closed");
    if let Some(code) = v["code"].as_u64() {
        assert_eq!(code, 1009);
    }
    let mut again = Client::guest(&server, "small").await;
    again.ok("ping", json!({})).await;
}

/// Past the request rate a client gets `rate_limited`, then is disconnected if it keeps going.
#[tokio::test]
async fn flooding_is_rate_limited_then_disconnected() {
    let server = Server::start(&["--requests-per-second", "5", "--request-burst", "5"]);
    let mut c = Client::guest(&server, "flood").await;
    let mut limited = 0;
    for i in 0..200u32 {
        // The server may close the connection before all of them are written.
        if !c.try_send_text(&format!(r#"{{"id":{},"type":"ping"}}"#, 1000 + i)).await {
            break;
        }
    }
    let closed = loop {
        let v = c.recv().await;
        if v["code"] == "rate_limited" {
            limited += 1;
        }
        if v["type"] == "closed" {
            break v;
        }
    };
    assert!(limited > 10, "expected rate_limited answers, got {limited}");
    assert_eq!(closed["code"], 4002);
    assert_eq!(closed["reason"], "rate_limited");
}

/// A WebSocket from a foreign origin is refused; our own origin and listed ones are accepted.
#[tokio::test]
async fn cross_site_websockets_are_refused() {
    let server = Server::start(&["--allowed-origins", "https://chat.example.org"]);
    let url = server.url("/ws");
    let foreign = support::connect_with_headers(&url, &[("origin", "https://evil.example")]).await;
    assert!(foreign.is_err(), "foreign origin accepted");
    let own = format!("http://{}", server.addr);
    assert!(support::connect_with_headers(&url, &[("origin", &own)]).await.is_ok());
    assert!(support::connect_with_headers(&url, &[("origin", "https://chat.example.org")]).await.is_ok());
}

/// A client that stops reading is disconnected as a slow consumer, while others keep receiving.
#[tokio::test]
async fn a_reader_that_stops_is_disconnected_not_silently_skipped() {
    let server = Server::start(&["--outbound-queue", "64", "--requests-per-second", "0", "--max-replay", "10000"]);
    let mut sender = Client::guest(&server, "sender").await;
    sender.ok("join", json!({"room": "firehose", "create": true})).await;
    let mut healthy = Client::guest(&server, "healthy").await;
    healthy.join("firehose").await;
    let mut slow = Client::guest(&server, "slow").await;
    let joined_at = slow.join("firehose").await["top_seq"].as_i64().unwrap();
    // `slow` never reads again; large texts fill its socket buffers quickly. The sender and the
    // healthy member read as they go.
    // 16 MB in all: more than the kernel's socket buffers hold for a reader that stopped.
    let text = "y".repeat(3900);
    let n = 4000;
    for batch in 0..(n / 10) {
        for i in 0..10 {
            let id = batch * 10 + i;
            sender.send_text(&json!({"type": "send", "id": id, "room": "firehose", "text": text}).to_string()).await;
        }
        for i in 0..10 {
            let ack = sender.answer((batch * 10 + i) as u64).await;
            assert_eq!(ack["type"], "ack", "{ack}");
        }
        let mut received = 0;
        while received < 10 {
            let v = healthy.recv().await;
            if v["type"] == "event" && v["kind"] == "message" {
                received += 1;
            }
        }
        while let Some(v) = sender.try_pending() {
            assert_ne!(v["type"], "closed");
        }
    }
    // The slow client was cut instead of losing events silently: it reads what reached its socket,
    // then the close (4000 when the close frame still fit in its buffers).
    let mut last = Value::Null;
    let mut last_seq = joined_at;
    for _ in 0..(n + 10) {
        last = slow.recv().await;
        if last["type"] == "event" {
            assert_eq!(last["seq"], last_seq + 1, "no gap before the cut");
            last_seq += 1;
        }
        if last["type"] == "closed" {
            break;
        }
    }
    assert_eq!(last["type"], "closed", "slow reader was never disconnected");
    if let Some(code) = last["code"].as_u64() {
        assert_eq!(code, 4000);
    }
    assert!(last_seq < 3 + n as i64, "the slow reader cannot have had everything");
    // It resumes from the log without loss.
    let token = slow.token();
    let mut back = Client::with_token(&server, &token).await;
    let ack = back.ok("join", json!({"room": "firehose", "since": last_seq})).await;
    assert_eq!(ack["complete"], true);
    let top = ack["top_seq"].as_i64().unwrap();
    for expected in (last_seq + 1)..=top {
        assert_eq!(back.event().await["seq"], expected);
    }
}

/// The WebSocket layer byte by byte over raw TCP: the handshake answer (RFC 6455's example key), a
/// ping answered by a pong with its payload, an unmasked frame closed with 1002; and requests that
/// are not upgrades refused with 400 or 426.
#[tokio::test]
async fn websocket_framing_over_raw_tcp() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(&[]);
    async fn request(addr: &str, headers: &str) -> (tokio::net::TcpStream, String) {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n").as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            assert_eq!(tcp.read(&mut b).await.unwrap(), 1, "server closed during the response head");
            head.push(b[0]);
        }
        (tcp, String::from_utf8(head).unwrap())
    }
    async fn frame(tcp: &mut tokio::net::TcpStream) -> (u8, Vec<u8>) {
        let mut h = [0u8; 2];
        tcp.read_exact(&mut h).await.unwrap();
        assert_eq!(h[1] & 0x80, 0, "server frames are unmasked");
        let len = match h[1] & 0x7F {
            126 => tcp.read_u16().await.unwrap() as usize,
            127 => tcp.read_u64().await.unwrap() as usize,
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).await.unwrap();
        (h[0], payload)
    }
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let (mut tcp, head) = request(&server.addr, upgrade).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_lowercase().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    let (op, welcome) = frame(&mut tcp).await;
    assert_eq!(op, 0x81);
    assert!(String::from_utf8(welcome).unwrap().contains(r#""type":"welcome""#));

    let mask = [1u8, 2, 3, 4];
    let mut ping = vec![0x89, 0x80 | 5];
    ping.extend_from_slice(&mask);
    ping.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&ping).await.unwrap();
    assert_eq!(frame(&mut tcp).await, (0x8A, b"hello".to_vec()));

    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap(); // unmasked
    let (op, close) = frame(&mut tcp).await;
    assert_eq!(op, 0x88);
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1002);
    assert_eq!(&close[2..], b"protocol_error");

    let (_, head) = request(&server.addr, "").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let old = upgrade.replace("Version: 13", "Version: 8");
    let (_, head) = request(&server.addr, &old).await;
    assert!(head.starts_with("HTTP/1.1 426") && head.to_lowercase().contains("sec-websocket-version: 13"), "{head}");
}

/// After a crash the log still lists who was in the room. On restart they are held for the grace
/// period: one who comes back is not announced again, one who does not gets a `disconnected` leave,
/// so the member list and the log agree (no ghost members).
#[tokio::test]
async fn members_a_crash_left_listed_leave_unless_they_return() {
    let server = Server::start(&["--leave-grace-ms", "800"]);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": "after-crash", "create": true})).await;
    let mut bob = Client::guest(&server, "bob").await;
    bob.join("after-crash").await;
    let (ann_token, bob_id) = (ann.token(), bob.id());
    let server = server.restart();

    // ann is back within the grace period: she is listed, and nobody is told she joined again.
    let mut ann = Client::with_token(&server, &ann_token).await;
    let joined = ann.join("after-crash").await;
    let names: Vec<&str> = joined["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ann", "bob"], "both still listed during the grace period");
    // bob is not: his leave is announced after the grace period, and only his.
    let leave = ann.event().await;
    assert_eq!((leave["kind"].as_str(), leave["reason"].as_str()), (Some("leave"), Some("disconnected")), "{leave}");
    assert_eq!(leave["actor"]["id"], bob_id.as_str());
    ann.quiet(1200).await;
    let history = ann.ok("history", json!({"room": "after-crash", "after": 0})).await;
    let kinds: Vec<(&str, &str)> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("join", "ann"), ("join", "bob"), ("leave", "bob")], "one leave, no second join");
}
