//! The HTTP/1.1 upgrade to WebSocket (RFC 6455 §4.2), without I/O: whether a request is a valid
//! upgrade, and the `Sec-WebSocket-Accept` value of the `101` answer. `crate::upgrade` wires it to
//! axum; the fuzz target `ws_handshake` feeds it arbitrary requests.

use base64::Engine;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use sha1::{Digest, Sha1};

/// Why a request is not a WebSocket upgrade: the status to answer with, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{1}")]
pub struct NotUpgrade(pub StatusCode, pub &'static str);

/// Checks an upgrade request and returns its `Sec-WebSocket-Key`. Refused with `400` (not a
/// WebSocket handshake) or `426` (another WebSocket version; the answer then says which we speak).
pub fn check(method: &Method, headers: &HeaderMap) -> Result<HeaderValue, NotUpgrade> {
    if method != Method::GET || !has_token(headers, header::CONNECTION, "upgrade") || !has_token(headers, header::UPGRADE, "websocket") {
        return Err(NotUpgrade(StatusCode::BAD_REQUEST, "not a WebSocket upgrade request"));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err(NotUpgrade(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 required"));
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| is_key(k.as_bytes()))
        .cloned()
        .ok_or(NotUpgrade(StatusCode::BAD_REQUEST, "missing or malformed Sec-WebSocket-Key"))
}

/// A key is 16 bytes in base64: 24 characters, the last two `==`.
fn is_key(key: &[u8]) -> bool {
    key.len() == 24
        && key[22..] == *b"=="
        && key[..22].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// Whether a comma-separated header (`Connection: keep-alive, Upgrade`) holds `token`.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn accept_key_matches_the_rfc_example() {
        // RFC 6455 §1.3
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn valid_and_invalid_upgrades() {
        let good = [
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert_eq!(check(&Method::GET, &request(&good)).unwrap(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(check(&Method::POST, &request(&good)).unwrap_err().0, StatusCode::BAD_REQUEST);
        let mut v8 = good;
        v8[2].1 = "8";
        assert_eq!(check(&Method::GET, &request(&v8)).unwrap_err().0, StatusCode::UPGRADE_REQUIRED);
        let mut bad_key = good;
        bad_key[3].1 = "dGhlIHNhbXBsZSBub25jZQ!!";
        assert_eq!(check(&Method::GET, &request(&bad_key)).unwrap_err().0, StatusCode::BAD_REQUEST);
        assert_eq!(check(&Method::GET, &request(&good[1..])).unwrap_err().0, StatusCode::BAD_REQUEST);
    }
}
