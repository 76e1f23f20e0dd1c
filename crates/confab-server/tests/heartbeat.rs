//! The native protocol's heartbeat finds half-open connections: a client that has gone (its network
//! cut, its machine asleep) without closing TCP answers nothing, not even the server's ping, and is
//! closed with 4004 `heartbeat_timeout`; its rooms then hear its leave. A client that answers pings,
//! as every browser and WebSocket library does by itself, stays however long it is silent.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::raw_ws::*;
use support::Server;

const HEARTBEAT: [&str; 6] = ["--heartbeat-interval-ms", "300", "--heartbeat-timeout-ms", "300", "--leave-grace-ms", "200"];

/// A member that answers the server's pings (as a browser does) and waits for the leave of `name`.
async fn watch_for_leave(server: &Server, room: &str, name: &'static str) -> tokio::task::JoinHandle<serde_json::Value> {
    let mut ws = RawWs::connect(server, "/ws").await;
    assert_eq!(ws.next_text().await["type"], "welcome");
    ws.send(frame(FIN | TEXT, br#"{"type":"hello","id":0,"name":"watcher"}"#)).await;
    assert_eq!(ws.answer(0).await["type"], "ack");
    let join = json!({"type": "join", "id": 1, "room": room, "create": true}).to_string();
    ws.send(frame(FIN | TEXT, join.as_bytes())).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
    tokio::spawn(async move {
        loop {
            let f = ws.next().await.expect("the watcher stays connected");
            match f.opcode {
                PING => ws.send(frame(FIN | PONG, &f.payload)).await,
                TEXT => {
                    let v = f.json();
                    if v["type"] == "event" && v["kind"] == "leave" && v["actor"]["name"] == name {
                        return v;
                    }
                }
                _ => {}
            }
        }
    })
}

#[tokio::test]
async fn a_half_open_connection_is_closed_and_its_leave_announced() {
    let server = Server::start(&HEARTBEAT);
    let watcher = watch_for_leave(&server, "hb", "raw").await;

    let mut gone = RawWs::native(&server).await;
    gone.send(frame(FIN | TEXT, br#"{"type":"join","id":1,"room":"hb"}"#)).await;
    assert_eq!(gone.answer(1).await["type"], "ack");

    // From now on this client answers nothing: the server pings once after the interval of
    // silence, then closes after the timeout.
    let quiet_since = Instant::now();
    let mut pings = 0;
    let close = loop {
        let f = gone.next().await.expect("the server closes with a close frame");
        match f.opcode {
            PING => pings += 1,
            CLOSE => break f,
            _ => {}
        }
    };
    let after = quiet_since.elapsed();
    assert_eq!(pings, 1, "one ping, then the close");
    assert_eq!(close.close_code(), Some(4004), "{:?}", String::from_utf8_lossy(&close.payload));
    assert_eq!(&close.payload[2..], b"heartbeat_timeout");
    assert!(after >= Duration::from_millis(550), "closed after {after:?}, before interval + timeout");

    let leave = tokio::time::timeout(Duration::from_secs(10), watcher).await.expect("the leave comes").expect("watcher");
    assert_eq!(leave["reason"], "disconnected", "{leave}");
}

#[tokio::test]
async fn a_silent_client_that_answers_pings_stays_connected() {
    let server = Server::start(&HEARTBEAT);
    let mut ws = RawWs::native(&server).await;
    let until = Instant::now() + Duration::from_millis(2000);
    let mut pings = 0;
    while Instant::now() < until {
        let wait = until.saturating_duration_since(Instant::now());
        let Ok(f) = tokio::time::timeout(wait, ws.next()).await else { break };
        let f = f.expect("the connection stays open");
        assert_eq!(f.opcode, PING, "only heartbeat pings while the client is silent: {f:?}");
        ws.send(frame(FIN | PONG, &f.payload)).await;
        pings += 1;
    }
    // Six intervals of silence: a ping after each one, all answered.
    assert!(pings >= 3, "{pings} pings in 2 s with a 300 ms interval");
    ws.send(frame(FIN | TEXT, br#"{"type":"ping","id":7}"#)).await;
    assert_eq!(ws.answer(7).await["type"], "ack", "still served");
}

#[tokio::test]
async fn no_heartbeat_when_it_is_off() {
    let server = Server::start(&["--heartbeat-interval-ms", "0"]);
    let mut ws = RawWs::native(&server).await;
    let waited = tokio::time::timeout(Duration::from_millis(800), ws.next()).await;
    assert!(waited.is_err(), "nothing arrives: {waited:?}");
    ws.send(frame(FIN | TEXT, br#"{"type":"ping","id":1}"#)).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
}
