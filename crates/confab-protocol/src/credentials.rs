//! Where a request's credential is and what kind it is: the session cookie, `?token=`, or
//! `Authorization: Bearer` (in that order), and the token's prefix, which says which table the
//! server looks its hash up in (`cfs_…` a session, `cft_…` an API token, anything else a guest
//! session). Nothing here checks a token: the server hashes it and asks the store.

use crate::query::{cookie, query_param};

/// The session cookie's name.
pub const COOKIE: &str = "confab_session";
/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "cfs_";
/// Prefix of API tokens (shown once, when made).
pub const API_TOKEN_PREFIX: &str = "cft_";

/// Which kind of credential a token claims to be, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    ApiToken,
    Guest,
}

impl TokenKind {
    pub fn of(token: &str) -> TokenKind {
        if token.starts_with(SESSION_PREFIX) {
            TokenKind::Session
        } else if token.starts_with(API_TOKEN_PREFIX) {
            TokenKind::ApiToken
        } else {
            TokenKind::Guest
        }
    }
}

/// The token of an `Authorization` header value: `Bearer <token>`, trimmed (None for another scheme).
pub fn bearer(authorization: &str) -> Option<String> {
    authorization.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// The request's token: the session cookie of the first `Cookie` header that has one, else the
/// query's `token`, else the `Authorization` header's bearer token.
pub fn token<'a>(cookies: impl IntoIterator<Item = &'a str>, query: Option<&str>, authorization: Option<&str>) -> Option<String> {
    cookies
        .into_iter()
        .find_map(|v| cookie(v, COOKIE))
        .or_else(|| query_param(query?, "token"))
        .or_else(|| bearer(authorization?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sources_in_order_and_kinds() {
        assert_eq!(token([], Some("a=1&token=q%2Dx"), None), Some("q-x".into()));
        assert_eq!(token([], None, Some("Bearer b ")), Some("b".into()));
        assert_eq!(token([], None, Some("Basic b")), None);
        assert_eq!(token(["x=1", "y=2; confab_session=c"], Some("token=q"), Some("Bearer b")), Some("c".into()));
        assert_eq!(TokenKind::of("cfs_abc"), TokenKind::Session);
        assert_eq!(TokenKind::of("cft_abc"), TokenKind::ApiToken);
        assert_eq!(TokenKind::of("CFS_abc"), TokenKind::Guest);
        assert_eq!(TokenKind::of(""), TokenKind::Guest);
    }
}
