//! Floods, each against its named limit on a real server, with a well-behaved client on the same
//! server that keeps working: connections from one address (`--max-connections-per-address`, 429),
//! connections in total (`--max-connections`, 503), joins (`--joins-per-minute` and
//! `--max-rooms-per-connection`), and frames (`--requests-per-second`, binary frames included:
//! `rate_limited`, then close 4002). Ping floods are `ws_control_frames.rs`; slow readers are
//! `native_protocol.rs` (`slow_consumer`); half-open Socket.IO clients are found by the Engine.IO
//! heartbeat (`engineio_conformance.rs`).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{http, Client, Server};
use tokio_tungstenite::tungstenite::Error as WsError;

/// The HTTP status of a refused WebSocket upgrade on `path`.
async fn refused_upgrade(server: &Server, path: &str) -> (u16, String) {
    match tokio_tungstenite::connect_async(server.url(path)).await {
        Err(WsError::Http(response)) => {
            let body = response.body().as_ref().map(|b| String::from_utf8_lossy(b).to_string()).unwrap_or_default();
            (response.status().as_u16(), body)
        }
        Ok(_) => panic!("the upgrade on {path} was accepted"),
        Err(e) => panic!("the upgrade on {path} failed otherwise: {e}"),
    }
}

/// A message from `from` reaches `to` (both joined to `room`) within a second.
async fn still_works(from: &mut Client, to: &mut Client, room: &str, text: &str) {
    let started = Instant::now();
    from.say(room, text).await;
    // (Earlier messages, its own included, may come first.)
    while to.event_of("message").await["message"]["content"]["text"] != text {}
    assert!(started.elapsed() < Duration::from_secs(1), "delivered in {:?}", started.elapsed());
}

/// One address holding `--max-connections-per-address` connections is refused more (429 with the
/// reason, on /ws and on both Socket.IO transports), while a client from another address connects
/// and chats; a closed connection frees its place.
#[tokio::test]
async fn connections_per_address_are_limited_and_other_addresses_are_not() {
    let server = Server::start(&["--max-connections-per-address", "3"]);
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(Client::guest(&server, &format!("h{i}")).await);
    }
    let (status, body) = refused_upgrade(&server, "/ws").await;
    assert_eq!((status, body.as_str()), (429, "too many connections from this address"));
    let (status, _) = refused_upgrade(&server, "/socket.io/?EIO=4&transport=websocket").await;
    assert_eq!(status, 429);
    let polling = http(&server, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(polling.status, 429, "{}", polling.text());

    // Another address is not affected.
    let mut other = Client::guest_from(&server, "127.0.0.2", "other").await;
    held[0].ok("create_room", json!({"room": "busy"})).await;
    held[0].join("busy").await;
    other.join("busy").await;
    still_works(&mut held[0], &mut other, "busy", "from the full address").await;
    still_works(&mut other, &mut held[0], "busy", "from another address").await;

    // Closing one frees a place.
    held.pop().unwrap().close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio_tungstenite::connect_async(server.url("/ws")).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connection's place was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `--max-connections` in total: beyond it upgrades get 503 `too many connections`, and the
/// connections already open keep working.
#[tokio::test]
async fn total_connections_are_limited() {
    let server = Server::start(&["--max-connections", "4", "--max-connections-per-address", "0"]);
    let mut open = Vec::new();
    for i in 0..4 {
        open.push(Client::guest(&server, &format!("c{i}")).await);
    }
    let (status, body) = refused_upgrade(&server, "/ws").await;
    assert_eq!((status, body.as_str()), (503, "too many connections"));
    let polling = http(&server, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(polling.status, 503);
    open[0].ok("create_room", json!({"room": "full-house"})).await;
    let (a, b) = open.split_at_mut(1);
    a[0].join("full-house").await;
    b[0].join("full-house").await;
    still_works(&mut a[0], &mut b[0], "full-house", "still here").await;
}

/// Joining and leaving in a loop is `rate_limited` past `--joins-per-minute` (so the log does not
/// grow without bound), joining more rooms than `--max-rooms-per-connection` is `too_many_rooms`,
/// on both protocols, while another connection joins and chats.
#[tokio::test]
async fn join_floods_are_rate_limited() {
    let server = Server::start(&["--joins-per-minute", "10", "--max-rooms-per-connection", "5", "--requests-per-second", "0"]);
    let mut flooder = Client::guest(&server, "flooder").await;
    flooder.ok("create_room", json!({"room": "revolving"})).await;
    let mut joined = 0;
    let refusal = loop {
        let v = flooder.request("join", json!({"room": "revolving"})).await;
        if v["type"] != "ack" {
            break v;
        }
        joined += 1;
        flooder.ok("leave", json!({"room": "revolving"})).await;
        assert!(joined < 100, "never limited");
    };
    assert_eq!(refusal["code"], "rate_limited", "{refusal}");
    assert_eq!(joined, 10, "the burst of --joins-per-minute");

    let mut sio = support::SioWs::connect(&server, Some(&flooder.token())).await;
    let mut sio_joins = 0;
    let sio_refusal = loop {
        let ack = sio.call(100 + sio_joins, "join_room", json!({"room": "revolving"})).await;
        if ack["ok"] != true {
            break ack;
        }
        sio_joins += 1;
        sio.call(500 + sio_joins, "leave_room", json!({"room": "revolving"})).await;
        assert!(sio_joins < 100, "never limited");
    };
    assert_eq!(sio_refusal["error"]["code"], "rate_limited", "{sio_refusal}");
    assert_eq!(sio_joins, 10, "each connection has its own allowance");

    let mut rooms = Client::guest(&server, "collector").await;
    for i in 0..5 {
        rooms.ok("join", json!({"room": format!("r{i}"), "create": true})).await;
    }
    rooms.refused("join", json!({"room": "r5", "create": true}), "too_many_rooms").await;

    let mut ann = Client::guest(&server, "ann").await;
    let mut bob = Client::guest(&server, "bob").await;
    ann.join("revolving").await;
    bob.join("revolving").await;
    still_works(&mut ann, &mut bob, "revolving", "the door still works").await;
}

/// A client sending frames as fast as it can, text or binary, gets `rate_limited` and then is closed
/// with 4002, while a well-behaved client on the same server chats with deliveries under a second.
#[tokio::test]
async fn frame_floods_are_rate_limited_and_closed() {
    let server = Server::start(&[]);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": "calm"})).await;
    ann.join("calm").await;
    let mut bob = Client::guest(&server, "bob").await;
    bob.join("calm").await;

    for binary in [false, true] {
        let mut flood = Client::guest(&server, "flood").await;
        let frames = 400;
        for i in 0..frames {
            let sent = if binary {
                flood.send_message(tokio_tungstenite::tungstenite::Message::Binary(vec![0u8; 16].into())).await;
                true
            } else {
                flood.try_send_text(&json!({"type": "ping", "id": i}).to_string()).await
            };
            if !sent {
                break;
            }
        }
        let mut limited = 0;
        let closed = loop {
            let v = flood.recv().await;
            if v["code"] == "rate_limited" {
                limited += 1;
            }
            if v["type"] == "closed" {
                break v;
            }
        };
        assert!(limited > 10, "binary {binary}: rate_limited answers first, got {limited}");
        assert_eq!(closed["code"], 4002, "binary {binary}: {closed}");
        assert_eq!(closed["reason"], "rate_limited");
        still_works(&mut ann, &mut bob, "calm", &format!("after a flood (binary {binary})")).await;
    }
}
