//! The "accounts" section of the store on PostgreSQL: users, sessions, API tokens, recovery codes
//! and registration invites. Each change is one statement (several tables at once through
//! data-modifying `WITH` clauses), so it is atomic without a transaction held across round trips;
//! none publishes an event, so none goes through the group-commit writer.

use confab_core::accounts::{username, Credential, CredentialKind, Liveness, NewUser, Revoke, SessionLifetime, User, UserChange};
use confab_core::error::{ChatError, ErrorCode, Result};
use confab_core::model::{now_ms, Actor, ActorId, ActorKind};
use tokio_postgres::Row;

use crate::Db;

fn unreadable(what: impl std::fmt::Display) -> ChatError {
    ChatError::internal(format!("unreadable value in the database: {what}"))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(unreadable)
}

const USER_COLUMNS: &str = "u.actor_id, a.name, a.kind, u.admin, u.username, u.username_key, u.password_hash, \
    u.disabled_at, u.totp_secret, u.totp_enabled, u.created_at";

fn user_row(r: &Row) -> Result<User> {
    let kind: String = get(r, 2)?;
    if ActorKind::parse(&kind) != Some(ActorKind::User) {
        return Err(unreadable(format!("an account's actor has kind {kind:?}, not \"user\"")));
    }
    Ok(User {
        actor: Actor { id: ActorId::from(get::<String>(r, 0)?), name: get(r, 1)?, kind: ActorKind::User, admin: get(r, 3)? },
        username: get(r, 4)?,
        username_key: get(r, 5)?,
        password_hash: get(r, 6)?,
        disabled: get::<Option<i64>>(r, 7)?.is_some(),
        totp_secret: get(r, 8)?,
        totp_enabled: get(r, 9)?,
        created_at: get(r, 10)?,
    })
}

pub async fn create_user(db: &Db, new: &NewUser) -> Result<User> {
    let id = ActorId::new_user();
    let now = now_ms();
    // One statement: the actor and the account commit together, or neither (a taken username key
    // fails the whole statement with a unique violation).
    let sql = "WITH a AS (INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES ($1, 'user', $2, NULL, $6) RETURNING id)
        INSERT INTO users (actor_id, username, username_key, password_hash, admin, created_at)
        SELECT id, $3, $4, $5, $7, $6 FROM a";
    let inserted = db
        .execute_unique(sql, &[&id.as_str(), &new.display_name, &new.username, &new.username_key, &new.password_hash, &now, &new.admin])
        .await?;
    if inserted.is_none() {
        return Err(ChatError::new(ErrorCode::UsernameTaken, "that username is taken (or looks like one that is)"));
    }
    Ok(User {
        actor: Actor { id, name: new.display_name.clone(), kind: ActorKind::User, admin: new.admin },
        username: new.username.clone(),
        username_key: new.username_key.clone(),
        password_hash: new.password_hash.clone(),
        disabled: false,
        totp_secret: None,
        totp_enabled: false,
        created_at: now,
    })
}

pub async fn user_where(db: &Db, column: &str, value: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u JOIN actors a ON a.id = u.actor_id WHERE {column} = $1");
    db.query_opt(&sql, &[&value]).await?.map(|r| user_row(&r)).transpose()
}

pub async fn users(db: &Db) -> Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u JOIN actors a ON a.id = u.actor_id ORDER BY u.username_key");
    db.query(&sql, &[]).await?.iter().map(user_row).collect()
}

/// The query that reads the stored keys for [`username::rekey`], oldest account first.
pub const REKEY_SELECT: &str = "SELECT actor_id, username, username_key FROM users ORDER BY created_at, actor_id";
pub const REKEY_UPDATE: &str = "UPDATE users SET username_key = $1 WHERE actor_id = $2";

pub fn stored_key(r: &Row) -> Result<username::StoredKey> {
    Ok(username::StoredKey { id: get(r, 0)?, username: get(r, 1)?, key: get(r, 2)? })
}

/// [`username::rekey`] on the live database, one statement per change in the order it gives (each
/// moves to a key free at that point). A key another node took meanwhile (a registration between the
/// read and the change) fails with a unique violation: that change is skipped, the account keeps its
/// old key, as for any collision.
pub async fn rekey_usernames(db: &Db) -> Result<Vec<(String, String)>> {
    let stored = db.query(REKEY_SELECT, &[]).await?.iter().map(stored_key).collect::<Result<Vec<_>>>()?;
    let mut done = Vec::new();
    for (id, key) in username::rekey(&stored) {
        if db.execute_unique(REKEY_UPDATE, &[&key, &id]).await?.is_some() {
            done.push((id, key));
        }
    }
    Ok(done)
}

pub async fn update_user(db: &Db, id: &ActorId, change: &UserChange) -> Result<bool> {
    let id = id.as_str();
    let n = match change {
        UserChange::DisplayName(name) => db.execute("UPDATE actors SET name = $1 WHERE id = $2 AND kind = 'user'", &[name, &id]).await?,
        UserChange::PasswordHash(hash) => db.execute("UPDATE users SET password_hash = $1 WHERE actor_id = $2", &[hash, &id]).await?,
        UserChange::Disabled(true) => {
            db.execute("UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE actor_id = $2", &[&now_ms(), &id]).await?
        }
        UserChange::Disabled(false) => db.execute("UPDATE users SET disabled_at = NULL WHERE actor_id = $1", &[&id]).await?,
        UserChange::Admin(admin) => db.execute("UPDATE users SET admin = $1 WHERE actor_id = $2", &[admin, &id]).await?,
        UserChange::TotpPending(secret) => {
            db.execute("UPDATE users SET totp_secret = $1 WHERE actor_id = $2 AND NOT totp_enabled", &[secret, &id]).await?
        }
        UserChange::TotpEnabled { recovery_code_hashes } => {
            let sql = "WITH u AS (UPDATE users SET totp_enabled = TRUE WHERE actor_id = $1 AND totp_secret IS NOT NULL RETURNING actor_id),
                d AS (DELETE FROM recovery_codes WHERE actor_id IN (SELECT actor_id FROM u)),
                i AS (INSERT INTO recovery_codes (actor_id, code_hash) SELECT u.actor_id, h FROM u, unnest($2::bytea[]) AS h)
                SELECT COUNT(*) FROM u";
            let row = db.query_opt(sql, &[&id, recovery_code_hashes]).await?;
            row.map(|r| get::<i64>(&r, 0)).transpose()?.unwrap_or(0) as u64
        }
        UserChange::TotpDisabled => {
            let sql = "WITH d AS (DELETE FROM recovery_codes WHERE actor_id = $1)
                UPDATE users SET totp_secret = NULL, totp_enabled = FALSE, totp_last_step = NULL WHERE actor_id = $1";
            db.execute(sql, &[&id]).await?
        }
    };
    Ok(n > 0)
}

pub async fn claim_totp_step(db: &Db, id: &ActorId, step: i64) -> Result<bool> {
    let sql = "UPDATE users SET totp_last_step = $1 WHERE actor_id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)";
    Ok(db.execute(sql, &[&step, &id.as_str()]).await? > 0)
}

pub async fn use_recovery_code(db: &Db, id: &ActorId, hash: &[u8]) -> Result<bool> {
    let sql = "UPDATE recovery_codes SET used_at = $1 WHERE actor_id = $2 AND code_hash = $3 AND used_at IS NULL";
    Ok(db.execute(sql, &[&now_ms(), &id.as_str(), &hash]).await? > 0)
}

pub async fn recovery_codes_left(db: &Db, id: &ActorId) -> Result<usize> {
    let row = db.query_opt("SELECT COUNT(*) FROM recovery_codes WHERE actor_id = $1 AND used_at IS NULL", &[&id.as_str()]).await?;
    Ok(row.map(|r| get::<i64>(&r, 0)).transpose()?.unwrap_or(0) as usize)
}

/// The table of a credential kind and its label column (fixed strings: they go into SQL text).
fn table(kind: CredentialKind) -> (&'static str, &'static str) {
    match kind {
        CredentialKind::Session => ("sessions", "user_agent"),
        CredentialKind::ApiToken => ("api_tokens", "name"),
    }
}

fn credential_row(kind: CredentialKind, r: &Row) -> Result<Credential> {
    Ok(Credential {
        id: get(r, 0)?,
        kind,
        actor: ActorId::from(get::<String>(r, 1)?),
        label: get(r, 2)?,
        created_at: get(r, 3)?,
        last_used_at: get(r, 4)?,
    })
}

pub async fn create_credential(db: &Db, cred: &Credential, hash: &[u8]) -> Result<()> {
    let (table, label) = table(cred.kind);
    let sql = format!("INSERT INTO {table} (id, actor_id, token_hash, {label}, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)");
    db.execute(&sql, &[&cred.id, &cred.actor.as_str(), &hash, &cred.label, &cred.created_at, &cred.last_used_at]).await.map(drop)
}

pub async fn use_credential(db: &Db, kind: CredentialKind, hash: &[u8], now: i64, lifetime: &SessionLifetime) -> Result<Option<(Credential, User)>> {
    let (table, label) = table(kind);
    let sql = format!("SELECT id, actor_id, {label}, created_at, last_used_at FROM {table} WHERE token_hash = $1");
    let Some(row) = db.query_opt(&sql, &[&hash]).await? else { return Ok(None) };
    let mut cred = credential_row(kind, &row)?;
    if lifetime.expired(&cred, now) {
        return Ok(None);
    }
    let Some(user) = user_where(db, "u.actor_id", cred.actor.as_str()).await? else {
        return Err(ChatError::internal(format!("credential {} belongs to no account", cred.id)));
    };
    if lifetime.should_touch(cred.last_used_at, now) {
        db.execute(&format!("UPDATE {table} SET last_used_at = $1 WHERE id = $2"), &[&now, &cred.id]).await?;
        cred.last_used_at = Some(now);
    }
    Ok(Some((cred, user)))
}

pub async fn credentials(db: &Db, kind: CredentialKind, actor: &ActorId) -> Result<Vec<Credential>> {
    let (table, label) = table(kind);
    let sql = format!("SELECT id, actor_id, {label}, created_at, last_used_at FROM {table} WHERE actor_id = $1 ORDER BY created_at, id");
    db.query(&sql, &[&actor.as_str()]).await?.iter().map(|r| credential_row(kind, r)).collect()
}

pub async fn revoke_credentials(db: &Db, kind: CredentialKind, actor: &ActorId, which: &Revoke) -> Result<Vec<String>> {
    let (table, _) = table(kind);
    let rows = match which {
        Revoke::One(id) => db.query(&format!("DELETE FROM {table} WHERE actor_id = $1 AND id = $2 RETURNING id"), &[&actor.as_str(), id]).await?,
        Revoke::AllBut(id) => db.query(&format!("DELETE FROM {table} WHERE actor_id = $1 AND id <> $2 RETURNING id"), &[&actor.as_str(), id]).await?,
        Revoke::All => db.query(&format!("DELETE FROM {table} WHERE actor_id = $1 RETURNING id"), &[&actor.as_str()]).await?,
    };
    rows.iter().map(|r| get(r, 0)).collect()
}

pub async fn live_credentials(db: &Db, ids: &[String], now: i64, lifetime: &SessionLifetime) -> Result<Liveness> {
    let mut found = Liveness::default();
    let mut touch = Vec::new();
    for kind in [CredentialKind::Session, CredentialKind::ApiToken] {
        let (table, label) = table(kind);
        let sql = format!(
            "SELECT t.id, t.actor_id, t.{label}, t.created_at, t.last_used_at, u.disabled_at IS NOT NULL \
             FROM {table} t JOIN users u ON u.actor_id = t.actor_id WHERE t.id = ANY($1)"
        );
        let wanted: Vec<String> = ids.iter().filter(|id| CredentialKind::of_id(id) == Some(kind)).cloned().collect();
        if wanted.is_empty() {
            continue;
        }
        for row in db.query(&sql, &[&wanted]).await? {
            let cred = credential_row(kind, &row)?;
            let disabled: bool = get(&row, 5)?;
            let id = cred.id.clone();
            if found.file(cred, disabled, lifetime, now) {
                touch.push(id);
            }
        }
    }
    if !touch.is_empty() {
        db.execute("UPDATE sessions SET last_used_at = $1 WHERE id = ANY($2)", &[&now, &touch]).await?;
    }
    Ok(found)
}

pub async fn expire_sessions(db: &Db, now: i64, lifetime: &SessionLifetime) -> Result<Vec<String>> {
    let (created_cutoff, idle_cutoff) = lifetime.cutoffs(now);
    let sql = "DELETE FROM sessions WHERE created_at <= $1 OR COALESCE(last_used_at, created_at) <= $2 RETURNING id";
    db.query(sql, &[&created_cutoff, &idle_cutoff]).await?.iter().map(|r| get(r, 0)).collect()
}

pub async fn create_invite(db: &Db, hash: &[u8], created_by: Option<&ActorId>, expires_at: i64) -> Result<()> {
    let sql = "INSERT INTO registration_invites (code_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4)";
    db.execute(sql, &[&hash, &created_by.map(ActorId::as_str), &now_ms(), &expires_at]).await.map(drop)
}

pub async fn take_invite(db: &Db, hash: &[u8], now: i64) -> Result<bool> {
    let sql = "UPDATE registration_invites SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1";
    Ok(db.execute(sql, &[&now, &hash]).await? > 0)
}
