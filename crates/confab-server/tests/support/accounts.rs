//! Accounts for tests that need people who have signed up (direct conversations): registered
//! through the API, as a person does (`POST /api/auth/register`), with the session token it answers.

use serde_json::json;

use super::{http_at, Server};

/// An account as a client knows it: its id, username, display name and session token.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub name: String,
    pub token: String,
}

/// Registers the account `name` (username `name` in lower case, display name `name`) on `server`.
pub async fn account(server: &Server, name: &str) -> Account {
    register(&server.addr, name).await
}

/// [`account`] on the server at `addr`.
pub async fn register(addr: &str, name: &str) -> Account {
    let username = name.to_lowercase();
    let body = json!({"username": username, "password": "correct horse battery", "display_name": name}).to_string();
    let r = http_at(addr, "POST", "/api/auth/register", &[("Content-Type", "application/json")], body.as_bytes()).await;
    assert_eq!(r.status, 200, "register {name}: {}", r.text());
    let v = r.json();
    let id = v["user"]["id"].as_str().expect("user id").to_string();
    let token = v["token"].as_str().expect("token").to_string();
    Account { id, username, name: name.to_string(), token }
}
