//! Hostile input, accounts part of the catalogue (docs/protocol.md "Hostile input"): what issue 15
//! added (register, sign in, the password, API tokens, webhooks) sent bodies built to break them,
//! and tokens built to break sign-in on `/ws`, Socket.IO and the HTTP API. Each is answered by a
//! documented error code (never a 5xx, never a plain-text rejection), look-alike usernames cannot
//! pass for an existing account, and afterwards nothing stored was lost or altered: the accounts
//! sign in with their passwords, their names are as they were, the room's history holds exactly
//! what was accepted. Runs on SQLite, and on PostgreSQL with `CONFAB_TEST_STORE=postgres` (which
//! refuses NUL in text: a NUL must still be a clean 4xx).

mod support;

use serde_json::{json, Value};
use support::accounts::{call, login, login_raw, register};
use support::{http, room, Client, HttpResponse, Server, SioWs};

const PASSWORD: &str = "correct horse battery";
const MAX_TEXT: usize = 200;

/// Generous limits: the catalogue is many requests from one address in a few seconds.
const ARGS: &[&str] = &[
    "--requests-per-second", "0", "--guest-burst-per-address", "10000", "--signin-attempts-per-address", "10000",
    "--signin-attempts-per-account", "10000", "--webhook-burst", "10000", "--max-text-bytes", "200",
];

/// One route of the catalogue: where it is and how it is called.
struct Route {
    name: &'static str,
    method: &'static str,
    path: String,
    bearer: Option<String>,
}

/// One row: a body, the content type it is sent with, and the status and error code it must get
/// (`None`: accepted, a 2xx).
struct Row {
    what: String,
    body: Vec<u8>,
    content_type: &'static str,
    answer: Option<(u16, &'static str)>,
}

fn row(what: impl Into<String>, body: impl Into<Vec<u8>>, answer: Option<(u16, &'static str)>) -> Row {
    Row { what: what.into(), body: body.into(), content_type: "application/json", answer }
}

fn refused(what: impl Into<String>, body: Value, status: u16, code: &'static str) -> Row {
    row(what, body.to_string(), Some((status, code)))
}

fn accepted(what: impl Into<String>, body: Value) -> Row {
    row(what, body.to_string(), None)
}

async fn send(server: &Server, route: &Route, r: &Row) -> HttpResponse {
    let auth = route.bearer.as_ref().map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", r.content_type), ("User-Agent", "hostile-accounts")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http(server, route.method, &route.path, &headers, &r.body).await
}

/// Sends every row to `route` and checks each answer: a refusal's status and JSON error code, or a
/// 2xx. Returns the accepted answers, in order.
async fn run(server: &Server, route: &Route, rows: &[Row]) -> Vec<HttpResponse> {
    let mut accepted = Vec::new();
    for r in rows {
        let answer = send(server, route, r).await;
        let shown = format!("{} {}: {}: {} {:.300}", route.name, route.path, r.what, answer.status, answer.text());
        assert!(answer.status < 500, "never a 5xx: {shown}");
        match r.answer {
            Some((status, code)) => {
                assert_eq!(answer.status, status, "{shown}");
                let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|_| panic!("a JSON error body: {shown}"));
                assert_eq!(body["error"]["code"], code, "{shown}");
            }
            None => {
                assert!((200..300).contains(&answer.status), "accepted: {shown}");
                accepted.push(answer);
            }
        }
    }
    accepted
}

/// Bodies no route reads: each is `bad_request`. `field` is a string field of the route's body.
fn malformed(field: &str) -> Vec<Row> {
    let bad = Some((400, "bad_request"));
    let mut rows = vec![
        row("not UTF-8 inside a string", [format!("{{\"{field}\":\"").into_bytes(), b"\xff\xfe\"}".to_vec()].concat(), bad),
        row("not UTF-8 at all", b"\xff\xfe\xfd\x00".to_vec(), bad),
        row("empty", "", bad),
        row("white space", "  \n", bad),
        row("truncated", format!("{{\"{field}\":\"x"), bad),
        row("nested 100,000 deep", format!("{{\"{field}\":{}", "[".repeat(100_000)), bad),
        row("nested objects 200 deep", format!("{}{}", "{\"a\":".repeat(200), "}".repeat(200)), bad),
        row("over the body limit (3 MiB)", format!("{{\"{field}\":\"{}\"}}", "x".repeat(3 << 20)), bad),
        row("an array", format!("[\"{field}\"]"), bad),
        row("a string", "\"x\"", bad),
        row("null", "null", bad),
        row("a number", "5", bad),
        row("a number beyond a double", format!("{{\"{field}\":1e400}}"), bad),
        row("a number beyond 2^64 for a string", format!("{{\"{field}\":18446744073709551616}}"), bad),
        row("a number for a string", format!("{{\"{field}\":-1}}"), bad),
        row("an object for a string", format!("{{\"{field}\":{{\"$gt\":\"\"}}}}"), bad),
        row("a byte-order mark", format!("\u{FEFF}{{\"{field}\":\"x\"}}"), bad),
        row("trailing bytes", format!("{{\"{field}\":\"x\"}} {{}}"), bad),
    ];
    rows.push(Row { what: "a form, not JSON".into(), body: format!("{field}=x").into_bytes(), content_type: "application/x-www-form-urlencoded", answer: bad });
    rows
}

/// Texts that are only text: stored and shown as typed.
const TEXTS: &[&str] = &[
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "'; DROP TABLE users; --", "alice' OR '1'='1", "../../etc/passwd",
    "${jndi:ldap://x}", "{{7*7}}", "%00%27",
];

/// Names that would pass for another, hide characters, or are not names: refused as display names.
const BAD_DISPLAY_NAMES: &[&str] = &[
    "", "   ", "\u{3000}\u{A0}", "a\u{0000}b", "\u{0000}", "a\u{001B}[31m", "a\u{0007}", "sa\u{200B}m", "\u{200D}", "\u{FEFF}Alice",
    "Alice\u{202E}", "\u{2066}Alice", "Al\u{00AD}ice", "Alice\u{061C}", "\u{3164}", "s\u{E000}m",
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
];

/// Not usernames: invisible, control, bidi, path steps, SQL, HTML, mixed scripts, bad lengths.
const BAD_USERNAMES: &[&str] = &[
    "", "ab", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "a\u{0000}bc", "\u{0000}\u{0000}\u{0000}", "sa\u{200B}m", "sam\u{202E}",
    "\u{2066}sam", "s\u{00AD}am", "a\u{001B}[31m", "sam\u{FEFF}", "../../etc", "..", "...", "a/b", "a\\b", "'; DROP TABLE users; --",
    "<script>", "sam smith", "sam@x", "\u{0440}\u{0430}ypal", "\u{0455}am", "\u{0430}lice",
];

/// The account whose name look-alikes try to take, and the room and webhook they try to post in.
struct World {
    alice: Value,
    bob_token: String,
    room: String,
    hook_path: String,
    hook_id: String,
    before: Vec<String>,
}

async fn world(server: &Server) -> World {
    let r = call(server, "POST", "/api/auth/register", None, Some(json!({"username": "alice", "password": PASSWORD, "display_name": "Alice"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let alice = r.json();
    let bob_token = register(server, "bob", PASSWORD).await["token"].as_str().unwrap().to_string();
    let token = alice["token"].as_str().unwrap();
    let room = room("hostile-accounts");
    let mut c = Client::with_token(server, token).await;
    c.ok("join", json!({"room": room, "create": true})).await;
    let before = vec!["first, from alice".to_string(), "<b>second</b> '; --".to_string()];
    for text in &before {
        c.say(&room, text).await;
    }
    let made = call(server, "POST", &format!("/api/rooms/{room}/webhooks"), Some(token), Some(json!({"name": "CI"}))).await;
    assert_eq!(made.status, 200, "{}", made.text());
    let made = made.json();
    let hook_path = made["path"].as_str().unwrap().to_string();
    let hook_id = made["webhook"]["id"].as_str().unwrap().to_string();
    World { alice, bob_token, room, hook_path, hook_id, before }
}

/// The room's message texts and their authors' names, oldest first, read over HTTP as `token`.
async fn history(server: &Server, room: &str, token: &str) -> Vec<(String, String)> {
    let r = call(server, "GET", &format!("/api/rooms/{room}/history?after=0&limit=500"), Some(token), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| (e["actor"]["name"].as_str().unwrap().to_string(), e["message"]["content"]["text"].as_str().unwrap().to_string()))
        .collect()
}

/// Register, sign in, the password, API tokens, webhook creation and webhook posts, each sent the
/// whole catalogue: every refusal has its documented status and code, what is accepted is stored
/// as sent, no look-alike takes `alice`, and afterwards every account signs in as before and the
/// room's history is exactly what was acknowledged.
#[tokio::test]
async fn hostile_account_requests_get_their_codes_and_nothing_stored_is_altered() {
    let server = Server::start(ARGS);
    let w = world(&server).await;
    let alice_token = w.alice["token"].as_str().unwrap().to_string();

    // --- register
    let register_route = Route { name: "register", method: "POST", path: "/api/auth/register".into(), bearer: None };
    let mut rows = malformed("username");
    for (i, bad) in BAD_USERNAMES.iter().enumerate() {
        rows.push(refused(format!("username {i} {bad:?}"), json!({"username": bad, "password": PASSWORD}), 400, "invalid_username"));
    }
    // Look-alikes of `alice`: case, width, white space, and a whole-script Cyrillic spelling.
    for look_alike in ["alice", "Alice", "ALICE", " alice ", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}", "\u{0430}\u{04CF}\u{0456}\u{0441}\u{0435}"] {
        rows.push(refused(format!("look-alike {look_alike:?}"), json!({"username": look_alike, "password": PASSWORD}), 409, "username_taken"));
    }
    for (i, bad) in BAD_DISPLAY_NAMES.iter().enumerate() {
        rows.push(refused(format!("display name {i} {bad:?}"), json!({"username": format!("dn{i}x"), "password": PASSWORD, "display_name": bad}), 400, "invalid_name"));
    }
    for (what, pw) in [("empty", String::new()), ("short", "short".into()), ("1025 bytes", "p".repeat(1025)), ("7 chars with NUL", "abc\u{0}def".into())] {
        rows.push(refused(format!("password {what}"), json!({"username": "pwtest", "password": pw}), 400, "weak_password"));
    }
    rows.push(refused("a number for display_name", json!({"username": "numbers", "password": PASSWORD, "display_name": 5}), 400, "bad_request"));
    rows.push(refused("no password", json!({"username": "nopass"}), 400, "bad_request"));
    rows.push(refused("null username", json!({"username": null, "password": PASSWORD}), 400, "bad_request"));
    // Accepted: HTML, SQL and path steps in a display name are only text; a password is any 8+ characters.
    let mut made: Vec<(String, String, String)> = Vec::new(); // (username, password, display name)
    for (i, text) in TEXTS.iter().enumerate() {
        let (u, p) = (format!("texts{i}"), format!("{PASSWORD} {i}"));
        rows.push(accepted(format!("display name {text:?}"), json!({"username": u, "password": p, "display_name": text})));
        made.push((u, p, text.to_string()));
    }
    let odd_password = "pass\u{0000}word\u{202E}\u{200B}<'\";--".to_string();
    rows.push(accepted("a password with NUL, bidi and SQL", json!({"username": "oddpass", "password": odd_password})));
    made.push(("oddpass".into(), odd_password.clone(), "oddpass".into()));
    let dup = br#"{"username": "first", "username": "dupuser", "password": "correct horse battery", "admin": true, "id": "u_x", "kind": "admin"}"#;
    rows.push(row("a duplicated field (the last counts) and unknown fields (ignored)", dup.to_vec(), None));
    made.push(("dupuser".into(), PASSWORD.into(), "dupuser".into()));
    let answers = run(&server, &register_route, &rows).await;
    assert_eq!(answers.len(), made.len());
    for (answer, (username, _, name)) in answers.iter().zip(&made) {
        let user = &answer.json()["user"];
        assert_eq!((user["username"].as_str(), user["name"].as_str()), (Some(username.as_str()), Some(name.as_str())), "{user}");
        assert_eq!(user["admin"], false, "an unknown `admin` field grants nothing: {user}");
        assert_ne!(user["id"], "u_x");
    }

    // --- sign in
    let login_route = Route { name: "login", method: "POST", path: "/api/auth/login".into(), bearer: None };
    let mut rows = malformed("username");
    let bad_credentials = |what: String, username: &str, password: &str| refused(what, json!({"username": username, "password": password}), 401, "bad_credentials");
    // (The mixed-script "\u{0430}lice" is alice's sign-in key: with alice's password it is alice signing in.)
    let not_alice = BAD_USERNAMES.iter().filter(|n| **n != "\u{0430}lice");
    for (i, name) in not_alice.chain(BAD_DISPLAY_NAMES).chain(TEXTS).enumerate() {
        rows.push(bad_credentials(format!("username {i} {name:?}"), name, PASSWORD));
    }
    for pw in ["", "' OR '1'='1", "correct horse battery\u{0000}", "\u{0000}", "correct horse batter\u{200B}y", "CORRECT HORSE BATTERY"] {
        rows.push(bad_credentials(format!("alice with password {pw:?}"), "alice", pw));
    }
    rows.push(bad_credentials("a password of 1 MiB".into(), "alice", &"p".repeat(1 << 20)));
    rows.push(bad_credentials("a username of 1 MiB".into(), &"a".repeat(1 << 20), PASSWORD));
    rows.push(refused("a number for the code", json!({"username": "alice", "password": PASSWORD, "code": 123456}), 400, "bad_request"));
    // The same account however its username is typed (NFKC, case): a sign-in, not an impersonation.
    for typed in ["alice", "ALICE", " Alice ", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}"] {
        rows.push(accepted(format!("alice typed {typed:?}"), json!({"username": typed, "password": PASSWORD, "code": "\u{0000}'--"})));
    }
    let answers = run(&server, &login_route, &rows).await;
    for a in answers {
        assert_eq!(a.json()["user"]["id"], w.alice["user"]["id"], "every accepted sign-in is alice's");
    }

    // --- change the password (every row fails: the password stays)
    let password_route = Route { name: "password", method: "POST", path: "/api/account/password".into(), bearer: Some(alice_token.clone()) };
    let mut rows = malformed("current");
    for current in ["", "\u{0000}", "' OR '1'='1", "correct horse battery\u{0000}", &"p".repeat(1 << 20)] {
        rows.push(refused(format!("current {:.20?}", current), json!({"current": current, "new": "a brand new password"}), 401, "bad_credentials"));
    }
    for new in ["", "short", "\u{0000}\u{0000}", &"n".repeat(1025)] {
        rows.push(refused(format!("new {:.20?}", new), json!({"current": PASSWORD, "new": new}), 400, "weak_password"));
    }
    rows.push(refused("no new password", json!({"current": PASSWORD}), 400, "bad_request"));
    run(&server, &password_route, &rows).await;

    // --- API tokens
    let token_route = Route { name: "token", method: "POST", path: "/api/account/tokens".into(), bearer: Some(alice_token.clone()) };
    let mut rows = malformed("name");
    for (i, bad) in BAD_DISPLAY_NAMES.iter().filter(|n| !n.starts_with('n')).enumerate() {
        rows.push(refused(format!("name {i} {bad:?}"), json!({"name": bad}), 400, "bad_request"));
    }
    rows.push(refused("a name of 65 characters", json!({"name": "t".repeat(65)}), 400, "bad_request"));
    let token_names: Vec<&str> = TEXTS.to_vec();
    for name in &token_names {
        rows.push(accepted(format!("name {name:?}"), json!({"name": name})));
    }
    let answers = run(&server, &token_route, &rows).await;
    let secrets: Vec<String> = answers.iter().map(|a| a.json()["secret"].as_str().unwrap().to_string()).collect();
    let listed = call(&server, "GET", "/api/account/tokens", Some(&alice_token), None).await.json();
    let names: Vec<&str> = listed["tokens"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut expected = token_names.clone();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "exactly the accepted tokens, named as sent");

    // --- webhooks: creating one, and posting to one
    let create_route =
        Route { name: "webhook create", method: "POST", path: format!("/api/rooms/{}/webhooks", w.room), bearer: Some(alice_token.clone()) };
    let mut rows = malformed("name");
    for (i, bad) in BAD_DISPLAY_NAMES.iter().enumerate() {
        rows.push(refused(format!("name {i} {bad:?}"), json!({"name": bad}), 400, "invalid_name"));
    }
    for name in TEXTS {
        rows.push(accepted(format!("name {name:?}"), json!({"name": name})));
    }
    let answers = run(&server, &create_route, &rows).await;
    assert_eq!(answers.len(), TEXTS.len());
    for (path, code) in [("..%2F..%2Fetc", "invalid_room_name"), ("%27%3B%20DROP%20TABLE%20rooms%3B%20--", "invalid_room_name"), ("a%00b", "invalid_room_name"), ("%3Cscript%3E", "invalid_room_name")] {
        let route = Route { name: "webhook create", method: "POST", path: format!("/api/rooms/{path}/webhooks"), bearer: Some(alice_token.clone()) };
        run(&server, &route, &[accepted_or(code)]).await;
    }

    let post_route = Route { name: "webhook post", method: "POST", path: w.hook_path.clone(), bearer: None };
    let mut rows = malformed("text");
    // The webhook's own body limit (6 × --max-text-bytes + 4 KiB): anything larger is 413.
    let limit = MAX_TEXT * 6 + 4096;
    rows.retain(|r| !r.what.starts_with("a form"));
    for r in rows.iter_mut().filter(|r| r.body.len() > limit) {
        r.answer = Some((413, "bad_request"));
    }
    rows.push(row("one byte over the body limit", format!("{{\"text\":\"{}\"}}", "x".repeat(limit - 11 + 1)), Some((413, "bad_request"))));
    let form = |what: &str, body: &[u8], answer| Row { what: what.into(), body: body.to_vec(), content_type: "application/x-www-form-urlencoded", answer };
    rows.push(form("a form without payload", b"text=hi", Some((400, "bad_request"))));
    rows.push(form("a form that is not UTF-8", b"payload=\xff", Some((400, "bad_request"))));
    rows.push(form("a form whose payload is not UTF-8 once decoded", b"payload=%7B%22text%22%3A%22%FF%22", Some((400, "bad_request"))));
    rows.push(form("a form whose payload is nested deep", format!("payload={}", "%5B".repeat(1000)).as_bytes(), Some((400, "bad_request"))));
    rows.push(refused("no text", json!({"username": "CI"}), 400, "text_empty"));
    rows.push(refused("white space", json!({"text": " \n\t "}), 400, "text_empty"));
    rows.push(refused("text over --max-text-bytes", json!({"text": "é".repeat(MAX_TEXT / 2 + 1)}), 400, "text_too_long"));
    for (i, bad) in BAD_DISPLAY_NAMES.iter().filter(|n| !n.trim().is_empty()).enumerate() {
        rows.push(refused(format!("username {i} {bad:?}"), json!({"text": "x", "username": bad}), 400, "invalid_name"));
    }
    let mut posted: Vec<(String, String)> = Vec::new();
    let controls = "a\u{0000}b\u{0007}\u{202E}gnp.exe\u{200B}\u{FEFF}";
    for text in TEXTS.iter().copied().chain([controls, &"x".repeat(MAX_TEXT)]) {
        rows.push(accepted(format!("text {:.40?}", text), json!({"text": text, "username": "Deploy <bot>"})));
        posted.push(("Deploy <bot>".into(), text.to_string()));
    }
    rows.push(form("a form with control characters", b"payload=%7B%22text%22%3A%22a%5Cu0000%E2%80%AE%22%7D", None));
    posted.push(("CI".into(), "a\u{0000}\u{202E}".into()));
    rows.push(row("duplicate text (the last counts), unknown fields", br#"{"text": "one", "text": "two", "channel": "general", "blocks": [[[[]]]]}"#.to_vec(), None));
    posted.push(("CI".into(), "two".into()));
    run(&server, &post_route, &rows).await;
    let secret = w.hook_path.rsplit('/').next().unwrap();
    for path in [
        format!("/hooks/{}/{secret}x", w.hook_id),
        format!("/hooks/{}%00/{secret}", w.hook_id),
        format!("/hooks/w_%27%20OR%20%271%27%3D%271/{secret}"),
        format!("/hooks/{}/%00", w.hook_id),
        format!("/hooks/{}/{}", w.hook_id, "s".repeat(4096)),
        "/hooks/%FF%FE/x".into(),
    ] {
        let route = Route { name: "webhook post", method: "POST", path, bearer: None };
        run(&server, &route, &[refused("a wrong or hostile path", json!({"text": "not posted"}), 404, "webhook_not_found")]).await;
    }

    // --- naming a person by a hostile username: a direct conversation, adding a room member
    let direct_route = Route { name: "direct", method: "POST", path: "/api/direct".into(), bearer: Some(alice_token.clone()) };
    let members_route =
        Route { name: "add member", method: "POST", path: format!("/api/rooms/{}/members", w.room), bearer: Some(alice_token.clone()) };
    let mut direct_rows = Vec::new();
    let mut member_rows = Vec::new();
    for (i, name) in BAD_USERNAMES.iter().filter(|n| !n.is_empty() && **n != "\u{0430}lice").chain(TEXTS).enumerate() {
        direct_rows.push(refused(format!("with {i} {name:?}"), json!({"with": [name]}), 404, "user_not_found"));
        member_rows.push(refused(format!("username {i} {name:?}"), json!({"username": name}), 400, "bad_target"));
    }
    direct_rows.push(refused("an account id with a NUL", json!({"with": ["u_\u{0000}"]}), 404, "user_not_found"));
    member_rows.push(refused("an account id with a NUL", json!({"actor_id": "u_\u{0000}"}), 400, "bad_target"));
    for path in ["kick", "bans"] {
        let route = Route { name: "moderation", method: "POST", path: format!("/api/rooms/{}/{path}", w.room), bearer: Some(alice_token.clone()) };
        run(&server, &route, &[refused("an actor id with a NUL", json!({"actor_id": "g_\u{0000}'--"}), 400, "bad_target")]).await;
    }
    run(&server, &direct_route, &direct_rows).await;
    run(&server, &members_route, &member_rows).await;

    // --- revoking a session or a token by a hostile id: nothing of the kind on this account
    for path in ["/api/account/sessions/s_%00", "/api/account/tokens/t_%00x", "/api/account/tokens/t_%27%20OR%20%271%27%3D%271", "/api/account/sessions/..%2F..%2Fetc", "/api/account/sessions/s_%E2%80%AE"] {
        let r = call(&server, "DELETE", path, Some(&alice_token), None).await;
        assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("bad_request")), "DELETE {path}: {}", r.text());
    }

    // --- nothing stored was lost or altered
    for (username, password, name) in &made {
        let token = login(&server, username, password).await;
        let me = call(&server, "GET", "/api/me", Some(&token), None).await.json();
        assert_eq!(me["user"]["name"], name.as_str(), "{username}");
    }
    let token = login(&server, "alice", PASSWORD).await;
    let me = call(&server, "GET", "/api/me", Some(&token), None).await.json();
    assert_eq!((me["user"]["name"].as_str(), me["user"]["admin"].as_bool()), (Some("Alice"), Some(false)));
    assert_eq!(login_raw(&server, "alice", "a brand new password", None).await.status, 401, "the password did not change");
    login(&server, "bob", PASSWORD).await;
    let me = call(&server, "GET", "/api/me", Some(&w.bob_token), None).await;
    assert_eq!(me.status, 200, "bob's session survived: {}", me.text());
    for secret in &secrets {
        assert_eq!(call(&server, "GET", "/api/me", Some(secret), None).await.json()["user"]["username"], "alice");
    }
    let mut expected: Vec<(String, String)> = w.before.iter().map(|t| ("Alice".to_string(), t.clone())).collect();
    expected.extend(posted);
    assert_eq!(history(&server, &w.room, &token).await, expected, "history is exactly what was acknowledged, byte for byte");
}

/// A row sent to a route whose path is refused before its body is read.
fn accepted_or(code: &'static str) -> Row {
    refused("a hostile room name in the path", json!({"name": "x"}), 400, code)
}

/// Tokens built to break sign-in, on every way a token comes in: `/ws` `hello {token}`, `?token=`
/// on the upgrade, the session cookie, `Authorization: Bearer` on the API and Socket.IO's
/// `auth.token`. Each is `unauthenticated` (Socket.IO: a CONNECT error with that code); the
/// account's real token works after all of them.
#[tokio::test]
async fn hostile_tokens_are_unauthenticated_on_every_way_in() {
    let server = Server::start(ARGS);
    let alice = register(&server, "alice", PASSWORD).await;
    let real = alice["token"].as_str().unwrap().to_string();
    let long = format!("cfs_{}", "a".repeat(32 * 1024)); // under --max-frame-bytes: a hello, not a frame too big
    let tokens: Vec<String> = [
        "", " ", "cfs_", "cft_", "cfs_\u{0000}", "\u{0000}", "cft_' OR '1'='1", "cfs_'; DROP TABLE sessions; --", "<script>alert(1)</script>",
        "cfs_\u{202E}x", "cft_\u{200B}", "../../etc/passwd", "%00", "null",
    ]
    .iter()
    .map(|t| t.to_string())
    .chain([long.clone(), format!("{real}x"), real[..real.len() - 1].to_string(), real.to_uppercase(), format!("{real}\u{0000}"), real.replacen("cfs_", "cft_", 1)])
    .collect();
    for (i, token) in tokens.iter().enumerate() {
        let mut c = Client::connect_raw(&server).await;
        let v = c.request("hello", json!({"token": token})).await;
        assert_eq!((v["type"].as_str(), v["code"].as_str()), (Some("error"), Some("unauthenticated")), "hello {i}: {v}");

        let mut s = SioWs::open(&server).await;
        s.send(&format!("40{}", json!({"token": token}))).await;
        let answer = s.recv().await;
        let err: Value = serde_json::from_str(answer.strip_prefix("44").unwrap_or_else(|| panic!("connect {i}: {answer}"))).unwrap();
        assert_eq!(err["data"]["code"], "unauthenticated", "connect {i}: {err}");

        if token.bytes().all(|b| (0x21..0x7f).contains(&b)) && token.len() < 8192 {
            let auth = format!("Bearer {token}");
            let r = http(&server, "GET", "/api/me", &[("Authorization", &auth)], b"").await;
            assert_eq!((r.status, r.json()["error"]["code"].as_str()), (401, Some("unauthenticated")), "bearer {i}");
            let cookie = format!("confab_session={token}");
            let r = http(&server, "GET", "/api/me", &[("Cookie", &cookie)], b"").await;
            assert_eq!((r.status, r.json()["error"]["code"].as_str()), (401, Some("unauthenticated")), "cookie {i}");
        }
    }
    // Escaped into the upgrade's query string: refused before the upgrade or by its first frame.
    for token in ["cfs_%00", "%27%20OR%201%3D1", "cfs_%E2%80%AE", "%FF%FE"] {
        let r = http(&server, "GET", &format!("/api/me?token={token}"), &[], b"").await;
        assert_eq!(r.status, 401, "?token={token}: {}", r.text());
    }
    // Oversized headers are the HTTP server's to refuse (431), never a 5xx.
    let auth = format!("Bearer {long}");
    let r = http(&server, "GET", "/api/me", &[("Authorization", &auth)], b"").await;
    assert!(r.status == 401 || r.status == 431, "a 32 KiB bearer token: {}", r.status);

    // The real token still works, on each way in.
    let c = Client::with_token(&server, &real).await;
    assert_eq!(c.user["id"], alice["user"]["id"]);
    SioWs::connect(&server, Some(&real)).await;
    let r = call(&server, "GET", "/api/me", Some(&real), None).await;
    assert_eq!(r.json()["user"]["username"], "alice");
}
