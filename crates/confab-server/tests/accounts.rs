//! Accounts end to end against a real server: registering, signing in and out, sessions listed and
//! revoked (closing open connections on both protocols), password changes, TOTP two-factor sign-in
//! with codes computed here, API tokens on every path, registration and guest settings.

mod support;

use std::time::{Duration, Instant};

use confab_core::accounts::totp;
use serde_json::{json, Value};
use support::accounts::{call, code, login, login_raw, register};
use support::{http, Client, Server, SioWs};

const PASSWORD: &str = "correct horse battery";

/// The next frame that is not an event (a close, an error), skipping room traffic.
async fn closed(c: &mut Client) -> Value {
    loop {
        let v = c.recv().await;
        if v["type"] == "closed" {
            return v;
        }
    }
}

/// Packets until the connection closes.
async fn sio_until_closed(s: &mut SioWs) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let p = s.recv().await;
        let done = p.starts_with("closed");
        seen.push(p);
        if done {
            return seen;
        }
    }
}

/// Registering sets an HttpOnly, SameSite=Lax session cookie (not Secure without
/// --secure-cookies); /api/me shows the account; signing out ends this device's session only,
/// signing out everywhere ends them all, and the cookie is cleared.
#[tokio::test]
async fn register_sign_in_sign_out_and_everywhere() {
    let server = Server::start(&[]);
    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "Sam", "password": PASSWORD, "display_name": "Sam S"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r.header("set-cookie").expect("cookie").to_string();
    assert!(cookie.starts_with("confab_session=cfs_") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let first = r.json()["token"].as_str().unwrap().to_string();
    let jar = cookie.split(';').next().unwrap().to_string();
    let me = http(&server, "GET", "/api/me", &[("Cookie", &jar)], b"").await.json();
    assert_eq!(me["user"]["username"], "Sam");
    assert_eq!(me["user"]["name"], "Sam S");
    assert_eq!(me["user"]["kind"], "user");
    assert_eq!((me["user"]["admin"].clone(), me["user"]["two_factor"].clone()), (json!(false), json!(false)));
    assert!(me["user"]["id"].as_str().unwrap().starts_with("u_"));

    // The same account under another spelling, and a look-alike, are taken.
    for taken in ["sam", "ＳＡＭ"] {
        let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": taken, "password": PASSWORD}))).await;
        assert_eq!((r.status, code(&r)), (409, "username_taken".into()), "{taken}");
    }
    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "s\u{0430}m", "password": PASSWORD}))).await;
    assert_eq!((r.status, code(&r)), (400, "invalid_username".into()), "Latin with a Cyrillic а");
    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "newbie", "password": "short"}))).await;
    assert_eq!((r.status, code(&r)), (400, "weak_password".into()));

    // The display name may change; the username stays.
    let r = call(&server, "PATCH", "/api/account", Some(&first), Some(json!({"display_name": "Samuel"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let me = call(&server, "GET", "/api/me", Some(&first), None).await.json();
    assert_eq!((me["user"]["name"].clone(), me["user"]["username"].clone()), (json!("Samuel"), json!("Sam")));
    let r = call(&server, "PATCH", "/api/account", Some(&first), Some(json!({"display_name": "bad\u{202E}name"}))).await;
    assert_eq!(code(&r), "invalid_name");

    let second = login(&server, "SAM", PASSWORD).await;
    let sessions = call(&server, "GET", "/api/account/sessions", Some(&second), None).await.json();
    let list = sessions["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list.iter().all(|s| s["user_agent"] == "accounts-test" && s["created_at"].is_i64()));

    // A browser's sign-out: the cookie, and the Origin every browser sends on a POST (CSRF check).
    let origin = format!("http://{}", server.addr);
    let out = http(&server, "POST", "/api/auth/logout", &[("Cookie", &jar), ("Origin", &origin)], b"").await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let gone = call(&server, "GET", "/api/me", Some(&first), None).await;
    assert_eq!((gone.status, code(&gone)), (401, "unauthenticated".into()));
    assert_eq!(call(&server, "GET", "/api/me", Some(&second), None).await.status, 200, "the other device stays signed in");

    let third = login(&server, "sam", PASSWORD).await;
    let out = call(&server, "POST", "/api/auth/logout", Some(&third), Some(json!({"everywhere": true}))).await;
    assert_eq!(out.status, 204);
    for t in [&second, &third] {
        assert_eq!(call(&server, "GET", "/api/me", Some(t), None).await.status, 401);
    }
}

/// With --secure-cookies the session cookie is also marked Secure, and logout's clearing cookie too.
#[tokio::test]
async fn secure_cookies_mark_the_session_cookie_secure() {
    let server = Server::start(&["--secure-cookies"]);
    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "ann", "password": PASSWORD}))).await;
    let cookie = r.header("set-cookie").expect("cookie");
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let token = r.json()["token"].as_str().unwrap().to_string();
    let out = call(&server, "POST", "/api/auth/logout", Some(&token), None).await;
    assert!(out.header("set-cookie").unwrap().contains("; Secure"));
}

/// A wrong password and an unknown username get the same status and body, and the unknown one is
/// not answered much faster (it is checked against a dummy argon2id hash).
#[tokio::test]
async fn wrong_password_and_unknown_user_answer_alike() {
    let server = Server::start(&[]);
    register(&server, "ann", PASSWORD).await;
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..4 {
        let t = Instant::now();
        let a = login_raw(&server, "ann", "not the password", None).await;
        wrong.push(t.elapsed());
        let t = Instant::now();
        let b = login_raw(&server, &format!("nobody{i}"), "not the password", None).await;
        unknown.push(t.elapsed());
        assert_eq!((a.status, a.body.clone()), (b.status, b.body.clone()));
        assert_eq!((a.status, code(&a)), (401, "bad_credentials".into()));
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[1], unknown[1]);
    eprintln!("sign-in answer times (2nd of 4): wrong password {w:?}, unknown user {u:?}");
    assert!(u * 3 >= w, "an unknown user is answered much faster ({u:?}) than a wrong password ({w:?})");
}

/// Failed sign-ins are limited per account and per address: past the limit the answer is 429
/// `rate_limited` with Retry-After, even with the right password; other accounts are not locked
/// until the address runs out.
#[tokio::test]
async fn sign_in_is_throttled_per_account_and_per_address() {
    let server = Server::start(&["--signin-attempts-per-account", "3", "--signin-attempts-per-address", "5", "--signin-window-secs", "60"]);
    register(&server, "ann", PASSWORD).await;
    register(&server, "bob", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(login_raw(&server, "ann", "guess", None).await.status, 401);
    }
    let r = login_raw(&server, "ann", PASSWORD, None).await;
    assert_eq!((r.status, code(&r)), (429, "rate_limited".into()));
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // bob is not locked by ann's failures...
    assert_eq!(login_raw(&server, "bob", PASSWORD, None).await.status, 200);
    // ...until this address has used up its five failures.
    assert_eq!(login_raw(&server, "bob", "guess", None).await.status, 401);
    assert_eq!(login_raw(&server, "nobody", "guess", None).await.status, 401);
    let r = login_raw(&server, "bob", PASSWORD, None).await;
    assert_eq!((r.status, code(&r)), (429, "rate_limited".into()));
    assert!(r.header("retry-after").is_some());
}

/// Revoking a session closes the connections it opened, at once: native with close code 4003
/// `session_revoked`, Socket.IO with an `error` event (`session_revoked`) and a DISCONNECT first;
/// the token no longer works anywhere.
#[tokio::test]
async fn a_revoked_session_closes_its_open_native_and_socketio_connections() {
    let server = Server::start(&[]);
    let first = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let phone = login(&server, "ann", PASSWORD).await;
    let mut native = Client::with_token(&server, &phone).await;
    assert_eq!(native.user["username"], Value::Null, "hello answers the actor");
    assert_eq!(native.user["id"].as_str().unwrap().chars().next(), Some('u'));
    native.ok("join", json!({"room": support::room("revoke"), "create": true})).await;
    let mut sio = SioWs::connect(&server, Some(&phone)).await;
    let mut bystander = Client::with_token(&server, &first).await;

    let sessions = call(&server, "GET", "/api/account/sessions", Some(&first), None).await.json();
    let phone_id = sessions["sessions"].as_array().unwrap().iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let r = call(&server, "DELETE", &format!("/api/account/sessions/{phone_id}"), Some(&first), None).await;
    assert_eq!(r.status, 204, "{}", r.text());

    let close = closed(&mut native).await;
    assert_eq!((close["code"].clone(), close["reason"].clone()), (json!(4003), json!("session_revoked")), "{close}");
    let packets = sio_until_closed(&mut sio).await;
    let error = packets.iter().position(|p| p.starts_with("42[\"error\"") && p.contains("session_revoked")).expect("error event");
    let disconnect = packets.iter().position(|p| p == "41").expect("DISCONNECT");
    assert!(error < disconnect, "{packets:?}");
    assert_eq!(packets.last().unwrap(), "closed 4003");
    assert!(started.elapsed() < Duration::from_secs(2), "closed at once, not at a recheck: {:?}", started.elapsed());

    bystander.ok("ping", json!({})).await;
    let mut again = Client::connect_raw(&server).await;
    again.refused("hello", json!({"token": phone}), "unauthenticated").await;
    let r = call(&server, "DELETE", &format!("/api/account/sessions/{phone_id}"), Some(&first), None).await;
    assert_eq!(r.status, 400, "already gone");
}

/// On the polling transport too: the pending long-poll of a revoked session's socket returns the
/// `error` event (`session_revoked`) and the DISCONNECT with Engine.IO's close packet.
#[tokio::test]
async fn a_revoked_session_ends_a_polling_socketio_client_with_the_reason() {
    let server = Server::start(&[]);
    let token = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let (sid, _) = support::eio_open(&server).await;
    support::eio_post(&server, &sid, &format!("40{}", json!({"token": token}))).await;
    support::eio_poll_until(&server, &sid, |p| p.starts_with("40{")).await;
    let addr = server.addr.clone();
    let path = support::polling(&sid);
    let pending = tokio::spawn(async move { support::http_at(&addr, "GET", &path, &[], b"").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call(&server, "POST", "/api/auth/logout", Some(&token), None).await.status, 204);
    let answer = pending.await.unwrap();
    let packets: Vec<String> = answer.text().split('\u{1e}').map(str::to_string).collect();
    assert!(packets[0].starts_with("42[\"error\"") && packets[0].contains("session_revoked"), "{packets:?}");
    assert_eq!(&packets[1..], ["41", "1"], "{packets:?}");
}

/// Changing the password needs the current one, ends every other session (closing its
/// connections), keeps this one, and the old password stops working.
#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let server = Server::start(&[]);
    let here = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let there = login(&server, "ann", PASSWORD).await;
    let mut open = Client::with_token(&server, &there).await;
    let r = call(&server, "POST", "/api/account/password", Some(&here), Some(json!({"current": "nope", "new": "new password 1"}))).await;
    assert_eq!((r.status, code(&r)), (401, "bad_credentials".into()));
    let r = call(&server, "POST", "/api/account/password", Some(&here), Some(json!({"current": PASSWORD, "new": "short"}))).await;
    assert_eq!((r.status, code(&r)), (400, "weak_password".into()));
    let r = call(&server, "POST", "/api/account/password", Some(&here), Some(json!({"current": PASSWORD, "new": "new password 1"}))).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(closed(&mut open).await["code"], 4003);
    assert_eq!(call(&server, "GET", "/api/me", Some(&there), None).await.status, 401);
    assert_eq!(call(&server, "GET", "/api/me", Some(&here), None).await.status, 200);
    assert_eq!(login_raw(&server, "ann", PASSWORD, None).await.status, 401);
    assert_eq!(login_raw(&server, "ann", "new password 1", None).await.status, 200);
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// TOTP: setup gives a secret; enabling needs a right code and returns 10 recovery codes; sign-in
/// then needs a code (`two_factor_required`), takes each TOTP step once and each recovery code
/// once; turning it off needs the password.
#[tokio::test]
async fn two_factor_sign_in_with_totp_and_recovery_codes() {
    let server = Server::start(&[]);
    let token = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let setup = call(&server, "POST", "/api/account/2fa/setup", Some(&token), None).await.json();
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["otpauth_url"].as_str().unwrap().starts_with(&format!("otpauth://totp/Confab:ann?secret={secret}")));
    let r = call(&server, "POST", "/api/account/2fa/enable", Some(&token), Some(json!({"code": "000000"}))).await;
    assert_eq!(code(&r), "bad_credentials", "a wrong code does not enable it");
    let step = totp::step_at(now_secs());
    let enable = call(&server, "POST", "/api/account/2fa/enable", Some(&token), Some(json!({"code": totp::code(&secret, step).unwrap()}))).await;
    assert_eq!(enable.status, 200, "{}", enable.text());
    let codes: Vec<String> = enable.json()["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(call(&server, "GET", "/api/me", Some(&token), None).await.json()["user"]["two_factor"], true);

    let r = login_raw(&server, "ann", PASSWORD, None).await;
    assert_eq!((r.status, code(&r)), (401, "two_factor_required".into()));
    let r = login_raw(&server, "ann", "wrong password", Some("123456")).await;
    assert_eq!(code(&r), "bad_credentials", "the password is still checked first");
    // The step used to enable is spent; the next one works once.
    let used = totp::code(&secret, step).unwrap();
    assert_eq!(code(&login_raw(&server, "ann", PASSWORD, Some(&used)).await), "bad_credentials");
    let next = totp::code(&secret, step + 1).unwrap();
    assert_eq!(login_raw(&server, "ann", PASSWORD, Some(&next)).await.status, 200);
    assert_eq!(code(&login_raw(&server, "ann", PASSWORD, Some(&next)).await), "bad_credentials", "a code is not accepted twice");
    assert_eq!(login_raw(&server, "ann", PASSWORD, Some(&codes[3].to_uppercase())).await.status, 200, "a recovery code, in any case");
    assert_eq!(code(&login_raw(&server, "ann", PASSWORD, Some(&codes[3])).await), "bad_credentials", "once");

    let r = call(&server, "POST", "/api/account/2fa/disable", Some(&token), Some(json!({"password": "nope"}))).await;
    assert_eq!(code(&r), "bad_credentials");
    let r = call(&server, "POST", "/api/account/2fa/disable", Some(&token), Some(json!({"password": PASSWORD}))).await;
    assert_eq!(r.status, 204);
    assert_eq!(login_raw(&server, "ann", PASSWORD, None).await.status, 200);
}

/// API tokens: shown once, listed by name without the secret, usable as `Authorization: Bearer`
/// on HTTP and on the /ws upgrade, in `hello {token}` and in Socket.IO's `auth.token`; refused
/// (403) on the routes that manage the account; revoking one closes its connections.
#[tokio::test]
async fn api_tokens_work_on_every_path_but_cannot_manage_the_account() {
    let server = Server::start(&[]);
    let session = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let r = call(&server, "POST", "/api/account/tokens", Some(&session), Some(json!({"name": "ci bot"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let made = r.json();
    let secret = made["secret"].as_str().unwrap().to_string();
    let id = made["token"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("cft_"));
    let listed = call(&server, "GET", "/api/account/tokens", Some(&session), None).await;
    assert_eq!(listed.json()["tokens"][0]["name"], "ci bot");
    assert!(!listed.text().contains(&secret), "the secret is shown once");

    let me = call(&server, "GET", "/api/me", Some(&secret), None).await.json();
    assert_eq!((me["user"]["username"].clone(), me["user"]["kind"].clone()), (json!("ann"), json!("user")));

    let bearer = format!("Bearer {secret}");
    let mut ws = support::connect_with_headers(&server.url("/ws"), &[("Authorization", &bearer)]).await.expect("upgrade with a bearer token");
    let welcome: Value = serde_json::from_str(&support::next_text(&mut ws).await.unwrap()).unwrap();
    assert_eq!(welcome["user"]["id"], me["user"]["id"], "{welcome}");
    let refused = support::connect_with_headers(&server.url("/ws"), &[("Authorization", "Bearer cft_not-a-token")]).await;
    assert!(refused.is_err(), "an Authorization header that does not work is refused");

    let mut bot = Client::with_token(&server, &secret).await;
    let room = support::room("bots");
    bot.ok("join", json!({"room": room, "create": true})).await;
    let said = bot.say(&room, "build green").await;
    assert_eq!(said["type"], "ack");
    let mut sio = SioWs::connect(&server, Some(&secret)).await;
    let joined = sio.call(1, "join_room", json!({"room": room})).await;
    assert_eq!(joined["ok"], true, "{joined}");

    for (method, path, body) in [
        ("GET", "/api/account/sessions", None),
        ("GET", "/api/account/tokens", None),
        ("POST", "/api/account/tokens", Some(json!({"name": "more"}))),
        ("POST", "/api/account/password", Some(json!({"current": PASSWORD, "new": "another password"}))),
        ("POST", "/api/account/2fa/setup", None),
        ("POST", "/api/auth/logout", None),
        ("DELETE", &format!("/api/account/tokens/{id}") as &str, None),
    ] {
        let r = call(&server, method, path, Some(&secret), body).await;
        assert_eq!((r.status, code(&r)), (403, "forbidden".into()), "{method} {path}");
    }
    let tokens = call(&server, "GET", "/api/account/tokens", Some(&session), None).await.json();
    assert!(tokens["tokens"][0]["last_used_at"].is_i64(), "last use recorded: {tokens}");

    let r = call(&server, "DELETE", &format!("/api/account/tokens/{id}"), Some(&session), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(closed(&mut bot).await["code"], 4003);
    assert!(sio_until_closed(&mut sio).await.iter().any(|p| p.contains("session_revoked")));
    assert_eq!(call(&server, "GET", "/api/me", Some(&secret), None).await.status, 401);
}

/// `--registration closed` refuses registration; `invite` needs a code an administrator made
/// (POST /api/admin/invites), usable once; /api/server says which.
#[tokio::test]
async fn registration_closed_and_by_invitation() {
    let closed = Server::start(&["--registration", "closed"]);
    assert_eq!(call(&closed, "GET", "/api/server", None, None).await.json()["registration"], "closed");
    let r = call(&closed, "POST", "/api/auth/register", None, Some(json!({"username": "ann", "password": PASSWORD}))).await;
    assert_eq!((r.status, code(&r)), (403, "registration_closed".into()));
    drop(closed);

    let mut server = Server::start(&["--registration", "invite"]);
    let server_info = call(&server, "GET", "/api/server", None, None).await.json();
    assert_eq!((server_info["registration"].clone(), server_info["guests"].clone()), (json!("invite"), json!("on")));
    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "ann", "password": PASSWORD}))).await;
    assert_eq!((r.status, code(&r)), (404, "invite_invalid".into()));
    // The first administrator comes from the command line, on the stopped server's data.
    server.terminate();
    let (ok, out, err) = support::accounts::admin_on(&server, &["create-admin", "root"], &format!("{PASSWORD}\n"));
    assert!(ok, "{out} {err}");
    let server = server.restart();
    let admin = login(&server, "root", PASSWORD).await;
    assert_eq!(call(&server, "GET", "/api/me", Some(&admin), None).await.json()["user"]["admin"], true);
    let invite = call(&server, "POST", "/api/admin/invites", Some(&admin), None).await;
    assert_eq!(invite.status, 201, "{}", invite.text());
    let invite = invite.json();
    let code_text = invite["code"].as_str().unwrap().to_string();
    assert!(invite["url"].as_str().unwrap().contains(&code_text));
    let typo = json!({"username": "a", "password": PASSWORD, "invite": code_text});
    let r = call(&server, "POST", "/api/auth/register", None, Some(typo)).await;
    assert_eq!(code(&r), "invalid_username", "checked before the invite is used up");
    let body = json!({"username": "ann", "password": PASSWORD, "invite": code_text});
    let r = call(&server, "POST", "/api/auth/register", None, Some(body.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ann = r.json()["token"].as_str().unwrap().to_string();
    let again = json!({"username": "bob", "password": PASSWORD, "invite": code_text});
    let r = call(&server, "POST", "/api/auth/register", None, Some(again)).await;
    assert_eq!((r.status, code(&r)), (404, "invite_invalid".into()), "single use");
    let r = call(&server, "POST", "/api/admin/invites", Some(&ann), None).await;
    assert_eq!((r.status, code(&r)), (403, "forbidden".into()), "only administrators");
}

/// `--guests off`: POST /api/guest, `hello {name}` and an anonymous Socket.IO CONNECT are refused
/// with `guests_not_allowed`, an old guest session stops working, accounts work on both protocols,
/// and the old guest's messages keep their author.
#[tokio::test]
async fn guests_off_refuses_every_anonymous_path() {
    let server = Server::start(&[]);
    let room = support::room("guests");
    let mut guest = Client::guest(&server, "gus").await;
    guest.ok("join", json!({"room": room, "create": true})).await;
    guest.say(&room, "from a guest").await;
    let guest_token = guest.token();
    let guest_id = guest.id();
    guest.close().await;
    let server = server.restart_with(&["--guests", "off"]);
    assert_eq!(call(&server, "GET", "/api/server", None, None).await.json()["guests"], "off");

    let r = support::post_guest(&server, br#"{"name": "x"}"#).await;
    assert_eq!((r.status, code(&r)), (403, "guests_not_allowed".into()));
    let mut anon = Client::connect_raw(&server).await;
    anon.refused("hello", json!({"name": "x"}), "guests_not_allowed").await;
    anon.refused("hello", json!({"token": guest_token}), "guests_not_allowed").await;
    anon.refused("join", json!({"room": room}), "unauthenticated").await;
    let mut sio = SioWs::open(&server).await;
    sio.send("40").await;
    let refused = sio.recv().await;
    assert!(refused.starts_with("44") && refused.contains("guests_not_allowed"), "{refused}");

    let token = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let mut ann = Client::with_token(&server, &token).await;
    let joined = ann.ok("join", json!({"room": room, "since": 0})).await;
    assert!(joined["replayed"].as_u64().unwrap() >= 2, "{joined}");
    let history = ann.ok("history", json!({"room": room, "after": 0})).await;
    let message = history["events"].as_array().unwrap().iter().find(|e| e["kind"] == "message").unwrap().clone();
    assert_eq!((message["actor"]["id"].as_str().unwrap(), message["actor"]["name"].as_str().unwrap()), (guest_id.as_str(), "gus"), "{message}");
    let mut sio = SioWs::connect(&server, Some(&token)).await;
    assert_eq!(sio.call(1, "join_room", json!({"room": room})).await["ok"], true);
}

/// `--require-2fa-for-admins`: an administrator without 2FA signs in to a setup-only session: it
/// may read /api/me, set 2FA up and enable it, and nothing else (`two_factor_required`, on HTTP and
/// on both protocols); with 2FA on, sign-in gives a full session.
#[tokio::test]
async fn admins_must_set_up_two_factor_when_required() {
    let mut server = Server::start(&["--require-2fa-for-admins"]);
    server.terminate();
    let (ok, _, err) = support::accounts::admin_on(&server, &["create-admin", "root"], &format!("{PASSWORD}\n"));
    assert!(ok, "{err}");
    let server = server.restart();
    let token = login(&server, "root", PASSWORD).await;
    let me = call(&server, "GET", "/api/me", Some(&token), None).await.json();
    assert_eq!((me["user"]["admin"].clone(), me["user"]["setup_only"].clone()), (json!(true), json!(true)));
    for (method, path) in [("GET", "/api/account/sessions"), ("POST", "/api/admin/invites"), ("GET", "/api/rooms/x/history")] {
        let r = call(&server, method, path, Some(&token), None).await;
        assert_eq!(code(&r), "two_factor_required", "{method} {path}");
    }
    let mut c = Client::connect_raw(&server).await;
    c.refused("hello", json!({"token": token}), "two_factor_required").await;
    let mut sio = SioWs::open(&server).await;
    sio.send(&format!("40{}", json!({"token": token}))).await;
    assert!(sio.recv().await.contains("two_factor_required"));

    let secret = call(&server, "POST", "/api/account/2fa/setup", Some(&token), None).await.json()["secret"].as_str().unwrap().to_string();
    let step = totp::step_at(now_secs());
    let r = call(&server, "POST", "/api/account/2fa/enable", Some(&token), Some(json!({"code": totp::code(&secret, step).unwrap()}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = login_raw(&server, "root", PASSWORD, Some(&totp::code(&secret, step + 1).unwrap())).await;
    assert_eq!(r.status, 200);
    let full = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(call(&server, "GET", "/api/account/sessions", Some(&full), None).await.status, 200);
    Client::with_token(&server, &full).await.ok("ping", json!({})).await;
}

/// Full case folding: `STRASSE` (and `strasse`, `Straße` with a capital ẞ) is the account `straße`
/// registered first: registering it is refused as taken, and signing in with it reaches `straße`.
#[tokio::test]
async fn full_case_folding_makes_strasse_one_name() {
    let server = Server::start(&[]);
    let first = register(&server, "straße", PASSWORD).await;
    for taken in ["STRASSE", "strasse", "STRAẞE"] {
        let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": taken, "password": PASSWORD}))).await;
        assert_eq!((r.status, code(&r)), (409, "username_taken".into()), "{taken}: {}", r.text());
    }
    let token = login(&server, "STRASSE", PASSWORD).await;
    let me = call(&server, "GET", "/api/me", Some(&token), None).await.json();
    assert_eq!((me["user"]["id"].clone(), me["user"]["username"].clone()), (first["user"]["id"].clone(), json!("straße")));
}

/// A database written before full case folding (keys lower-cased only) is rekeyed when the server
/// opens it: an old `straße` then blocks a new `strasse`. Two old accounts the new rule makes one
/// (`groß`, then `gross`) both keep signing in with their own spelling: `gross` keeps the key it
/// had, `groß` its old key.
#[tokio::test]
async fn an_old_database_is_rekeyed_and_old_look_alike_pairs_both_sign_in() {
    use confab_core::accounts::username::legacy_key;
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(tmp.path(), "127.0.0.1:0", &[]);
    let strasse = register(&server, "straße", PASSWORD).await["user"]["id"].as_str().unwrap().to_string();
    let gross_old = register(&server, "groß", PASSWORD).await["user"]["id"].as_str().unwrap().to_string();
    server.terminate();
    let db = rusqlite::Connection::open(tmp.path().join("confab.db")).unwrap();
    for (id, name) in [(&strasse, "straße"), (&gross_old, "groß")] {
        db.execute("UPDATE users SET username_key = ?1 WHERE actor_id = ?2", (legacy_key(name), id)).unwrap();
    }
    let server = server.start_again();
    // Under old keys, with the migration recorded as done, "gross" was free: the old rule's state.
    let gross_new = register(&server, "gross", PASSWORD).await["user"]["id"].as_str().unwrap().to_string();
    let mut server = server;
    server.terminate();
    db.execute("DELETE FROM schema_migrations WHERE version = 7", []).unwrap();
    drop(db);
    let server = server.start_again();

    let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": "strasse", "password": PASSWORD}))).await;
    assert_eq!((r.status, code(&r)), (409, "username_taken".into()), "{}", r.text());
    for (typed, id) in [("STRASSE", &strasse), ("straße", &strasse), ("groß", &gross_old), ("gross", &gross_new), ("GROSS", &gross_new)] {
        let token = login(&server, typed, PASSWORD).await;
        let me = call(&server, "GET", "/api/me", Some(&token), None).await.json();
        assert_eq!(me["user"]["id"].as_str(), Some(id.as_str()), "{typed} signs in to its account");
    }
    for taken in ["GROSS", "Groß"] {
        let r = call(&server, "POST", "/api/auth/register", None, Some(json!({"username": taken, "password": PASSWORD}))).await;
        assert_eq!(r.status, 409, "{taken}");
    }
}
