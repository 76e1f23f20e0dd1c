//! Accounts for the tests of direct conversations. Until accounts (issue 15, part C) can be
//! registered through the API, an actor of kind `user` with a session token is written straight into
//! the server's database (its SQLite file, or its PostgreSQL schema), exactly as the store keeps one;
//! the server then knows it by its token like any session. Replace with `POST /api/auth/register`
//! once that is on main.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::Server;

/// An account as a client knows it: its id, display name and session token.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub token: String,
}

/// Creates the account `name` in the server's database.
pub async fn account(server: &Server, name: &str) -> Account {
    let tail: String = (0..20).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
    let id = format!("u_{tail}");
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    let now = 0i64;
    match &server.database {
        Some((url, schema)) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
            let task = tokio::spawn(conn);
            let sql = format!("INSERT INTO {schema}.actors (id, kind, name, token_hash, created_at) VALUES ($1, 'user', $2, $3, $4)");
            client.execute(&sql, &[&id, &name, &hash, &now]).await.expect("insert account");
            drop(client);
            let _ = task.await;
        }
        None => {
            let db = rusqlite::Connection::open(server.data_dir.join("confab.db")).expect("open the database");
            db.busy_timeout(std::time::Duration::from_secs(10)).expect("busy timeout");
            db.execute(
                "INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES (?1, 'user', ?2, ?3, ?4)",
                (&id, name, &hash, now),
            )
            .expect("insert account");
        }
    }
    Account { id, name: name.to_string(), token }
}
