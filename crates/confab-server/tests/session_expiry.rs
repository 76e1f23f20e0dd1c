//! Session lifetime against a real `confab` process with short settings (`--session-idle-secs`,
//! `--session-max-secs`, `--session-touch-secs`): a session left idle past the limit is refused on
//! HTTP, `/ws` and Socket.IO exactly like a revoked one; a session used regularly (or kept in use
//! by an open connection) still ends at its longest lifetime, and its open connections close with
//! `session_expired`; the sweep deletes expired rows; the cookie lasts as long as a session can.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::accounts::{call, code, login, register};
use support::{connect_with_headers, http, Client, Server, SioWs};

const PASSWORD: &str = "correct horse battery";

fn session_rows(dir: &Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join("confab.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)).unwrap()
}

/// Status, code and message of an answer: what a client can tell apart.
fn answer(r: &support::HttpResponse) -> (u16, String, Value) {
    (r.status, code(r), r.json()["error"]["message"].clone())
}

/// A session idle for longer than `--session-idle-secs` (no request, no connection) is refused
/// everywhere with the answer a revoked session gets, although its row is still there (the sweep
/// has not run): `/api/me` by cookie and by bearer 401 `unauthenticated`, `hello {token}` on `/ws`
/// `unauthenticated`, a `/ws` upgrade with the bearer 401, a Socket.IO CONNECT with it
/// CONNECT_ERROR `unauthenticated`. The cookie's Max-Age is the longest lifetime. API tokens of the
/// same account, as idle, keep working.
#[tokio::test]
async fn an_idle_session_is_refused_like_a_revoked_one_on_every_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--session-idle-secs", "2", "--session-max-secs", "3600", "--session-touch-secs", "1", "--session-sweep-interval-ms", "600000"];
    let server = Server::start_in(tmp.path(), "127.0.0.1:0", &args);
    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "ann", "password": PASSWORD}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r.header("set-cookie").expect("cookie").to_string();
    assert!(cookie.contains("Max-Age=3600;") || cookie.ends_with("Max-Age=3600"), "the cookie lasts as long as the session may: {cookie}");
    let idle = r.json()["token"].as_str().unwrap().to_string();
    let jar = cookie.split(';').next().unwrap().to_string();
    let revoked = login(&server, "ann", PASSWORD).await;
    let bot = call(&server, "POST", "/api/account/tokens", Some(&revoked), Some(json!({"name": "bot"}))).await.json()["secret"]
        .as_str()
        .expect("api token")
        .to_string();
    assert_eq!(call(&server, "POST", "/api/auth/logout", Some(&revoked), None).await.status, 204);
    assert_eq!(http(&server, "GET", "/api/me", &[("Cookie", &jar)], b"").await.status, 200, "fresh");
    let used = Instant::now();

    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert!(used.elapsed() >= Duration::from_secs(2));
    let like_revoked = answer(&call(&server, "GET", "/api/me", Some(&revoked), None).await);
    assert_eq!((like_revoked.0, like_revoked.1.as_str()), (401, "unauthenticated"));
    assert_eq!(answer(&call(&server, "GET", "/api/me", Some(&idle), None).await), like_revoked, "bearer");
    assert_eq!(answer(&http(&server, "GET", "/api/me", &[("Cookie", &jar)], b"").await), like_revoked, "cookie");
    assert_eq!(session_rows(tmp.path()), 1, "refused although not swept yet");

    let mut ws = Client::connect_raw(&server).await;
    let refused = ws.refused("hello", json!({"token": idle}), "unauthenticated").await;
    let mut ws2 = Client::connect_raw(&server).await;
    let refused_revoked = ws2.refused("hello", json!({"token": revoked}), "unauthenticated").await;
    assert_eq!(refused["message"], refused_revoked["message"], "the same answer as a revoked session");
    let bearer = format!("Bearer {idle}");
    match connect_with_headers(&server.url("/ws"), &[("Authorization", &bearer)]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("upgrade with an expired session's bearer: {:?}", other.map(|_| ())),
    }
    let mut sio = SioWs::open(&server).await;
    sio.send(&format!("40{}", json!({"token": idle}))).await;
    let connect_error = sio.recv().await;
    assert!(connect_error.starts_with("44") && connect_error.contains("unauthenticated"), "{connect_error}");

    // Trying did not bring it back; the account's API token, as idle, was never limited.
    assert_eq!(call(&server, "GET", "/api/me", Some(&idle), None).await.status, 401);
    assert_eq!(call(&server, "GET", "/api/me", Some(&bot), None).await.status, 200, "API tokens do not expire by idleness");
}

/// A session used every few hundred milliseconds outlives its idle timeout many times over, and is
/// still refused once `--session-max-secs` have passed since sign-in; the sweep then deletes it.
#[tokio::test]
async fn a_session_used_regularly_still_ends_at_its_longest_lifetime() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--session-idle-secs", "2", "--session-max-secs", "6", "--session-touch-secs", "1", "--session-sweep-interval-ms", "300"];
    let server = Server::start_in(tmp.path(), "127.0.0.1:0", &args);
    let token = register(&server, "bob", PASSWORD).await["token"].as_str().unwrap().to_string();
    let signed_in = Instant::now();
    let mut answers = Vec::new();
    while signed_in.elapsed() < Duration::from_millis(7_500) {
        let before = signed_in.elapsed();
        let status = call(&server, "GET", "/api/me", Some(&token), None).await.status;
        answers.push((before, status));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The session was made just before the answer we timed from: its age is at least `before`.
    let early: Vec<_> = answers.iter().filter(|(t, _)| *t < Duration::from_millis(5_000)).collect();
    assert!(early.iter().all(|(_, s)| *s == 200), "used regularly, alive before the longest lifetime: {answers:?}");
    assert!(early.iter().any(|(t, _)| *t > Duration::from_millis(4_000)), "used well past the idle timeout: {answers:?}");
    let late: Vec<_> = answers.iter().filter(|(t, _)| *t >= Duration::from_secs(6)).collect();
    assert!(!late.is_empty() && late.iter().all(|(_, s)| *s == 401), "ended at the longest lifetime: {answers:?}");

    let swept = Instant::now();
    while session_rows(tmp.path()) > 0 {
        assert!(swept.elapsed() < Duration::from_secs(10), "the sweep did not delete the expired session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Open connections are use: a `/ws` and a Socket.IO connection keep their session alive past the
/// idle timeout (the recheck records their use, so the same token still works over HTTP), and at
/// the longest lifetime both are closed within the recheck interval: `/ws` with 4003
/// `session_expired`, Socket.IO with an `error` event `session_expired` and a DISCONNECT first.
#[tokio::test]
async fn open_connections_on_an_expiring_session_are_closed_with_the_reason() {
    let args = [
        "--session-idle-secs", "2", "--session-max-secs", "6", "--session-touch-secs", "1",
        "--credential-recheck-ms", "250", "--session-sweep-interval-ms", "600000",
    ];
    let server = Server::start(&args);
    let token = register(&server, "cat", PASSWORD).await["token"].as_str().unwrap().to_string();
    let signed_in = Instant::now();
    let mut native = Client::with_token(&server, &token).await;
    native.ok("join", json!({"room": support::room("expiring"), "create": true})).await;
    let mut sio = SioWs::connect(&server, Some(&token)).await;

    tokio::time::sleep(Duration::from_millis(4_000)).await;
    native.ok("ping", json!({})).await;
    assert_eq!(call(&server, "GET", "/api/me", Some(&token), None).await.status, 200, "kept alive by its open connections");

    let close = loop {
        let v = native.recv().await;
        if v["type"] == "closed" {
            break v;
        }
    };
    let at = signed_in.elapsed();
    assert_eq!((close["code"].clone(), close["reason"].clone()), (json!(4003), json!("session_expired")), "{close}");
    assert!(at >= Duration::from_millis(5_500), "closed at the longest lifetime, not before: {at:?}");
    assert!(at < Duration::from_millis(8_500), "within the recheck interval of it: {at:?}");
    let packets = sio.until_closed().await;
    let error = packets.iter().position(|p| p.starts_with("42[\"error\"") && p.contains("session_expired")).expect("error event");
    let disconnect = packets.iter().position(|p| p == "41").expect("DISCONNECT");
    assert!(error < disconnect, "{packets:?}");
    assert_eq!(packets.last().unwrap(), "closed 4003");
    assert_eq!(call(&server, "GET", "/api/me", Some(&token), None).await.status, 401);
}
