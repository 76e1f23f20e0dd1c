//! Cross-site request forgery, against a real server: a state-changing HTTP request must come from this
//! server's origin (`Origin`, else `Referer`) or one of `--allowed-origins`; a Bearer token exempts it; a
//! request with the session cookie and neither header is refused; reading is never refused. The rule is
//! docs/security.md's "Cross-site requests" (the middleware is `src/http/csrf.rs`).

mod support;

use serde_json::Value;
use support::*;

const EVIL: &str = "https://evil.example";

/// A guest session: its token and the `Cookie` header a browser would send with it.
async fn session(server: &Server) -> (String, String) {
    let r = post_guest(server, br#"{"name":"victim"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().expect("token").to_string();
    (token.clone(), format!("confab_session={token}"))
}

/// POST /api/guest with the given headers besides the JSON content type.
async fn post(server: &Server, headers: &[(&str, &str)]) -> support::HttpResponse {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    http(server, "POST", "/api/guest", &all, br#"{"name":"forged"}"#).await
}

fn assert_refused(r: &support::HttpResponse, mentions: &str) {
    assert_eq!(r.status, 403, "{}", r.text());
    let body: Value = r.json();
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(mentions), "message {message:?} should mention {mentions:?}");
}

/// A page on another site that POSTs with the victim's cookie is refused with 403 `forbidden`, and no
/// session is created (no Set-Cookie replaces the victim's).
#[tokio::test]
async fn cross_site_post_with_the_cookie_is_refused() {
    let server = Server::start(&[]);
    let (_, cookie) = session(&server).await;
    let r = post(&server, &[("Cookie", &cookie), ("Origin", EVIL)]).await;
    assert_refused(&r, EVIL);
    assert!(r.header("set-cookie").is_none(), "a refused request must not set a cookie");
    // A Referer from the other site (no Origin) is refused the same way.
    let r = post(&server, &[("Cookie", &cookie), ("Referer", "https://evil.example/page")]).await;
    assert_refused(&r, "evil.example");
    // `Origin: null` (sandboxed frames, some redirects) is not ours either.
    assert_refused(&post(&server, &[("Cookie", &cookie), ("Origin", "null")]).await, "null");
}

/// The web UI's own requests pass: Origin of this server, or only a Referer of it.
#[tokio::test]
async fn same_origin_post_with_the_cookie_is_allowed() {
    let server = Server::start(&[]);
    let (_, cookie) = session(&server).await;
    let own = format!("http://{}", server.addr);
    let r = post(&server, &[("Cookie", &cookie), ("Origin", &own)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let referer = format!("http://{}/chat-room/general", server.addr);
    let r = post(&server, &[("Cookie", &cookie), ("Referer", &referer)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// An origin in `--allowed-origins` is as good as our own; one that only starts like it is not.
#[tokio::test]
async fn allowed_origins_pass_and_look_alikes_do_not() {
    let server = Server::start(&["--allowed-origins", "https://chat.example.org"]);
    let (_, cookie) = session(&server).await;
    let r = post(&server, &[("Cookie", &cookie), ("Origin", "https://chat.example.org")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(&server, &[("Cookie", &cookie), ("Origin", "https://chat.example.org.evil.example")]).await;
    assert_refused(&r, "chat.example.org.evil.example");
}

/// A request with `Authorization: Bearer` is not cookie-authenticated (a page cannot add that header
/// cross-site without a CORS preflight, which Confab never grants): it passes from anywhere.
#[tokio::test]
async fn bearer_requests_are_exempt() {
    let server = Server::start(&[]);
    let (token, _) = session(&server).await;
    let bearer = format!("Bearer {token}");
    let r = post(&server, &[("Authorization", &bearer), ("Origin", EVIL)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// With the session cookie and neither Origin nor Referer the request is refused (browsers always send
/// Origin on POST, so this is something that hides where it comes from); without the cookie such a
/// request is a script's or a bot's and passes.
#[tokio::test]
async fn cookie_without_origin_or_referer_is_refused_but_cookieless_clients_pass() {
    let server = Server::start(&[]);
    let (_, cookie) = session(&server).await;
    assert_refused(&post(&server, &[("Cookie", &cookie)]).await, "Origin or Referer");
    let r = post(&server, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A forged request without any cookie is refused too when it names a foreign origin: a cross-site
/// `POST /api/guest` would otherwise replace the victim's session with the attacker's choice.
#[tokio::test]
async fn cross_site_post_without_a_cookie_is_refused() {
    let server = Server::start(&[]);
    assert_refused(&post(&server, &[("Origin", EVIL)]).await, EVIL);
}

/// Every state-changing method is checked, before routing picks a handler (DELETE /api/me is not a
/// route: from our origin it is 405, from another site 403); reading is never refused.
#[tokio::test]
async fn every_unsafe_method_is_checked_and_reads_are_not() {
    let server = Server::start(&[]);
    let (_, cookie) = session(&server).await;
    let own = format!("http://{}", server.addr);
    for method in ["PUT", "PATCH", "DELETE", "POST"] {
        let r = http(&server, method, "/api/me", &[("Cookie", &cookie), ("Origin", EVIL)], b"").await;
        assert_refused(&r, EVIL);
        let r = http(&server, method, "/api/me", &[("Cookie", &cookie), ("Origin", &own)], b"").await;
        assert_eq!(r.status, 405, "{method} from our origin reaches the router: {}", r.text());
    }
    let r = http(&server, "GET", "/api/me", &[("Cookie", &cookie), ("Origin", EVIL)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["user"]["name"], "victim");
}

/// The same origin rule refuses a cross-site WebSocket upgrade (on /ws and Socket.IO), so a forged page
/// gets neither the API nor a socket.
#[tokio::test]
async fn cross_site_upgrades_stay_refused() {
    let server = Server::start(&[]);
    let (_, cookie) = session(&server).await;
    let url = format!("ws://{}/ws", server.addr);
    let foreign = connect_with_headers(&url, &[("origin", EVIL), ("cookie", &cookie)]).await;
    assert!(foreign.is_err(), "cross-site /ws upgrade accepted");
    let own = format!("http://{}", server.addr);
    assert!(connect_with_headers(&url, &[("origin", &own), ("cookie", &cookie)]).await.is_ok());
    let sio = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    assert!(connect_with_headers(&sio, &[("origin", EVIL), ("cookie", &cookie)]).await.is_err());
    // Engine.IO polling from another site: refused by the same rule.
    let r = http(&server, "GET", "/socket.io/?EIO=4&transport=polling", &[("Origin", EVIL)], b"").await;
    assert_eq!(r.status, 403, "{}", r.text());
}
