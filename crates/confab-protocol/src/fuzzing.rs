//! The bodies of the fuzz targets `native_request`, `http_query`, `account_body`, `credentials`,
//! `names` and `webhook_payload` (`fuzz/`), here so that the inputs the fuzzer found are replayed by
//! a plain `cargo test` (`tests/fuzz_regressions.rs`). Each panics when a property fails, not only
//! on a crash.

use confab_core::accounts::{password, totp, username};
use confab_core::model::{display_name, room_name};
use confab_core::names;
use serde_json::{json, Value};

use crate::accounts::{
    object, optional_object, AccountPatch, CodeRequest, InviteRequest, LoginRequest, LogoutRequest, NewToken, PasswordChange,
    PasswordRequest, RegisterRequest,
};
use crate::credentials::{self, TokenKind};
use crate::query::{cookie, percent_decode, query_param};
use crate::request::{self, Envelope};
use crate::webhook;

/// A text frame on `/ws`: parsed as a request, then as the fields of every request type.
pub fn native_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Envelope::parse(text) {
        Ok(env) => {
            assert!(env.id.is_string() || env.id.is_number());
            let _ = env.fields::<request::Hello>();
            let _ = env.fields::<request::Rooms>();
            let _ = env.fields::<request::RoomOnly>();
            let _ = env.fields::<request::Join>();
            let _ = env.fields::<request::Send>();
            let _ = env.fields::<request::Edit>();
            let _ = env.fields::<request::Delete>();
            let _ = env.fields::<request::History>();
            let _ = env.fields::<request::OpenDirect>();
        }
        // An error names the request it answers when the frame had an id at all.
        Err((id, _)) => {
            let had = serde_json::from_str::<Value>(text).ok().and_then(|v| v.get("id").cloned()).unwrap_or(Value::Null);
            assert_eq!(id, had);
        }
    }
}

/// A query string and a cookie header (split at the first NUL: the name looked up, then the text).
/// Decoding never fails, and any text escaped byte by byte decodes back to itself.
pub fn http_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (name, rest) = text.split_once('\0').unwrap_or(("token", text));
    let _ = query_param(rest, name);
    let _ = cookie(rest, name);
    let escaped: String = rest.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(percent_decode(&escaped), rest);
    if !rest.contains(['%', '+']) {
        assert_eq!(percent_decode(rest), rest);
    }
}

/// A JSON body of the accounts routes, read as every one of them, then through the account rules
/// its fields meet (username, password policy, display name, TOTP and recovery codes). A field
/// read from the body is the body's own string.
pub fn account_body(data: &[u8]) {
    let _ = optional_object::<LogoutRequest>(data, "{}");
    let _ = optional_object::<InviteRequest>(data, "{}");
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    if let Ok(r) = object::<RegisterRequest>(value.clone(), "{}") {
        assert_eq!(Some(&r.username), field("username").as_ref());
        assert_eq!(r.display_name, field("display_name"));
        account_fields(&r.username, &r.password);
        if let Some(name) = &r.display_name {
            let _ = display_name(name);
        }
    }
    if let Ok(r) = object::<LoginRequest>(value.clone(), "{}") {
        assert_eq!(Some(&r.password), field("password").as_ref());
        account_fields(&r.username, &r.password);
        if let Some(code) = &r.code {
            totp_code(code);
        }
    }
    if let Ok(r) = object::<PasswordChange>(value.clone(), "{}") {
        let _ = password::check_policy(&r.new, 8);
        assert!(r.current.len() <= password::MAX_BYTES || !password::verify(&r.current, "not a hash"));
    }
    if let Ok(r) = object::<AccountPatch>(value.clone(), "{}") {
        let _ = display_name(&r.display_name);
    }
    if let Ok(r) = object::<CodeRequest>(value.clone(), "{}") {
        totp_code(&r.code);
    }
    let _ = object::<NewToken>(value.clone(), "{}");
    let _ = object::<PasswordRequest>(value.clone(), "{}");
    if !value.is_object() {
        assert!(object::<NewToken>(value, "{}").is_err(), "only an object is a body");
    }
}

/// A username and a password as registering and signing in treat them.
fn account_fields(raw_username: &str, pass: &str) {
    if let Ok(u) = username::parse(raw_username) {
        assert_eq!(username::lookup_key(raw_username), u.key, "signing in as typed at registration finds the account");
    }
    let _ = username::lookup_key(raw_username);
    if password::check_policy(pass, 8).is_ok() {
        assert!(pass.len() <= password::MAX_BYTES && pass.chars().count() >= 8);
    }
}

/// A sign-in or 2FA code: a TOTP code against a fixed secret, or a recovery code's hash.
fn totp_code(code: &str) {
    if totp::is_recovery_code(code) {
        assert_eq!(totp::recovery_code_hash(code).len(), 32);
    }
    if totp::verify("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", code, 1_000_000_000).is_some() {
        assert!(code.trim().bytes().all(|b| b.is_ascii_digit()) && code.trim().len() == 6);
    }
}

/// A request's credential: the input split at NULs into a `Cookie` header, a query string and an
/// `Authorization` value. The token found comes from the first place that has one, and its kind
/// is its prefix's.
pub fn credentials(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\0');
    let (cookies, query, auth) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    let found = credentials::token([cookies], query, auth);
    let expected = cookie(cookies, credentials::COOKIE)
        .or_else(|| query.and_then(|q| query_param(q, "token")))
        .or_else(|| auth.and_then(credentials::bearer));
    assert_eq!(found, expected);
    if let Some(token) = &found {
        let kind = TokenKind::of(token);
        assert_eq!(kind == TokenKind::Session, token.starts_with(credentials::SESSION_PREFIX));
        assert_eq!(kind == TokenKind::ApiToken, token.starts_with(credentials::API_TOKEN_PREFIX));
    }
    if let Some(auth) = auth {
        let bearer = credentials::bearer(auth);
        assert_eq!(bearer.is_some(), auth.starts_with("Bearer "));
        if let Some(t) = bearer {
            assert_eq!(t, t.trim(), "a bearer token is trimmed");
        }
    }
}

/// Usernames, display names and room names. An accepted name is a fixed point of its check (what
/// is stored is accepted again as itself), has no invisible character but an emoji's joiner or
/// selector, and a username's key is its sign-in key.
pub fn names(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for rules in [names::Rules { max_chars: 32, fold_white_space: true }, names::Rules { max_chars: 64, fold_white_space: false }] {
        if let Ok(n) = names::normalize(text, rules) {
            assert!(n.chars().count() <= rules.max_chars);
            assert_eq!(names::normalize(&n, rules).as_ref(), Ok(&n), "normalising is idempotent: {text:?}");
            assert!(n.chars().all(|c| !names::is_invisible(c) || matches!(c, '\u{200D}' | '\u{FE0E}' | '\u{FE0F}')), "{n:?}");
            assert_eq!(n.trim(), n);
        }
    }
    if let Ok(n) = display_name(text) {
        assert_eq!(display_name(&n).ok().as_ref(), Some(&n), "a stored display name is accepted as itself: {text:?}");
    }
    if let Ok(n) = room_name(text) {
        assert_eq!(room_name(&n).ok().as_ref(), Some(&n), "a stored room name is accepted as itself: {text:?}");
        assert!(n != "." && n != ".." && !n.contains('/'));
    }
    let key = username::lookup_key(text);
    if let Ok(u) = username::parse(text) {
        assert_eq!(u.key, key);
        assert!(u.name.chars().all(|c| !names::is_invisible(c) && !c.is_whitespace()), "{:?}", u.name);
        let again = username::parse(&u.name).expect("a registered username is valid again");
        assert_eq!(again, u, "a username is a fixed point: {text:?}");
    }
}

/// An incoming-webhook body: the first byte says whether it comes as a form (odd) or JSON (even).
/// An accepted payload, sent again the other way, reads back the same.
pub fn webhook_payload(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else { return };
    let content_type = if first % 2 == 1 { "application/x-www-form-urlencoded" } else { "application/json" };
    let Ok(p) = webhook::payload(Some(content_type), body) else { return };
    let json = json!({"text": p.text, "username": p.username}).to_string();
    let form: String = json.bytes().map(|b| format!("%{b:02X}")).collect();
    let again = if first % 2 == 1 {
        webhook::payload(Some("application/json"), json.as_bytes())
    } else {
        webhook::payload(Some(content_type_form()), format!("payload={form}").as_bytes())
    };
    let again = again.expect("an accepted payload is accepted again");
    assert_eq!((again.text, again.username), (p.text, p.username));
}

fn content_type_form() -> &'static str {
    "application/x-www-form-urlencoded; charset=utf-8"
}
