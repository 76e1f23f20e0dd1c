//! Accounts: what a registered person is, apart from any transport or store.
//!
//! - [`username`]: usernames that identify (unique after NFKC, lower-casing and the UTS #39
//!   confusable skeleton; no invisible characters, no mixed scripts).
//! - [`password`]: the password policy and argon2id hashing (the caller runs it off the async
//!   runtime's threads: hashing takes tens of milliseconds by design).
//! - [`totp`]: RFC 6238 one-time codes and recovery codes for two-factor sign-in.
//!
//! The records the store keeps for accounts ([`User`], [`Credential`]) are defined here too; the
//! store methods that read and write them are the "accounts" section of [`crate::store::Store`].

pub mod password;
pub mod totp;
pub mod username;

use crate::model::{Actor, ActorId};

/// A registered account as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's actor (kind `User`); its `name` is the display name, which may change.
    pub actor: Actor,
    /// The username as registered (NFKC); it identifies the account and never changes.
    pub username: String,
    /// The key usernames are unique by ([`username::key`]).
    pub username_key: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Set when an operator disabled the account: it cannot sign in, and its credentials stop working.
    pub disabled: bool,
    /// The TOTP secret (base32), set by 2FA setup; used for sign-in only once `totp_enabled`.
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub created_at: i64,
}

/// A new account for [`crate::store::Store::create_user`].
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub username_key: String,
    pub display_name: String,
    pub password_hash: String,
    pub admin: bool,
}

/// The two kinds of long-lived credential an account has: a browser or client session made by
/// signing in, and a named API token made for a bot. Each is a random secret the store keeps only
/// as a SHA-256 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    Session,
    ApiToken,
}

impl CredentialKind {
    /// Id prefix (`s_` sessions, `t_` API tokens), so that an id alone says which table it is in.
    pub fn id_prefix(self) -> &'static str {
        match self {
            CredentialKind::Session => "s_",
            CredentialKind::ApiToken => "t_",
        }
    }
    pub fn of_id(id: &str) -> Option<Self> {
        match id.get(..2) {
            Some("s_") => Some(CredentialKind::Session),
            Some("t_") => Some(CredentialKind::ApiToken),
            _ => None,
        }
    }
}

/// A session or an API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    pub actor: ActorId,
    /// Sessions: the User-Agent that signed in; API tokens: the name the owner gave it.
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// How long sessions live (API tokens are not limited by it: they end when revoked). A session
/// ends when it goes `idle_ms` without a recorded use, or `max_ms` after it was made, whichever
/// comes first; it is then refused exactly like a revoked one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    /// Longest time without a recorded use (`--session-idle-days`).
    pub idle_ms: i64,
    /// Longest life from sign-in, however much it is used (`--session-max-days`).
    pub max_ms: i64,
    /// A use is recorded only when the last recorded one is at least this old
    /// (`--session-touch-secs`), so that using a credential costs no write per request. A session
    /// may therefore end up to this much before `idle_ms` after its real last use.
    pub touch_ms: i64,
}

impl SessionLifetime {
    /// The defaults: 30 days idle, 90 days at most, uses recorded to the minute.
    pub const DEFAULT: SessionLifetime = SessionLifetime { idle_ms: 30 * DAY_MS, max_ms: 90 * DAY_MS, touch_ms: 60_000 };

    /// Whether `credential` has ended by `now` (ms): always false for an API token.
    pub fn expired(&self, credential: &Credential, now: i64) -> bool {
        credential.kind == CredentialKind::Session
            && (now - credential.created_at >= self.max_ms
                || now - credential.last_used_at.unwrap_or(credential.created_at) >= self.idle_ms)
    }

    /// Whether a use at `now` should be written, given the last recorded one.
    pub fn should_touch(&self, last_used_at: Option<i64>, now: i64) -> bool {
        last_used_at.is_none_or(|t| now - t >= self.touch_ms)
    }

    /// The cut-offs for a query at `now`: a session created at or before the first, or last used
    /// (never used: created) at or before the second, has expired.
    pub fn cutoffs(&self, now: i64) -> (i64, i64) {
        (now - self.max_ms, now - self.idle_ms)
    }
}

const DAY_MS: i64 = 86_400_000;

/// The answer of [`crate::store::Store::live_credentials`]: of the ids asked about, those still
/// live, and those that exist but are sessions past their lifetime. Any other id was revoked (or
/// never existed, or its account is disabled).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    pub live: Vec<String>,
    pub expired: Vec<String>,
}

impl Liveness {
    /// Files a credential found by id: under `expired`, under `live`, or nowhere (its account is
    /// disabled). Returns whether a use at `now` should be recorded for it: a live session whose last
    /// recorded use is older than the lifetime's touch interval.
    pub fn file(&mut self, credential: Credential, disabled: bool, lifetime: &SessionLifetime, now: i64) -> bool {
        if lifetime.expired(&credential, now) {
            self.expired.push(credential.id);
            false
        } else if disabled {
            false
        } else {
            let touch =
                credential.kind == CredentialKind::Session && lifetime.should_touch(credential.last_used_at, now);
            self.live.push(credential.id);
            touch
        }
    }
}

/// Which of an account's credentials of one kind to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    One(String),
    /// Every one but this (password change: "the other sessions end").
    AllBut(String),
    All,
}

/// A change to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    DisplayName(String),
    PasswordHash(String),
    Disabled(bool),
    Admin(bool),
    /// 2FA setup: a new pending secret (not yet enabled).
    TotpPending(String),
    /// 2FA on, with the hashes of its fresh recovery codes (replacing any older ones).
    TotpEnabled { recovery_code_hashes: Vec<Vec<u8>> },
    /// 2FA off: secret and recovery codes removed.
    TotpDisabled,
}

/// A new random credential id with its kind's prefix.
pub fn new_credential_id(kind: CredentialKind) -> String {
    random_id(kind.id_prefix(), 20)
}

/// A random code of `len` characters from an alphabet without look-alikes (invites and the like).
pub fn random_code(len: usize) -> String {
    random_id("", len)
}

pub(crate) fn random_id(prefix: &str, len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let tail: String = (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{tail}")
}
