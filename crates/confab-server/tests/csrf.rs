//! Cross-site request forgery, against a real server: a state-changing HTTP request must come from this
//! server's origin (`Origin`, else `Referer`) or one of `--allowed-origins`; a Bearer token exempts it; a
//! request with the session cookie and neither header is refused; reading is never refused. The rule is
//! docs/security.md's "Cross-site requests" (the middleware is `src/http/csrf.rs`). The last test walks
//! every state-changing route of the live server's OpenAPI document with forged and genuine requests.

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

/// Routes the walk below does not send forged requests to, and why.
const EXEMPT: &[(&str, &str, &str)] = &[
    ("POST", "/hooks/{id}/{secret}", "incoming webhooks: other servers post them, the secret is in the URL, and no cookie is read"),
    ("*", "/socket.io/", "Engine.IO polling applies the same origin rule itself (and answers CORS); not in the OpenAPI document"),
];
// Bearer-authenticated requests are exempt on every route (`bearer_requests_are_exempt`): a page cannot
// add the header cross-site. The walk checks that no route of the document is bearer-only, which would
// have to be listed above.

const PASSWORD: &str = "correct horse battery";

/// The request body the walk sends to each route it knows (the forged copies carry the same one),
/// chosen so that the same request from our own origin does what the route is for; `None` for a route
/// added since, which gets `{}` and must then only not be refused as cross-site.
fn body_for(method: &str, template: &str, ids: &WalkIds) -> Option<Value> {
    use serde_json::json;
    Some(match (method, template) {
        ("POST", "/api/guest") => json!({"name": "walker"}),
        ("POST", "/api/auth/register") => json!({"username": "walker", "password": PASSWORD}),
        ("POST", "/api/auth/login") => json!({"username": "ann", "password": PASSWORD}),
        ("PATCH", "/api/account") => json!({"display_name": "Ann Walked"}),
        ("POST", "/api/account/password") => json!({"current": PASSWORD, "new": "another horse battery"}),
        ("POST", "/api/account/tokens") => json!({"name": "walked"}),
        ("POST", "/api/account/2fa/enable") => json!({"code": "000000"}),
        ("POST", "/api/account/2fa/disable") => json!({"password": PASSWORD}),
        ("POST", "/api/admin/invites") => json!({"expires_in_secs": 3600}),
        ("POST", "/api/rooms") => json!({"name": "walked-room"}),
        ("POST", "/api/rooms/{name}/members") => json!({"actor_id": ids.dan}),
        ("PUT", "/api/rooms/{name}/members/{actor_id}") => json!({"role": "moderator"}),
        ("POST", "/api/rooms/{name}/owner") => json!({"actor_id": ids.bob}),
        ("POST", "/api/rooms/{name}/kick") | ("POST", "/api/rooms/{name}/bans") => json!({"actor_id": ids.dan}),
        ("POST", "/api/direct") => json!({"with": [ids.bob]}),
        ("POST", "/api/rooms/{name}/webhooks") => json!({"name": "walked hook"}),
        ("POST", "/api/rooms/{name}/invites") => json!({}),
        ("POST", "/api/auth/logout" | "/api/account/2fa/setup" | "/api/invites/{code}/accept")
        | ("DELETE", "/api/account/sessions/{id}" | "/api/account/tokens/{id}" | "/api/rooms/{name}/bans/{actor_id}" | "/api/rooms/{name}/webhooks/{id}") => Value::Null,
        _ => return None,
    })
}

/// Known routes whose genuine request the walk cannot make succeed, and what they answer instead.
const NOT_DONE: &[(&str, &str, u16, &str)] = &[
    ("POST", "/api/account/2fa/enable", 401, "bad_credentials: the walk sends a made-up TOTP code"),
    ("POST", "/api/admin/invites", 403, "forbidden: the victim is not an administrator"),
];

/// Real values for the path parameters of the walked routes.
struct WalkIds {
    room: String,
    bob: String,
    carl: String,
    dan: String,
    other_session: String,
    token: String,
    invite: String,
    webhook: String,
}

/// The path with its parameters filled in; a parameter the walk does not know fails the test, so a new
/// route cannot slip past it.
fn fill(template: &str, ids: &WalkIds) -> String {
    let value = |param: &str| -> &str {
        match (param, template) {
            ("name", _) => &ids.room,
            ("id", t) if t.starts_with("/api/account/sessions/") => &ids.other_session,
            ("id", t) if t.starts_with("/api/account/tokens/") => &ids.token,
            ("id", t) if t.contains("/webhooks/") => &ids.webhook,
            ("actor_id", t) if t.contains("/members/") => &ids.bob,
            ("actor_id", t) if t.contains("/bans/") => &ids.carl,
            ("code", t) if t.starts_with("/api/invites/") => &ids.invite,
            _ => panic!("the CSRF walk has no value for {{{param}}} in {template}: add one to `fill`"),
        }
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("closing brace") + open;
        out.push_str(&rest[..open]);
        out.push_str(value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// What the walk's routes could have changed, as the account and its room's members see it (without
/// last-use times, which reading itself may move).
async fn state(server: &Server, ann: &str, bob: &str, room: &str) -> Vec<Value> {
    let reads = [
        (ann, "/api/me".to_string()),
        (ann, "/api/account/sessions".to_string()),
        (ann, "/api/account/tokens".to_string()),
        (ann, "/api/my/rooms".to_string()),
        (ann, "/api/rooms".to_string()),
        (ann, format!("/api/rooms/{room}/members")),
        (ann, format!("/api/rooms/{room}/bans")),
        (ann, format!("/api/rooms/{room}/webhooks")),
        (bob, "/api/my/rooms".to_string()),
    ];
    state_of(server, &reads).await
}

/// The answers of these reads (bearer token, path).
async fn state_of(server: &Server, reads: &[(&str, String)]) -> Vec<Value> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("last_used_at");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut seen = Vec::new();
    for (token, path) in reads {
        let bearer = format!("Bearer {token}");
        let r = http(server, "GET", path, &[("Authorization", &bearer)], b"").await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        let mut v = r.json();
        strip(&mut v);
        seen.push(v);
    }
    seen
}

fn is_csrf_refusal(r: &support::HttpResponse) -> bool {
    r.status == 403 && {
        let message = r.json()["error"]["message"].as_str().unwrap_or_default().to_string();
        message.starts_with("cross-site request refused") || message.contains("needs an Origin or Referer")
    }
}

/// Every state-changing route of the OpenAPI document (`GET /api/openapi.json` of the running server:
/// each POST, PUT, PATCH and DELETE, its path parameters filled with real ids) is sent with the victim's
/// session cookie three ways a forged page could: a foreign `Origin`; no `Origin` and a foreign
/// `Referer`; neither header. Each is refused with the documented answer (403 `forbidden`, the message
/// naming the header) and sets no cookie, and nothing the routes could change has changed afterwards.
/// Then the same requests from our own origin are not refused for CSRF reasons (they reach their
/// handlers: a forged `register` of `walker` did not take the name, the genuine one does).
#[tokio::test]
async fn every_state_changing_route_of_the_openapi_document_refuses_forged_requests() {
    use serde_json::json;
    use support::accounts::account;
    let server = Server::start(&[]);
    let ann = account(&server, "Ann").await;
    let (bob, carl, dan) = (account(&server, "Bob").await, account(&server, "Carl").await, account(&server, "Dan").await);
    let api = |token: &str, method: &'static str, path: String, body: Value| {
        let (server, bearer) = (&server, format!("Bearer {token}"));
        async move {
            let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
            let r = http(server, method, &path, &headers, body.to_string().as_bytes()).await;
            assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text());
            r.json()
        }
    };
    let room = "walk-room".to_string();
    api(&ann.token, "POST", "/api/rooms".into(), json!({"name": room, "private": true})).await;
    for who in [&bob, &carl] {
        api(&ann.token, "POST", format!("/api/rooms/{room}/members"), json!({"actor_id": who.id})).await;
    }
    api(&ann.token, "POST", format!("/api/rooms/{room}/bans"), json!({"actor_id": carl.id})).await;
    let invite = api(&ann.token, "POST", format!("/api/rooms/{room}/invites"), json!({})).await["code"].as_str().expect("invite code").to_string();
    let webhook = api(&ann.token, "POST", format!("/api/rooms/{room}/webhooks"), json!({"name": "hook"})).await["webhook"]["id"]
        .as_str()
        .expect("webhook id")
        .to_string();
    let token = api(&ann.token, "POST", "/api/account/tokens".into(), json!({"name": "bot"})).await["token"]["id"].as_str().expect("token id").to_string();
    let second = support::accounts::login(&server, "ann", PASSWORD).await;
    let sessions = api(&ann.token, "GET", "/api/account/sessions".into(), Value::Null).await;
    let other_session = sessions["sessions"].as_array().unwrap().iter().find(|s| s["current"] == false).expect("the second session")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = WalkIds { room: room.clone(), bob: bob.id.clone(), carl: carl.id.clone(), dan: dan.id.clone(), other_session, token, invite, webhook };

    let doc = http(&server, "GET", "/api/openapi.json", &[], b"").await.json();
    let mut routes = Vec::new();
    for (template, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            if !matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
                continue;
            }
            if EXEMPT.iter().any(|(m, p, _)| (*m == method || *m == "*") && p == template) {
                continue;
            }
            if let Some(schemes) = op["security"].as_array() {
                let cookie = schemes.iter().any(|s| s.get("cookie").is_some() || s.as_object().is_some_and(|o| o.is_empty()));
                assert!(cookie, "{method} {template} is bearer-only: list it in EXEMPT with the reason");
            }
            routes.push((method, template.clone()));
        }
    }
    assert!(routes.len() >= 25, "the document lists {} state-changing routes: {routes:?}", routes.len());
    // The genuine requests below run in an order in which each can do what it is for: sign in and end
    // the other session before the password changes, add Dan before kicking him, set two-factor up
    // before trying a code, hand the room over after the routes that need its owner, sign out last.
    let rank = |m: &str, t: &str| match (m, t) {
        ("POST", "/api/auth/login") | ("DELETE", "/api/account/sessions/{id}") | ("POST", "/api/rooms/{name}/members") => -2,
        ("POST", "/api/rooms/{name}/kick") | ("POST", "/api/account/2fa/setup") => -1,
        ("POST", "/api/account/2fa/disable") | ("POST", "/api/account/password") => 1,
        ("POST", "/api/rooms/{name}/owner") => 2,
        ("POST", "/api/auth/logout") => 3,
        _ => 0,
    };
    routes.sort_by_key(|(m, t)| rank(m, t));

    let cookie = format!("confab_session={}", ann.token);
    let own = format!("http://{}", server.addr);
    let before = state(&server, &second, &bob.token, &room).await;
    for (method, template) in &routes {
        let path = fill(template, &ids);
        let body = body_for(method, template, &ids).unwrap_or_else(|| json!({})).to_string();
        let forged: [&[(&str, &str)]; 3] = [
            &[("Origin", EVIL)],
            &[("Referer", "https://evil.example/trap.html")],
            &[],
        ];
        for (i, extra) in forged.iter().enumerate() {
            let mut headers = vec![("Cookie", cookie.as_str()), ("Content-Type", "application/json")];
            headers.extend_from_slice(extra);
            let r = http(&server, method, &path, &headers, body.as_bytes()).await;
            let mention = ["evil.example", "evil.example/trap.html", "Origin or Referer"][i];
            assert_eq!(r.status, 403, "{method} {path} forged with {extra:?}: {}", r.text());
            assert_eq!(r.json()["error"]["code"], "forbidden", "{method} {path}");
            let message = r.json()["error"]["message"].as_str().unwrap_or_default().to_string();
            assert!(message.contains(mention), "{method} {path} with {extra:?}: {message:?}");
            assert!(is_csrf_refusal(&r), "{method} {path}: {message:?}");
            assert!(r.header("set-cookie").is_none(), "{method} {path}: a refused request set a cookie");
        }
    }
    assert_eq!(state(&server, &second, &bob.token, &room).await, before, "a forged request changed something");

    let mut answered = Vec::new();
    for (method, template) in &routes {
        let path = fill(template, &ids);
        let known = body_for(method, template, &ids);
        let body = known.clone().unwrap_or_else(|| json!({})).to_string();
        let headers = [("Cookie", cookie.as_str()), ("Content-Type", "application/json"), ("Origin", own.as_str())];
        let r = http(&server, method, &path, &headers, body.as_bytes()).await;
        assert!(!is_csrf_refusal(&r), "{method} {path} from our own origin was refused as cross-site: {}", r.text());
        assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.text());
        if known.is_some() {
            match NOT_DONE.iter().find(|(m, t, _, _)| m == method && t == template) {
                Some((_, _, status, why)) => assert_eq!(r.status, *status, "{method} {path} ({why}): {}", r.text()),
                None => assert!(r.status < 300, "{method} {path} from our own origin did not do its work: {} {}", r.status, r.text()),
            }
        }
        answered.push((method.clone(), template.clone(), r.status));
    }
    let walker = answered.iter().find(|(m, t, _)| m == "POST" && t == "/api/auth/register").expect("register walked");
    assert_eq!(walker.2, 200, "the forged registrations did not take the name: {answered:?}");
    // The account's own sessions are over now (password changed, signed out); Bob's view shows the effects.
    let bobs_rooms = before.last().cloned();
    let after = state_of(&server, &[(bob.token.as_str(), "/api/my/rooms".to_string())]).await;
    assert_ne!(after.last().cloned(), bobs_rooms, "the genuine requests had effects (a direct room, the room handed over)");
}
