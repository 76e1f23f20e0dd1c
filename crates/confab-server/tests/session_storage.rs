//! What a session is, as the browser and the disk see it: the cookie's attributes, and a store that
//! keeps only the SHA-256 of a session token (docs/security.md, "What is stored").

mod support;

use sha2::{Digest, Sha256};
use support::*;

/// The session cookie is HttpOnly (no script reads it), SameSite=Lax, for the whole site, and Secure
/// only with `--secure-cookies`.
#[tokio::test]
async fn the_session_cookie_is_httponly_samesite_and_secure_when_asked() {
    let server = Server::start(&[]);
    let r = post_guest(&server, br#"{"name":"sam"}"#).await;
    let cookie = r.header("set-cookie").expect("Set-Cookie").to_string();
    let token = r.json()["token"].as_str().unwrap().to_string();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert_eq!(attributes[0], format!("confab_session={token}"));
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} missing in {cookie:?}");
    }
    assert!(!attributes.contains(&"Secure"), "Secure without --secure-cookies: {cookie:?}");

    let tls = Server::start(&["--secure-cookies"]);
    let r = post_guest(&tls, br#"{"name":"sam"}"#).await;
    let cookie = r.header("set-cookie").expect("Set-Cookie");
    assert!(cookie.split(';').map(str::trim).any(|a| a == "Secure"), "{cookie:?}");
}

/// A stolen copy of the data directory holds no usable session: the token's text is in no file of it,
/// its SHA-256 is (SQLite; the check reads every file's bytes, so it holds whatever the schema).
#[tokio::test]
async fn the_store_keeps_the_hash_of_a_session_token_never_the_token() {
    if std::env::var("CONFAB_TEST_STORE").as_deref() == Ok("postgres") {
        return; // the data dir is unused on PostgreSQL; the store code is shared by both (hash in, hash out)
    }
    let mut server = Server::start(&[]);
    let mut tokens = Vec::new();
    for name in ["ana", "ben", "cy"] {
        let r = post_guest(&server, format!("{{\"name\":\"{name}\"}}").as_bytes()).await;
        tokens.push(r.json()["token"].as_str().unwrap().to_string());
    }
    // The session works, so it was stored.
    let c = Client::with_token(&server, &tokens[0]).await;
    c.close().await;
    server.terminate();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&server.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!bytes.is_empty(), "no database files in {:?}", server.data_dir);
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for token in &tokens {
        assert!(!contains(token.as_bytes()), "the token {token} is stored in clear");
        assert!(contains(&Sha256::digest(token.as_bytes())), "the SHA-256 of {token} is not stored");
    }
}
