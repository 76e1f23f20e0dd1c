//! The "accounts" section of the store: users, sessions, API tokens, recovery codes and
//! registration invites. These writes are rare and publish no event, so they do not go through the
//! group-commit writer: each runs as its own `BEGIN IMMEDIATE` transaction on a pooled connection,
//! and SQLite's write lock (with the busy timeout every connection sets) orders it with the
//! writer's batches, exactly as it orders the writes of a `confab admin` process on the same file.

use confab_core::accounts::{username, Credential, CredentialKind, Liveness, NewUser, Revoke, SessionLifetime, User, UserChange};
use confab_core::error::{ChatError, ErrorCode, Result};
use confab_core::model::{now_ms, Actor, ActorId, ActorKind};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::read::db;

/// Runs `f` in a `BEGIN IMMEDIATE` transaction (taking the write lock up front, so that it never
/// has to upgrade a read snapshot, which SQLite refuses without waiting).
fn immediate<T>(c: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    c.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
    match f(c) {
        Ok(v) => {
            c.execute_batch("COMMIT").map_err(|e| {
                let _ = c.execute_batch("ROLLBACK");
                db(e)
            })?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

const USER_COLUMNS: &str = "u.actor_id, a.name, a.kind, u.admin, u.username, u.username_key, u.password_hash, \
    u.disabled_at, u.totp_secret, u.totp_enabled, u.created_at";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let kind: String = r.get(2)?;
    if ActorKind::parse(&kind) != Some(ActorKind::User) {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("an account's actor has kind {kind:?}, not \"user\"").into(),
        ));
    }
    Ok(User {
        actor: Actor { id: ActorId::from(r.get::<_, String>(0)?), name: r.get(1)?, kind: ActorKind::User, admin: r.get(3)? },
        username: r.get(4)?,
        username_key: r.get(5)?,
        password_hash: r.get(6)?,
        disabled: r.get::<_, Option<i64>>(7)?.is_some(),
        totp_secret: r.get(8)?,
        totp_enabled: r.get(9)?,
        created_at: r.get(10)?,
    })
}

fn read_err(e: rusqlite::Error) -> ChatError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => ChatError::internal(e),
        other => db(other),
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub fn create_user(c: &Connection, new: &NewUser) -> Result<User> {
    let id = ActorId::new_user();
    let now = now_ms();
    immediate(c, |c| {
        let taken: bool = c
            .query_row("SELECT EXISTS (SELECT 1 FROM users WHERE username_key = ?1)", [&new.username_key], |r| r.get(0))
            .map_err(db)?;
        if taken {
            return Err(ChatError::new(ErrorCode::UsernameTaken, "that username is taken (or looks like one that is)"));
        }
        c.execute(
            "INSERT INTO actors (id, kind, name, token_hash, created_at) VALUES (?1, 'user', ?2, NULL, ?3)",
            (id.as_str(), &new.display_name, now),
        )
        .map_err(db)?;
        c.execute(
            "INSERT INTO users (actor_id, username, username_key, password_hash, admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (id.as_str(), &new.username, &new.username_key, &new.password_hash, new.admin, now),
        )
        .map_err(|e| if is_unique_violation(&e) { ChatError::new(ErrorCode::UsernameTaken, "that username is taken") } else { db(e) })?;
        Ok(())
    })?;
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

pub fn user_where(c: &Connection, condition: &str, value: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u JOIN actors a ON a.id = u.actor_id WHERE {condition} = ?1");
    c.prepare_cached(&sql).and_then(|mut s| s.query_row([value], user_row).optional()).map_err(read_err)
}

pub fn users(c: &Connection) -> Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u JOIN actors a ON a.id = u.actor_id ORDER BY u.username_key");
    c.prepare_cached(&sql)
        .and_then(|mut s| s.query_map([], user_row)?.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(read_err)
}

/// Applies [`username::rekey`] to the stored keys (`users` read oldest first), in the caller's
/// transaction; the migration that introduced full case folding runs it, and
/// [`rekey_usernames`] for the store method.
pub fn rekey_in(c: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let stored = c
        .prepare("SELECT actor_id, username, username_key FROM users ORDER BY created_at, actor_id")?
        .query_map([], |r| Ok(username::StoredKey { id: r.get(0)?, username: r.get(1)?, key: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let moves = username::rekey(&stored);
    let mut update = c.prepare("UPDATE users SET username_key = ?1 WHERE actor_id = ?2")?;
    for (id, key) in &moves {
        update.execute((key, id))?;
    }
    Ok(moves)
}

pub fn rekey_usernames(c: &Connection) -> Result<Vec<(String, String)>> {
    immediate(c, |c| rekey_in(c).map_err(db))
}

pub fn update_user(c: &Connection, id: &ActorId, change: &UserChange) -> Result<bool> {
    let id = id.as_str();
    immediate(c, |c| {
        let n = match change {
            UserChange::DisplayName(name) => c.execute("UPDATE actors SET name = ?1 WHERE id = ?2 AND kind = 'user'", (name, id)),
            UserChange::PasswordHash(hash) => c.execute("UPDATE users SET password_hash = ?1 WHERE actor_id = ?2", (hash, id)),
            UserChange::Disabled(true) => {
                c.execute("UPDATE users SET disabled_at = COALESCE(disabled_at, ?1) WHERE actor_id = ?2", (now_ms(), id))
            }
            UserChange::Disabled(false) => c.execute("UPDATE users SET disabled_at = NULL WHERE actor_id = ?1", [id]),
            UserChange::Admin(admin) => c.execute("UPDATE users SET admin = ?1 WHERE actor_id = ?2", (admin, id)),
            UserChange::TotpPending(secret) => {
                c.execute("UPDATE users SET totp_secret = ?1, totp_enabled = 0 WHERE actor_id = ?2 AND totp_enabled = 0", (secret, id))
            }
            UserChange::TotpEnabled { recovery_code_hashes } => {
                let n = c.execute("UPDATE users SET totp_enabled = 1 WHERE actor_id = ?1 AND totp_secret IS NOT NULL", [id]).map_err(db)?;
                if n > 0 {
                    c.execute("DELETE FROM recovery_codes WHERE actor_id = ?1", [id]).map_err(db)?;
                    for hash in recovery_code_hashes {
                        c.execute("INSERT INTO recovery_codes (actor_id, code_hash) VALUES (?1, ?2)", (id, hash)).map_err(db)?;
                    }
                }
                Ok(n)
            }
            UserChange::TotpDisabled => {
                c.execute("DELETE FROM recovery_codes WHERE actor_id = ?1", [id]).map_err(db)?;
                c.execute("UPDATE users SET totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL WHERE actor_id = ?1", [id])
            }
        }
        .map_err(db)?;
        Ok(n > 0)
    })
}

pub fn claim_totp_step(c: &Connection, id: &ActorId, step: i64) -> Result<bool> {
    immediate(c, |c| {
        c.execute(
            "UPDATE users SET totp_last_step = ?1 WHERE actor_id = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
            (step, id.as_str()),
        )
        .map(|n| n > 0)
        .map_err(db)
    })
}

pub fn use_recovery_code(c: &Connection, id: &ActorId, hash: &[u8]) -> Result<bool> {
    immediate(c, |c| {
        c.execute(
            "UPDATE recovery_codes SET used_at = ?1 WHERE actor_id = ?2 AND code_hash = ?3 AND used_at IS NULL",
            (now_ms(), id.as_str(), hash),
        )
        .map(|n| n > 0)
        .map_err(db)
    })
}

pub fn recovery_codes_left(c: &Connection, id: &ActorId) -> Result<usize> {
    c.query_row("SELECT COUNT(*) FROM recovery_codes WHERE actor_id = ?1 AND used_at IS NULL", [id.as_str()], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
        .map_err(db)
}

/// The table of a credential kind and the column its label is kept in. Fixed strings only: they
/// are put into SQL text.
fn table(kind: CredentialKind) -> (&'static str, &'static str) {
    match kind {
        CredentialKind::Session => ("sessions", "user_agent"),
        CredentialKind::ApiToken => ("api_tokens", "name"),
    }
}

pub fn create_credential(c: &Connection, cred: &Credential, hash: &[u8]) -> Result<()> {
    let (table, label) = table(cred.kind);
    let sql = format!("INSERT INTO {table} (id, actor_id, token_hash, {label}, created_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    immediate(c, |c| {
        c.execute(&sql, (&cred.id, cred.actor.as_str(), hash, &cred.label, cred.created_at, cred.last_used_at)).map(drop).map_err(db)
    })
}

fn credential_row(kind: CredentialKind) -> impl Fn(&Row<'_>) -> rusqlite::Result<Credential> {
    move |r| {
        Ok(Credential {
            id: r.get(0)?,
            kind,
            actor: ActorId::from(r.get::<_, String>(1)?),
            label: r.get(2)?,
            created_at: r.get(3)?,
            last_used_at: r.get(4)?,
        })
    }
}

pub fn use_credential(c: &Connection, kind: CredentialKind, hash: &[u8], now: i64, lifetime: &SessionLifetime) -> Result<Option<(Credential, User)>> {
    let (table, label) = table(kind);
    let select = format!("SELECT id, actor_id, {label}, created_at, last_used_at FROM {table} WHERE token_hash = ?1");
    let Some(mut cred) = c.prepare_cached(&select).and_then(|mut s| s.query_row([hash], credential_row(kind)).optional()).map_err(read_err)? else {
        return Ok(None);
    };
    if lifetime.expired(&cred, now) {
        return Ok(None);
    }
    let Some(user) = user_where(c, "u.actor_id", cred.actor.as_str())? else {
        return Err(ChatError::internal(format!("credential {} belongs to no account", cred.id)));
    };
    if lifetime.should_touch(cred.last_used_at, now) {
        let update = format!("UPDATE {table} SET last_used_at = ?1 WHERE id = ?2");
        immediate(c, |c| c.execute(&update, (now, &cred.id)).map(drop).map_err(db))?;
        cred.last_used_at = Some(now);
    }
    Ok(Some((cred, user)))
}

pub fn credentials(c: &Connection, kind: CredentialKind, actor: &ActorId) -> Result<Vec<Credential>> {
    let (table, label) = table(kind);
    let sql = format!("SELECT id, actor_id, {label}, created_at, last_used_at FROM {table} WHERE actor_id = ?1 ORDER BY created_at, id");
    c.prepare_cached(&sql)
        .and_then(|mut s| s.query_map([actor.as_str()], credential_row(kind))?.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(read_err)
}

pub fn revoke_credentials(c: &Connection, kind: CredentialKind, actor: &ActorId, which: &Revoke) -> Result<Vec<String>> {
    let (table, _) = table(kind);
    let (condition, extra) = match which {
        Revoke::One(id) => ("AND id = ?2", Some(id.as_str())),
        Revoke::AllBut(id) => ("AND id <> ?2", Some(id.as_str())),
        Revoke::All => ("", None),
    };
    let sql = format!("DELETE FROM {table} WHERE actor_id = ?1 {condition} RETURNING id");
    immediate(c, |c| {
        let mut s = c.prepare(&sql).map_err(db)?;
        let rows = match extra {
            Some(id) => s.query_map((actor.as_str(), id), |r| r.get::<_, String>(0)).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>()),
            None => s.query_map([actor.as_str()], |r| r.get::<_, String>(0)).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>()),
        };
        rows.map_err(db)
    })
}

pub fn live_credentials(c: &Connection, ids: &[String], now: i64, lifetime: &SessionLifetime) -> Result<Liveness> {
    let mut found = Liveness::default();
    let mut touch = Vec::new();
    for kind in [CredentialKind::Session, CredentialKind::ApiToken] {
        let (table, label) = table(kind);
        let sql = format!(
            "SELECT t.id, t.actor_id, t.{label}, t.created_at, t.last_used_at, u.disabled_at IS NOT NULL \
             FROM {table} t JOIN users u ON u.actor_id = t.actor_id WHERE t.id = ?1"
        );
        let mut s = c.prepare_cached(&sql).map_err(db)?;
        let row = credential_row(kind);
        for id in ids.iter().filter(|id| CredentialKind::of_id(id) == Some(kind)) {
            let Some((cred, disabled)) = s.query_row([id], |r| Ok((row(r)?, r.get::<_, bool>(5)?))).optional().map_err(read_err)? else {
                continue;
            };
            let id = cred.id.clone();
            if found.file(cred, disabled, lifetime, now) {
                touch.push(id);
            }
        }
    }
    if !touch.is_empty() {
        immediate(c, |c| {
            let mut s = c.prepare_cached("UPDATE sessions SET last_used_at = ?1 WHERE id = ?2").map_err(db)?;
            for id in &touch {
                s.execute((now, id)).map_err(db)?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

pub fn expire_sessions(c: &Connection, now: i64, lifetime: &SessionLifetime) -> Result<Vec<String>> {
    let (created_cutoff, idle_cutoff) = lifetime.cutoffs(now);
    immediate(c, |c| {
        let mut s = c
            .prepare("DELETE FROM sessions WHERE created_at <= ?1 OR COALESCE(last_used_at, created_at) <= ?2 RETURNING id")
            .map_err(db)?;
        s.query_map((created_cutoff, idle_cutoff), |r| r.get::<_, String>(0)).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>()).map_err(db)
    })
}

pub fn create_invite(c: &Connection, hash: &[u8], created_by: Option<&ActorId>, expires_at: i64) -> Result<()> {
    immediate(c, |c| {
        c.execute(
            "INSERT INTO registration_invites (code_hash, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            (hash, created_by.map(ActorId::as_str), now_ms(), expires_at),
        )
        .map(drop)
        .map_err(db)
    })
}

pub fn take_invite(c: &Connection, hash: &[u8], now: i64) -> Result<bool> {
    immediate(c, |c| {
        c.execute(
            "UPDATE registration_invites SET used_at = ?1 WHERE code_hash = ?2 AND used_at IS NULL AND expires_at > ?1",
            (now, hash),
        )
        .map(|n| n > 0)
        .map_err(db)
    })
}
