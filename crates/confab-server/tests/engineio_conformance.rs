//! Engine.IO v4 and Socket.IO v5 conformance of `/socket.io/`, checked against the protocol documents
//! (socketio/engine.io-protocol v4, socketio/socket.io-protocol v5) with raw HTTP requests and a raw
//! WebSocket against the real server, the way the Engine.IO project's own test suite does: handshake
//! fields, packet types, heartbeats, payload separators, the upgrade probe, close, namespaces and
//! connect errors, acknowledgement ids, binary placeholders (refused: not part of the vocabulary),
//! and `maxPayload` enforced as advertised on both transports.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// The heartbeat the Engine.IO test suite configures its servers with.
const PING_INTERVAL: u64 = 300;
const PING_TIMEOUT: u64 = 200;

fn heartbeat_server() -> Server {
    Server::start(&["--socketio-ping-interval-ms", "300", "--socketio-ping-timeout-ms", "200"])
}

/// The handshake's open packet carries exactly what the protocol lists, with the configured values.
#[tokio::test]
async fn handshake_advertises_sid_upgrades_heartbeat_and_max_payload() {
    let server = heartbeat_server();
    let r = http(&server, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or("").starts_with("text/plain"), "{r:?}");
    let open: Value = serde_json::from_str(r.text().strip_prefix('0').expect("open packet")).unwrap();
    assert!(open["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingInterval"], PING_INTERVAL);
    assert_eq!(open["pingTimeout"], PING_TIMEOUT);
    assert_eq!(open["maxPayload"], 1_000_000);
    // Over WebSocket there is nothing to upgrade to.
    let (ws, _) = tokio_tungstenite::connect_async(server.url("/socket.io/?EIO=4&transport=websocket")).await.unwrap();
    let mut c = SioWs { ws, sid: String::new() };
    let open: Value = serde_json::from_str(c.recv().await.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(open["upgrades"], json!([]));
}

/// Bad handshakes are answered 400 with Engine.IO's error codes, never 404/405/500.
#[tokio::test]
async fn bad_requests_get_400_with_engineio_error_codes() {
    let server = Server::start(&[]);
    let (sid, _) = eio_open(&server).await;
    let cases: &[(&str, &str, u64)] = &[
        ("GET", "/socket.io/?transport=polling", 5),
        ("GET", "/socket.io/?EIO=3&transport=polling", 5),
        ("GET", "/socket.io/?EIO=abc&transport=polling", 5),
        ("GET", "/socket.io/?EIO=4", 0),
        ("GET", "/socket.io/?EIO=4&transport=abc", 0),
        ("GET", "/socket.io/?EIO=4&transport=polling&sid=nope", 1),
        ("POST", "/socket.io/?EIO=4&transport=polling", 2),
        ("POST", "/socket.io/?EIO=4&transport=polling&sid=nope", 1),
        ("PUT", "/socket.io/?EIO=4&transport=polling", 2),
        ("DELETE", &polling(&sid), 2),
        ("PATCH", &polling(&sid), 2),
    ];
    for (method, path, code) in cases {
        let r = http(&server, method, path, &[], b"").await;
        assert_eq!(r.status, 400, "{method} {path}: {r:?}");
        assert_eq!(r.json()["code"], *code, "{method} {path}: {}", r.text());
    }
    // A WebSocket with a bad version or an unknown sid is refused before the upgrade.
    for path in ["/socket.io/?EIO=3&transport=websocket", "/socket.io/?EIO=4&transport=websocket&sid=nope"] {
        assert!(tokio_tungstenite::connect_async(server.url(path)).await.is_err(), "{path}");
    }
    let r = eio_post(&server, &sid, "6").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"), "the valid session was not disturbed");
}

/// The server pings every pingInterval; a pong keeps a polling session open past the timeout.
#[tokio::test]
async fn polling_ping_is_answered_by_pong_and_keeps_the_session() {
    let server = heartbeat_server();
    let (sid, _) = eio_open(&server).await;
    let start = tokio::time::Instant::now();
    for _ in 0..4 {
        let packets = eio_poll(&server, &sid).await.expect("poll");
        assert_eq!(packets, vec!["2"], "only pings while idle");
        assert_eq!(eio_post(&server, &sid, "3").await.text(), "ok");
    }
    assert!(start.elapsed() >= Duration::from_millis(3 * PING_INTERVAL), "pings come once per interval");
    assert!(eio_poll(&server, &sid).await.is_ok(), "a client that answers pings stays");
}

/// A polling client that stops answering pings is closed at pingInterval + pingTimeout: the next
/// request with its sid gets 400.
#[tokio::test]
async fn polling_session_without_pong_is_closed_after_ping_interval_plus_timeout() {
    let server = heartbeat_server();
    let (sid, _) = eio_open(&server).await;
    tokio::time::sleep(Duration::from_millis(PING_INTERVAL + PING_TIMEOUT + 100)).await;
    let r = eio_poll(&server, &sid).await.expect_err("the session should be gone");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], 1);
}

/// A POST carrying a packet Engine.IO does not know (`abc`) closes the session.
#[tokio::test]
async fn invalid_packet_closes_the_polling_session() {
    let server = Server::start(&[]);
    let (sid, _) = eio_open(&server).await;
    assert_eq!(eio_post(&server, &sid, "abc").await.status, 400);
    let r = eio_poll(&server, &sid).await.expect_err("closed");
    assert_eq!(r.status, 400);
    // Invalid UTF-8 in a body does the same.
    let (sid, _) = eio_open(&server).await;
    let r = http(&server, "POST", &polling(&sid), &[], b"4\xff\xfe").await;
    assert_eq!(r.status, 400);
    assert_eq!(eio_poll(&server, &sid).await.expect_err("closed").status, 400);
}

/// The client's close packet answers a pending poll with a noop (`6`), and ends the session.
#[tokio::test]
async fn close_packet_answers_the_pending_poll_with_noop() {
    let server = Server::start(&[]);
    let (sid, _) = eio_open(&server).await;
    let pending = {
        let (addr, sid) = (server.addr.clone(), sid.clone());
        tokio::spawn(async move {
            let r = http_at(&addr, "GET", &polling(&sid), &[], b"").await;
            (r.status, r.text())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = eio_post(&server, &sid, "1").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let answer = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    assert_eq!(answer, (200, "6".to_string()));
    assert_eq!(eio_poll(&server, &sid).await.expect_err("closed").status, 400);
}

/// Several packets in one body, separated by U+001E, are all handled in order; the answers come
/// back batched the same way.
#[tokio::test]
async fn payload_separators_both_directions() {
    let server = Server::start(&[]);
    let (sid, _) = eio_open(&server).await;
    let room = room("sep");
    let body = format!("40\u{1e}421{}\u{1e}422{}", json!(["check_room", room]), json!(["check_room", room]));
    assert_eq!(eio_post(&server, &sid, &body).await.text(), "ok");
    let seen = eio_poll_until(&server, &sid, |p| p.starts_with("432[")).await;
    let connect = seen.iter().position(|p| p.starts_with("40{")).expect("CONNECT answered");
    let first = seen.iter().position(|p| p.starts_with("431[")).expect("first ack");
    let second = seen.iter().position(|p| p.starts_with("432[")).expect("second ack");
    assert!(connect < first && first < second, "{seen:?}");
    let ack: Value = serde_json::from_str(&seen[first][3..]).unwrap();
    assert_eq!(ack[0], json!({"ok": true, "exists": false}));
    let ack: Value = serde_json::from_str(&seen[second][3..]).unwrap();
    assert_eq!(ack[0], json!({"ok": true, "exists": true}));
}

/// The upgrade: `2probe`/`3probe` on the WebSocket, the pending poll released with a noop, `5`, then
/// the session lives on the WebSocket; polling with its sid and a second WebSocket are refused.
#[tokio::test]
async fn upgrade_probe_then_polling_and_second_websocket_refused() {
    let server = Server::start(&[]);
    let (sid, _) = eio_open(&server).await;
    assert_eq!(eio_post(&server, &sid, "40").await.text(), "ok");
    let seen = eio_poll_until(&server, &sid, |p| p.starts_with("40{")).await;
    assert!(seen.iter().any(|p| p.starts_with("40{\"sid\"")));
    let pending = {
        let (addr, sid) = (server.addr.clone(), sid.clone());
        tokio::spawn(async move {
            let r = http_at(&addr, "GET", &polling(&sid), &[], b"").await;
            (r.status, r.text())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = server.url(&format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"));
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("upgrade");
    let mut c = SioWs { ws, sid: sid.clone() };
    c.send("2probe").await;
    assert_eq!(c.recv().await, "3probe");
    let released = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    assert_eq!(released, (200, "6".to_string()), "the pending poll is released with a noop");
    // A second WebSocket for the same session is refused, during and after the upgrade.
    assert!(tokio_tungstenite::connect_async(&url).await.is_err(), "second WebSocket during the probe");
    c.send("5").await;
    let ack = c.call(7, "check_room", json!(room("upg"))).await;
    assert_eq!(ack["ok"], true);
    assert!(tokio_tungstenite::connect_async(&url).await.is_err(), "second WebSocket after the upgrade");
    let r = eio_poll(&server, &sid).await.expect_err("polling after the upgrade");
    assert_eq!(r.status, 400);
    // The first WebSocket still works.
    assert_eq!(c.call(8, "check_room", json!(room("upg"))).await["exists"], true);
}

/// The server's pings on the WebSocket transport, and its closing of a client that stops answering.
#[tokio::test]
async fn websocket_ping_pong_and_timeout() {
    let server = heartbeat_server();
    let mut c = SioWs::open(&server).await;
    let start = tokio::time::Instant::now();
    let ping = tokio::time::timeout(WAIT, next_text(&mut c.ws)).await.unwrap();
    assert_eq!(ping.as_deref(), Some("2"));
    assert!(start.elapsed() >= Duration::from_millis(PING_INTERVAL - 50));
    // Not answering: closed within pingTimeout after the ping (with some slack for the machine).
    let end = tokio::time::timeout(Duration::from_millis(PING_TIMEOUT + 1500), async {
        loop {
            match next_text(&mut c.ws).await {
                Some(t) if t == "2" => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the server should close a client that does not pong");
    assert!(end.is_none(), "closed, got {end:?}");
}

/// Namespaces: only `/` exists; CONNECT to another is answered CONNECT_ERROR (`44/ns,{message}`),
/// a bad token is a CONNECT_ERROR on `/`, events before CONNECT are refused, and the session survives.
#[tokio::test]
async fn namespaces_and_connect_errors() {
    let server = Server::start(&[]);
    let mut c = SioWs::open(&server).await;
    c.send(r#"42["check_room","x"]"#).await;
    let err = c.event("error").await;
    assert_eq!(err["code"], "bad_request", "event before CONNECT: {err}");
    c.send("40/admin,").await;
    let p = c.recv().await;
    let body: Value = serde_json::from_str(p.strip_prefix("44/admin,").unwrap_or_else(|| panic!("{p}"))).unwrap();
    assert!(body["message"].is_string());
    c.send(r#"40{"token":"not-a-token"}"#).await;
    let p = c.recv().await;
    let body: Value = serde_json::from_str(p.strip_prefix("44").unwrap_or_else(|| panic!("{p}"))).unwrap();
    assert_eq!(body["data"]["code"], "unauthenticated");
    c.send("40").await;
    let p = c.recv().await;
    let body: Value = serde_json::from_str(p.strip_prefix("40").unwrap()).unwrap();
    assert!(body["sid"].is_string(), "{p}");
    // An event to a namespace never connected is refused, not delivered to `/`.
    c.send(r#"42/admin,5["check_room","x"]"#).await;
    assert_eq!(c.event("error").await["code"], "bad_request");
}

/// Acknowledgement ids are echoed as sent (any u64); one beyond u64 is `bad_frame`; events without an
/// id get no ack; the Socket.IO DISCONNECT (`41`) ends the session.
#[tokio::test]
async fn ack_ids_round_trip() {
    let server = Server::start(&[]);
    let mut c = SioWs::connect(&server, None).await;
    for id in [0u64, 1, 42, 18_446_744_073_709_551_615] {
        assert_eq!(c.call(id, "check_room", json!(room("ack"))).await["ok"], true, "ack {id}");
    }
    c.send(r#"4218446744073709551616["check_room","x"]"#).await;
    assert_eq!(c.event("error").await["code"], "bad_frame");
    c.send(&format!("42{}", json!(["check_room", room("ack")]))).await;
    c.send(&format!("429{}", json!(["check_room", room("ack")]))).await;
    // The ack for 9 is the next ack: the event without an id was not acknowledged.
    loop {
        let p = c.recv().await;
        if p.starts_with("43") {
            assert!(p.starts_with("439["), "{p}");
            break;
        }
    }
    c.send("41").await;
    assert!(c.recv().await.starts_with("closed"));
}

/// Binary events (`45<n>-` with `_placeholder` objects) are refused through their ack, the
/// attachment frame is dropped, and the connection stays usable, on both transports.
#[tokio::test]
async fn binary_placeholders_are_refused_and_the_session_survives() {
    let server = Server::start(&[]);
    let mut c = SioWs::connect(&server, None).await;
    c.send(r#"451-3["send_message",{"room":"x","message":{"_placeholder":true,"num":0}}]"#).await;
    c.ws.send(Message::Binary(vec![1u8, 2, 3].into())).await.unwrap();
    let ack = c.ack(3).await;
    assert_eq!((ack["ok"].clone(), ack["error"]["code"].clone()), (json!(false), json!("bad_request")));
    assert_eq!(c.call(4, "check_room", json!(room("bin"))).await["ok"], true);

    let (sid, _) = eio_open(&server).await;
    let body = "40\u{1e}451-3[\"send_message\",{\"_placeholder\":true,\"num\":0}]\u{1e}bAQID";
    assert_eq!(eio_post(&server, &sid, body).await.text(), "ok");
    let seen = eio_poll_until(&server, &sid, |p| p.starts_with("433[")).await;
    assert!(seen.last().unwrap().contains("bad_request"), "{seen:?}");
    assert_eq!(eio_post(&server, &sid, &format!("424{}", json!(["check_room", room("bin")]))).await.text(), "ok");
    let seen = eio_poll_until(&server, &sid, |p| p.starts_with("434[")).await;
    assert!(seen.last().unwrap().contains("\"ok\":true"), "{seen:?}");
}

/// An acknowledged event whose text is over --max-text-bytes but under maxPayload is answered
/// `text_too_long` on both transports and the session stays usable; only a packet above the
/// advertised maxPayload closes it (WebSocket 1009, polling 413 then 400).
#[tokio::test]
async fn max_payload_is_what_the_handshake_advertises_on_both_transports() {
    let server = Server::start(&[]);
    let room = room("big");
    let big = "x".repeat(100_000);

    let mut c = SioWs::connect(&server, None).await;
    c.call(1, "check_room", json!(room)).await;
    assert_eq!(c.call(2, "join_room", json!({"room": room, "user": "wsbig"})).await["ok"], true);
    let ack = c.call(3, "send_message", json!({"room": room, "user": "wsbig", "message": big})).await;
    assert_eq!(ack["error"]["code"], "text_too_long", "{ack}");
    assert_eq!(c.call(4, "send_message", json!({"room": room, "user": "wsbig", "message": "small"})).await["ok"], true);

    let (sid, open) = eio_open(&server).await;
    let max = open["maxPayload"].as_u64().unwrap() as usize;
    let event = format!("421{}", json!(["send_message", {"room": room, "user": "pollbig", "message": big}]));
    let join = format!("420{}", json!(["join_room", {"room": room, "user": "pollbig"}]));
    assert_eq!(eio_post(&server, &sid, &format!("40\u{1e}{join}\u{1e}{event}")).await.text(), "ok");
    let seen = eio_poll_until(&server, &sid, |p| p.starts_with("431[")).await;
    assert!(seen.last().unwrap().contains("text_too_long"), "{seen:?}");

    // Above maxPayload: refused, and the session is closed, on both transports.
    let huge = format!("4{}", "y".repeat(max));
    let r = eio_post(&server, &sid, &huge).await;
    assert_eq!(r.status, 413);
    assert_eq!(eio_poll(&server, &sid).await.expect_err("closed").status, 400);
    c.send(&huge).await;
    let closed = loop {
        let p = c.recv().await;
        if p.starts_with("closed") {
            break p;
        }
    };
    assert_eq!(closed, "closed 1009");
    // History kept the small message, and only it.
    let mut check = SioWs::connect(&server, None).await;
    // Not `call`: it would skip the history that comes before the ack.
    check.send(&format!("42{}", json!(["join_room", {"room": room, "user": "checker"}]))).await;
    let mut texts = Vec::new();
    loop {
        let m = check.event("room_message").await;
        if m["message"] == "checker has joined the room." {
            break;
        }
        if m["user"] != "System" {
            texts.push(m["message"].clone());
        }
    }
    assert_eq!(texts, vec![json!("small")]);
}

