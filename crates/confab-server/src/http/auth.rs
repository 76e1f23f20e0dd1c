//! Session tokens: made here, stored only as SHA-256 hashes, and read from a request's cookie,
//! `?token=` query parameter or `Authorization: Bearer` header (in that order).

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use confab_protocol::query::query_param;

pub use confab_protocol::credentials::COOKIE;

/// A new random token and the hash the store keeps.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn token_from_request(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    confab_protocol::credentials::token(cookies, query, authorization)
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| confab_protocol::query::cookie(v, name))
}

/// How long the browser keeps a guest's session cookie: a year (a guest session ends when idle for
/// `--guest-idle-days`, which the server checks; it has no longest lifetime).
pub const GUEST_COOKIE_MAX_AGE_SECS: i64 = 365 * 86_400;

/// The `Set-Cookie` value for a session: HttpOnly, SameSite=Lax, Secure behind TLS, kept by the
/// browser as long as the session can live at most (`--session-max-days`, in seconds here).
pub fn session_cookie(token: &str, secure: bool, max_age_secs: i64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sources_in_order() {
        let mut h = HeaderMap::new();
        assert_eq!(token_from_request(&h, Some("a=1&token=q%2Dx")), Some("q-x".into()));
        h.insert(header::AUTHORIZATION, "Bearer b".parse().unwrap());
        assert_eq!(token_from_request(&h, None), Some("b".into()));
        h.insert(header::COOKIE, "x=1; confab_session=c".parse().unwrap());
        assert_eq!(token_from_request(&h, Some("token=q")), Some("c".into()));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(ha, hash_token(&a));
        assert_eq!(ha.len(), 32);
    }
}
