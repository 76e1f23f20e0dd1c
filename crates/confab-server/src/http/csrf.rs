//! Cross-site request forgery: a page on another site must not make a browser change something here
//! with the browser's session cookie.
//!
//! The rule, for every state-changing request (POST, PUT, PATCH, DELETE) on every route but two:
//! - with `Authorization: Bearer` it passes: a browser adds that header to a cross-site request only
//!   after a CORS preflight, which Confab never grants, so such a request was not forged by a page;
//! - otherwise its `Origin` header, or when there is none the origin of its `Referer`, must be this
//!   server's own (the request's `Host`) or one of `--allowed-origins`: the rule that already refuses
//!   cross-site WebSocket upgrades ([`App::origin_is_ours`]). A foreign origin is refused whether or not
//!   a cookie came along (a forged `POST /api/guest` would otherwise replace the victim's session);
//! - with neither header, it passes without a session cookie (curl, bots, other servers: nothing a
//!   browser could be tricked into) and is refused with one. Browsers send `Origin` on every POST,
//!   PUT, PATCH and DELETE (fetch and forms alike), so the web UI never meets this refusal.
//!
//! Exempt: `/hooks/...` (incoming webhooks: the secret is in the URL and no cookie is read) and
//! `/socket.io/` (Engine.IO polling checks the same origin rule itself and answers CORS).
//!
//! A refusal is `403` with `{"error": {"code": "forbidden", "message": ...}}`, the message saying which
//! header was wrong. SameSite=Lax on the cookie already keeps it off most cross-site POSTs; this check
//! does not depend on the browser honouring that.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confab_core::ChatError;

use super::api::ApiError;
use super::auth;
use crate::app::App;

/// The middleware: refuses a cross-site state-changing request before any handler runs.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let verdict = check(request.method(), request.uri().path(), request.headers(), |origin| {
        app.origin_is_ours(origin, request.headers())
    });
    match verdict {
        Ok(()) => next.run(request).await,
        Err(why) => ApiError(ChatError::forbidden(why)).into_response(),
    }
}

/// The decision, apart from the app so that it can be tested alone; `ours` is the origin rule.
pub fn check(method: &Method, path: &str, headers: &HeaderMap, ours: impl Fn(&str) -> bool) -> Result<(), String> {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return Ok(());
    }
    if path.starts_with("/hooks/") || path == "/socket.io/" {
        return Ok(());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if bearer {
        return Ok(());
    }
    let header_text = |name| headers.get(name).map(|v| v.to_str().unwrap_or("(not text)"));
    if let Some(origin) = header_text(header::ORIGIN) {
        return if ours(origin) {
            Ok(())
        } else {
            Err(format!(
                "cross-site request refused: Origin {origin:?} is not this server's (nor in --allowed-origins)"
            ))
        };
    }
    if let Some(referer) = header_text(header::REFERER) {
        return match referer_origin(referer) {
            Some(origin) if ours(origin) => Ok(()),
            _ => Err(format!(
                "cross-site request refused: Referer {referer:?} is not from this server (nor from --allowed-origins)"
            )),
        };
    }
    if auth::cookie(headers, auth::COOKIE).is_some() {
        return Err("a state-changing request with the session cookie needs an Origin or Referer header of this \
                    server (or use Authorization: Bearer instead of the cookie)"
            .into());
    }
    Ok(())
}

/// `scheme://host[:port]` of an absolute http(s) URL, or `None`.
fn referer_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_end == 0 {
        return None;
    }
    Some(&url[..url.len() - rest.len() + authority_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "chat.example.org";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HOST.parse().unwrap());
        for (k, v) in pairs {
            h.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn decide(method: Method, path: &str, pairs: &[(&str, &str)]) -> Result<(), String> {
        check(&method, path, &headers(pairs), |o| o == "https://chat.example.org" || o == "https://app.example.net")
    }

    const COOKIE: (&str, &str) = ("cookie", "confab_session=t");

    #[test]
    fn safe_methods_always_pass() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(decide(m, "/api/me", &[COOKIE, ("origin", "https://evil.example")]).is_ok());
        }
    }

    #[test]
    fn every_unsafe_method_is_checked() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let refused = decide(m.clone(), "/api/x", &[COOKIE, ("origin", "https://evil.example")]).unwrap_err();
            assert!(refused.contains("\"https://evil.example\""), "{refused}");
            assert!(decide(m, "/api/x", &[COOKIE, ("origin", "https://chat.example.org")]).is_ok());
        }
    }

    #[test]
    fn referer_stands_in_for_a_missing_origin() {
        assert!(decide(Method::POST, "/api/x", &[COOKIE, ("referer", "https://chat.example.org/chat-room/a?b#c")]).is_ok());
        assert!(decide(Method::POST, "/api/x", &[COOKIE, ("referer", "https://app.example.net")]).is_ok());
        // A look-alike host that starts with ours is not ours.
        assert!(decide(Method::POST, "/api/x", &[COOKIE, ("referer", "https://chat.example.org.evil.example/")]).is_err());
        assert!(decide(Method::POST, "/api/x", &[COOKIE, ("referer", "not a url")]).is_err());
        // Origin wins over Referer.
        let both = [COOKIE, ("origin", "https://evil.example"), ("referer", "https://chat.example.org/")];
        assert!(decide(Method::POST, "/api/x", &both).is_err());
    }

    #[test]
    fn no_origin_no_referer_refused_only_with_the_cookie() {
        let refused = decide(Method::POST, "/api/x", &[COOKIE]).unwrap_err();
        assert!(refused.contains("Origin or Referer"), "{refused}");
        assert!(decide(Method::POST, "/api/x", &[]).is_ok());
        assert!(decide(Method::POST, "/api/x", &[("cookie", "other=1")]).is_ok());
    }

    #[test]
    fn a_foreign_origin_is_refused_without_a_cookie_too() {
        assert!(decide(Method::POST, "/api/guest", &[("origin", "https://evil.example")]).is_err());
        assert!(decide(Method::POST, "/api/guest", &[("origin", "null")]).is_err());
    }

    #[test]
    fn bearer_hooks_and_socketio_are_exempt() {
        let evil = ("origin", "https://evil.example");
        assert!(decide(Method::POST, "/api/x", &[COOKIE, evil, ("authorization", "Bearer abc")]).is_ok());
        assert!(decide(Method::POST, "/api/x", &[COOKIE, evil, ("authorization", "Basic abc")]).is_err());
        assert!(decide(Method::POST, "/hooks/w_1/secret", &[COOKIE, evil]).is_ok());
        assert!(decide(Method::POST, "/socket.io/", &[COOKIE, evil]).is_ok());
        assert!(decide(Method::POST, "/socket.io/x", &[COOKIE, evil]).is_err());
    }

    #[test]
    fn referer_origin_is_scheme_and_authority() {
        assert_eq!(referer_origin("http://a:8080/x/y"), Some("http://a:8080"));
        assert_eq!(referer_origin("https://a?q"), Some("https://a"));
        assert_eq!(referer_origin("https://a"), Some("https://a"));
        assert_eq!(referer_origin("https:///x"), None);
        assert_eq!(referer_origin("ftp://a/"), None);
    }
}
