//! The per-address limit on creating guest sessions (`--guest-burst-per-address`,
//! `--guests-per-minute-per-address`): one bucket for every way of becoming a guest, refused with 429
//! and `Retry-After` over HTTP and `rate_limited` on the sockets, while sessions that already exist
//! keep working.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

/// Burst of 3, then one a minute: the fourth creation from 127.0.0.1 is refused, by any route.
#[tokio::test]
async fn one_address_gets_its_burst_then_429_with_retry_after_on_every_route() {
    let server = Server::start(&["--guest-burst-per-address", "3", "--guests-per-minute-per-address", "1"]);
    let mut tokens = Vec::new();
    for i in 0..2 {
        let r = post_guest(&server, json!({"name": format!("g{i}")}).to_string().as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        tokens.push(r.json()["token"].as_str().unwrap().to_string());
    }
    // The third comes from /ws: the same bucket.
    let native = Client::guest(&server, "g2").await;

    let r = post_guest(&server, br#"{"name":"g3"}"#).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "one a minute: wait at most 60 s, got {retry}");

    let mut c = Client::connect_raw(&server).await;
    c.refused("hello", json!({"name": "g4"}), "rate_limited").await;

    let room = room("limited");
    let mut owner = Client::with_token(&server, &tokens[0]).await;
    owner.ok("create_room", json!({"room": room})).await;
    let mut s = SioWs::connect(&server, None).await;
    let ack = s.call(1, "join_room", json!({"room": room, "user": "g5"})).await;
    assert_eq!(ack["error"]["code"], "rate_limited", "{ack}");

    // Existing sessions are not new identities: they still connect, on both protocols.
    c.ok("hello", json!({"token": tokens[1]})).await;
    let mut s = SioWs::connect(&server, Some(&tokens[1])).await;
    assert_eq!(s.call(2, "join_room", json!({"room": room, "user": "ignored"})).await["ok"], true);
    assert_eq!(native.user["name"], "g2");
}

/// The bucket refills at the configured rate: after the wait it said, one more is allowed.
#[tokio::test]
async fn the_bucket_refills_after_retry_after() {
    let server = Server::start(&["--guest-burst-per-address", "1", "--guests-per-minute-per-address", "60"]);
    assert_eq!(post_guest(&server, br#"{"name":"a"}"#).await.status, 200);
    let r = post_guest(&server, br#"{"name":"b"}"#).await;
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(retry, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post_guest(&server, br#"{"name":"b"}"#).await.status, 200);
}

/// With the limit at 0 there is none (the benchmark runs this way).
#[tokio::test]
async fn zero_disables_the_limit() {
    let server = Server::start(&["--guests-per-minute-per-address", "0", "--guest-burst-per-address", "1"]);
    for i in 0..20 {
        assert_eq!(post_guest(&server, json!({"name": format!("n{i}")}).to_string().as_bytes()).await.status, 200);
    }
}
