//! Incoming webhooks end to end: a moderator makes one over the HTTP API, and plain HTTP requests
//! (what `curl` or a CI notifier sends) post Slack's payload to it, against a running server, on
//! SQLite or (`CONFAB_TEST_STORE=postgres`) PostgreSQL. Members see the messages live on both protocols.

mod support;

use serde_json::{json, Value};
use support::{http, Client, HttpResponse, Server, SioWs};

fn auth(c: &Client) -> String {
    format!("Bearer {}", c.token())
}

async fn create(server: &Server, owner: &Client, room: &str, name: &str) -> HttpResponse {
    let body = json!({"name": name}).to_string();
    let headers = [("Authorization", auth(owner)), ("Content-Type", "application/json".into())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http(server, "POST", &format!("/api/rooms/{room}/webhooks"), &headers, body.as_bytes()).await
}

/// A POST of `body` (JSON unless `content_type` says otherwise) to a webhook path.
async fn hook(server: &Server, path: &str, content_type: &str, body: &[u8]) -> HttpResponse {
    http(server, "POST", path, &[("Content-Type", content_type)], body).await
}

/// A room owner makes a webhook (its URL carries a secret, shown once, never listed); a POST of
/// Slack's JSON answers `200 ok` and its text reaches the room's members live on `/ws` and
/// Socket.IO, under the `username` it gave; Slack's form encoding (`payload=<json>`) works too and
/// falls back to the webhook's name. The message is in history as the webhook's (`w_`) actor.
#[tokio::test]
async fn a_webhook_posts_as_slack_does_and_members_see_it_live() {
    let server = Server::start(&[]);
    let room = support::room("alerts");
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": room, "create": true})).await;
    let mut sio = SioWs::connect(&server, None).await;
    let joined = sio.call(1, "join_room", json!({"room": room, "user": "bob"})).await;
    assert_eq!(joined["ok"], true, "{joined}");

    let made = create(&server, &ann, &room, "CI").await;
    assert_eq!(made.status, 200, "{}", made.text());
    let made = made.json();
    let (url, path) = (made["url"].as_str().unwrap(), made["path"].as_str().unwrap().to_string());
    let id = made["webhook"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("w_"), "{made}");
    assert_eq!(url, format!("http://{}{path}", server.addr));
    let secret = path.rsplit('/').next().unwrap().to_string();
    assert!(secret.len() >= 40, "a long random secret: {secret}");

    let r = hook(&server, &path, "application/json", br#"{"text": "build 42 passed", "username": "Jenkins", "icon_emoji": ":ok:"}"#).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let event = ann.event_of("message").await;
    assert_eq!(event["message"]["content"]["text"], "build 42 passed");
    assert_eq!((event["actor"]["name"].as_str(), event["actor"]["id"].as_str()), (Some("Jenkins"), Some(id.as_str())));
    let live = loop {
        let m = sio.event("room_message").await;
        if m["user"] != "System" {
            break m;
        }
    };
    assert_eq!((live["user"].as_str(), live["message"].as_str()), (Some("Jenkins"), Some("build 42 passed")));

    let form = format!("payload={}", "%7B%22text%22%3A%22deploy+done%22%7D");
    let r = hook(&server, &path, "application/x-www-form-urlencoded", form.as_bytes()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let event = ann.event_of("message").await;
    assert_eq!((event["actor"]["name"].as_str(), event["message"]["content"]["text"].as_str()), (Some("CI"), Some("deploy done")));

    let listed = http(&server, "GET", &format!("/api/rooms/{room}/webhooks"), &[("Authorization", &auth(&ann))], b"").await;
    assert_eq!(listed.status, 200);
    let listed = listed.json();
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert_eq!(listed["webhooks"][0]["name"], "CI");
    assert!(!listed.to_string().contains(&secret), "the secret is shown once: {listed}");
    let history = ann.ok("history", json!({"room": room, "after": 0})).await;
    let by_hook: Vec<&Value> = history["events"].as_array().unwrap().iter().filter(|e| e["actor"]["id"] == id.as_str()).collect();
    assert_eq!(by_hook.len(), 2);
}

/// A wrong secret, an id no webhook has and a revoked webhook all get one and the same answer (404
/// `webhook_not_found`); revoking is for the room's moderators (204), and a revoked webhook is no
/// longer listed. Someone who does not moderate the room can neither create, list nor revoke.
#[tokio::test]
async fn wrong_secret_unknown_and_revoked_webhooks_get_one_404() {
    let server = Server::start(&[]);
    let room = support::room("ops");
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": room, "create": true})).await;
    let made = create(&server, &ann, &room, "Alerts").await.json();
    let path = made["path"].as_str().unwrap().to_string();
    let id = made["webhook"]["id"].as_str().unwrap().to_string();
    let body = br#"{"text": "disk full"}"#;

    let mut wrong = path.clone();
    wrong.pop();
    wrong.push(if path.ends_with('A') { 'B' } else { 'A' });
    let answers = [
        hook(&server, &wrong, "application/json", body).await,
        hook(&server, "/hooks/w_nosuchwebhookxxxxxxx/secret", "application/json", body).await,
    ];
    for r in &answers {
        assert_eq!(r.status, 404, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "webhook_not_found");
    }
    assert_eq!(answers[0].body, answers[1].body, "no difference to learn from");

    let mut bob = Client::guest(&server, "bob").await;
    bob.ok("join", json!({"room": room})).await;
    assert_eq!(create(&server, &bob, &room, "mine").await.status, 403, "members do not make webhooks");
    let r = http(&server, "GET", &format!("/api/rooms/{room}/webhooks"), &[("Authorization", &auth(&bob))], b"").await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (403, Some("forbidden")));
    let del = format!("/api/rooms/{room}/webhooks/{id}");
    assert_eq!(http(&server, "DELETE", &del, &[("Authorization", &auth(&bob))], b"").await.status, 403);
    assert_eq!(hook(&server, &path, "application/json", body).await.status, 200, "still live");

    let r = http(&server, "DELETE", &del, &[("Authorization", &auth(&ann))], b"").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let after = hook(&server, &path, "application/json", body).await;
    assert_eq!((after.status, &after.body), (404, &answers[1].body), "revoked: the same answer as unknown");
    let again = http(&server, "DELETE", &del, &[("Authorization", &auth(&ann))], b"").await;
    assert_eq!((again.status, again.json()["error"]["code"].as_str()), (404, Some("webhook_not_found")));
    let listed = http(&server, "GET", &format!("/api/rooms/{room}/webhooks"), &[("Authorization", &auth(&ann))], b"").await;
    assert_eq!(listed.json()["webhooks"], json!([]));
    let nowhere = create(&server, &ann, "no-such-room-here", "x").await;
    assert_eq!((nowhere.status, nowhere.json()["error"]["code"].as_str()), (404, Some("room_not_found")));
}

/// What a webhook refuses, each with its documented answer: bad JSON and a form without `payload`
/// (400 `bad_request`), no text (400 `text_empty`), text over `--max-text-bytes` (400
/// `text_too_long`), a body past the webhook's body limit (413 `bad_request`), a `username` that is not a valid
/// display name (400 `invalid_name`). Nothing refused reaches the room.
#[tokio::test]
async fn bad_payloads_get_their_documented_answers() {
    let server = Server::start(&["--max-text-bytes", "100"]);
    let room = support::room("ci");
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": room, "create": true})).await;
    let path = create(&server, &ann, &room, "CI").await.json()["path"].as_str().unwrap().to_string();
    let long = json!({"text": "x".repeat(101)}).to_string();
    let huge = vec![b' '; 100 * 6 + 4096 + 1];
    let cases: [(&str, &[u8], u16, Option<&str>); 8] = [
        ("application/json", b"{not json", 400, Some("bad_request")),
        ("application/json", b"[\"text\"]", 400, Some("bad_request")),
        ("application/x-www-form-urlencoded", b"text=hi", 400, Some("bad_request")),
        ("application/json", br#"{"username": "CI"}"#, 400, Some("text_empty")),
        ("application/json", br#"{"text": "   "}"#, 400, Some("text_empty")),
        ("application/json", long.as_bytes(), 400, Some("text_too_long")),
        ("application/json", br#"{"text": "hi", "username": "evil\u202e"}"#, 400, Some("invalid_name")),
        ("application/json", &huge, 413, Some("bad_request")),
    ];
    for (content_type, body, status, code) in cases {
        let r = hook(&server, &path, content_type, body).await;
        assert_eq!(r.status, status, "{:?}: {}", String::from_utf8_lossy(&body[..body.len().min(40)]), r.text());
        if let Some(code) = code {
            assert_eq!(r.json()["error"]["code"], code);
        }
    }
    let ok = hook(&server, &path, "application/json", json!({"text": "x".repeat(100)}).to_string().as_bytes()).await;
    assert_eq!(ok.status, 200, "exactly the limit is fine: {}", ok.text());
    let history = ann.ok("history", json!({"room": room, "after": 0})).await;
    let messages = history["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "message").count();
    assert_eq!(messages, 1, "{history}");
}

/// Each webhook has its own bucket: past `--webhook-burst` (at `--webhook-messages-per-minute`) a
/// POST is refused with 429 `rate_limited` and a `Retry-After`, and stores nothing; another webhook
/// of the same room still posts.
#[tokio::test]
async fn a_webhook_past_its_rate_is_refused_with_retry_after() {
    let server = Server::start(&["--webhook-burst", "2", "--webhook-messages-per-minute", "1"]);
    let room = support::room("noisy");
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": room, "create": true})).await;
    let noisy = create(&server, &ann, &room, "noisy").await.json()["path"].as_str().unwrap().to_string();
    let quiet = create(&server, &ann, &room, "quiet").await.json()["path"].as_str().unwrap().to_string();
    for i in 0..2 {
        let r = hook(&server, &noisy, "application/json", json!({"text": format!("alert {i}")}).to_string().as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = hook(&server, &noisy, "application/json", br#"{"text": "one too many"}"#).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (429, Some("rate_limited")));
    let retry: u64 = r.header("Retry-After").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(hook(&server, &quiet, "application/json", br#"{"text": "still here"}"#).await.status, 200);
    let history = ann.ok("history", json!({"room": room, "after": 0})).await;
    let texts: Vec<&str> = history["events"].as_array().unwrap().iter().filter_map(|e| e["message"]["content"]["text"].as_str()).collect();
    assert_eq!(texts, ["alert 0", "alert 1", "still here"]);
}

/// A webhook's POST asks the authorization gate (`Send` by the webhook's actor), as every action
/// does: once a moderator bans the webhook from its public room, the gate refuses it with 403
/// `forbidden` and nothing is stored; unbanned, it posts again. In a private room the banned
/// webhook's URL answers as one that does not exist (404 `webhook_not_found`), naming no room.
#[tokio::test]
async fn a_banned_webhook_is_refused_by_the_gate() {
    let server = Server::start(&[]);
    let body = br#"{"text": "deploy started"}"#;
    for private in [false, true] {
        let room = support::room(if private { "vault" } else { "deploys" });
        let mut ann = Client::guest(&server, "ann").await;
        ann.ok("create_room", json!({"room": room, "private": private})).await;
        ann.join(&room).await;
        let made = create(&server, &ann, &room, "CD").await.json();
        let path = made["path"].as_str().unwrap().to_string();
        let id = made["webhook"]["id"].as_str().unwrap().to_string();
        assert_eq!(hook(&server, &path, "application/json", body).await.status, 200);

        ann.ok("ban", json!({"room": room, "actor": id})).await;
        let refused = hook(&server, &path, "application/json", br#"{"text": "while banned"}"#).await;
        let want = if private { (404, "webhook_not_found") } else { (403, "forbidden") };
        assert_eq!((refused.status, refused.json()["error"]["code"].as_str().unwrap_or_default()), want, "{}", refused.text());
        assert!(!refused.text().contains(room.as_str()), "the answer names no room: {}", refused.text());

        ann.ok("unban", json!({"room": room, "actor": id})).await;
        assert_eq!(hook(&server, &path, "application/json", br#"{"text": "unbanned"}"#).await.status, 200);
        let history = ann.ok("history", json!({"room": room, "after": 0})).await;
        let texts: Vec<&str> = history["events"].as_array().unwrap().iter().filter_map(|e| e["message"]["content"]["text"].as_str()).collect();
        assert_eq!(texts, ["deploy started", "unbanned"], "private: {private}");
    }
}
