//! The account rules the transports share: registering, signing in (throttled, the same answer
//! whether or not the account exists, two-factor when on), sessions and API tokens, password
//! changes, two-factor setup, registration invites. The HTTP routes (`http/account.rs`) and
//! `confab admin` translate to these; the store keeps the records.
//!
//! - [`hasher`]: argon2id on bounded blocking threads.
//! - [`throttle`]: failed sign-ins per account and per address.
//! - [`registry`]: which open connections each credential authenticated, closed on revocation.

pub mod hasher;
pub mod registry;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use confab_core::accounts::{
    self as core, new_credential_id, password, totp, username, Credential, CredentialKind, NewUser, Revoke, SessionLifetime, User, UserChange,
};
use confab_core::authz::GuestAccess;
use confab_core::model::{now_ms, ActorId};
use confab_core::store::Store;
use confab_core::{ChatError, ErrorCode, Result};

use crate::config::{Config, Registration};
use crate::conn::CloseReason;
use crate::http::auth;
use crate::identity::{API_TOKEN_PREFIX, SESSION_PREFIX};
use hasher::Hasher;
use registry::Registry;
use throttle::Throttle;

/// Longest User-Agent kept with a session, in bytes.
const USER_AGENT_MAX: usize = 256;
/// Longest API token name, in characters.
pub const TOKEN_NAME_MAX: usize = 64;
/// Longest life of a registration invite, and the default.
pub const INVITE_MAX_SECS: u64 = 30 * 24 * 3600;
pub const INVITE_DEFAULT_SECS: u64 = 7 * 24 * 3600;

pub struct Accounts {
    pub store: Arc<dyn Store>,
    pub registration: Registration,
    pub guests: GuestAccess,
    pub require_2fa_for_admins: bool,
    pub password_min_chars: usize,
    pub hasher: Hasher,
    pub throttle: Throttle,
    pub registry: Arc<Registry>,
    /// How long sessions live (idle timeout, longest life, how often a use is written).
    pub lifetime: SessionLifetime,
}

/// A new session: its account, the token (shown once) and the session's id.
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub session_id: String,
}

/// Why a sign-in failed: a client error, or the throttle (with its Retry-After).
pub enum LoginError {
    Refused(ChatError),
    Throttled(Duration),
}

impl From<ChatError> for LoginError {
    fn from(e: ChatError) -> Self {
        LoginError::Refused(e)
    }
}

pub fn bad_credentials() -> ChatError {
    ChatError::new(ErrorCode::BadCredentials, "the username or password is not right")
}

/// A new secret token with a prefix, and its hash.
fn new_secret(prefix: &str) -> (String, Vec<u8>) {
    let (raw, _) = auth::new_token();
    let token = format!("{prefix}{raw}");
    let hash = auth::hash_token(&token);
    (token, hash)
}

impl Accounts {
    /// The service with `config`'s settings; `lifetime` is [`Config::session_lifetime`], checked
    /// by the caller (start-up refuses settings that do not fit together).
    pub fn new(store: Arc<dyn Store>, config: &Config, lifetime: SessionLifetime) -> Self {
        Accounts {
            store,
            registration: config.registration,
            guests: config.guests.access(),
            require_2fa_for_admins: config.require_2fa_for_admins,
            password_min_chars: config.password_min_chars,
            hasher: Hasher::new(config.password_hash_concurrency, config.password_hash_queue),
            throttle: Throttle::new(
                Duration::from_secs(config.signin_window_secs),
                config.signin_attempts_per_account,
                config.signin_attempts_per_address,
            ),
            registry: Arc::new(Registry::default()),
            lifetime,
        }
    }

    /// The service with the default settings, for `confab admin` (which signs nobody in).
    pub fn with_defaults(store: Arc<dyn Store>) -> Self {
        Accounts {
            store,
            registration: Registration::Open,
            guests: GuestAccess::On,
            require_2fa_for_admins: false,
            password_min_chars: 8,
            hasher: Hasher::new(1, 8),
            throttle: Throttle::new(Duration::from_secs(900), 10, 50),
            registry: Arc::new(Registry::default()),
            lifetime: SessionLifetime::DEFAULT,
        }
    }

    /// Validates and hashes a new password (`weak_password`).
    pub async fn hash_new_password(&self, password: &str) -> Result<String> {
        password::check_policy(password, self.password_min_chars)?;
        let owned = password.to_string();
        self.hasher.run(move || password::hash(&owned)).await?
    }

    async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let (p, h) = (password.to_string(), hash.to_string());
        self.hasher.run(move || password::verify(&p, &h)).await
    }

    /// Creates an account (no session): registration and `confab admin create-admin` share it.
    pub async fn create_user(&self, raw_username: &str, pass: &str, display_name: Option<&str>, admin: bool) -> Result<User> {
        let name = username::parse(raw_username)?;
        let display = confab_core::model::display_name(display_name.unwrap_or(&name.name))?;
        self.check_free(&name).await?;
        let password_hash = self.hash_new_password(pass).await?;
        self.store
            .create_user(&NewUser { username: name.name, username_key: name.key, display_name: display, password_hash, admin })
            .await
    }

    /// `username_taken` if the name's key is an account's, or its key by the rule before full case
    /// folding is (an account that kept its old key at the migration: a new `strasse` must not sit
    /// beside an old `straße` under two keys).
    async fn check_free(&self, name: &username::Username) -> Result<()> {
        let legacy = username::legacy_key(&name.name);
        if self.store.user_by_key(&name.key).await?.is_some() || (legacy != name.key && self.store.user_by_key(&legacy).await?.is_some()) {
            return Err(ChatError::new(ErrorCode::UsernameTaken, "that username is taken (or looks like one that is)"));
        }
        Ok(())
    }

    /// The account a typed username signs in to: the one with its key; or, when the typed name's
    /// old-rule key ([`username::legacy_key`]) belongs to an account that kept its old key at the
    /// case-folding migration (its stored key is not today's key of its username), that one: both
    /// of two accounts the new rule made one keep signing in as before.
    pub async fn account_for_sign_in(&self, raw_username: &str) -> Result<Option<User>> {
        // A name with a character no username may hold (after the white space around it) matches no
        // account, and is not looked up: PostgreSQL would refuse a NUL in the query's text.
        if username::unmatchable(raw_username) {
            return Ok(None);
        }
        let key = username::lookup_key(raw_username);
        let by_key = self.store.user_by_key(&key).await?;
        let legacy = username::lookup_legacy_key(raw_username);
        if legacy == key {
            return Ok(by_key);
        }
        match self.store.user_by_key(&legacy).await? {
            Some(kept) if kept.username_key != username::key(&kept.username) => Ok(Some(kept)),
            _ => Ok(by_key),
        }
    }

    /// `POST /api/auth/register`: the registration setting, then the account, then a session.
    pub async fn register(&self, raw_username: &str, pass: &str, display_name: Option<&str>, invite: Option<&str>, user_agent: &str) -> Result<SignedIn> {
        match (self.registration, invite) {
            (Registration::Closed, _) => {
                return Err(ChatError::new(ErrorCode::RegistrationClosed, "registration is closed: an administrator creates accounts"))
            }
            (Registration::Invite, None) => {
                return Err(ChatError::new(ErrorCode::InviteInvalid, "registration needs an invite code from an administrator"))
            }
            _ => {}
        }
        // Checked before the invite is used up, so a typo in the username does not waste it.
        let name = username::parse(raw_username)?;
        password::check_policy(pass, self.password_min_chars)?;
        confab_core::model::display_name(display_name.unwrap_or(&name.name))?;
        self.check_free(&name).await?;
        if self.registration == Registration::Invite {
            let code = invite.unwrap_or_default();
            if !self.store.take_invite(&auth::hash_token(code.trim()), now_ms()).await? {
                return Err(ChatError::new(ErrorCode::InviteInvalid, "that invite code is unknown, used or expired"));
            }
        }
        let user = self.create_user(raw_username, pass, display_name, false).await?;
        self.new_session(user, user_agent).await
    }

    /// `POST /api/auth/login`. Unknown usernames are verified against a dummy hash, so the answer
    /// (`bad_credentials`) and its timing are the same as for a wrong password.
    pub async fn login(&self, raw_username: &str, pass: &str, code: Option<&str>, ip: IpAddr, user_agent: &str) -> Result<SignedIn, LoginError> {
        let key = username::lookup_key(raw_username);
        self.throttle.check(&key, ip).map_err(LoginError::Throttled)?;
        let user = self.account_for_sign_in(raw_username).await?;
        let hash = user.as_ref().map_or(password::dummy_hash(), |u| u.password_hash.as_str());
        let matches = self.verify(pass, hash).await?;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            _ => {
                self.throttle.failed(&key, ip);
                return Err(bad_credentials().into());
            }
        };
        if user.totp_enabled {
            let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(ChatError::new(ErrorCode::TwoFactorRequired, "enter the code from your authenticator app (or a recovery code)").into());
            };
            if !self.second_factor(&user, code).await? {
                self.throttle.failed(&key, ip);
                return Err(ChatError::new(ErrorCode::BadCredentials, "that code is not right, or was already used").into());
            }
        }
        self.throttle.succeeded(&key);
        Ok(self.new_session(user, user_agent).await?)
    }

    /// A TOTP code (each step accepted once) or a recovery code (each usable once).
    async fn second_factor(&self, user: &User, code: &str) -> Result<bool> {
        if totp::is_recovery_code(code) {
            return self.store.use_recovery_code(&user.actor.id, &totp::recovery_code_hash(code)).await;
        }
        let Some(secret) = &user.totp_secret else { return Ok(false) };
        match totp::verify(secret, code, now_ms() / 1000) {
            Some(step) => self.store.claim_totp_step(&user.actor.id, step).await,
            None => Ok(false),
        }
    }

    pub async fn new_session(&self, user: User, user_agent: &str) -> Result<SignedIn> {
        let (token, hash) = new_secret(SESSION_PREFIX);
        let mut label = user_agent.to_string();
        if label.len() > USER_AGENT_MAX {
            let mut end = USER_AGENT_MAX;
            while !label.is_char_boundary(end) {
                end -= 1;
            }
            label.truncate(end);
        }
        let now = now_ms();
        let credential = Credential {
            id: new_credential_id(CredentialKind::Session),
            kind: CredentialKind::Session,
            actor: user.actor.id.clone(),
            label,
            created_at: now,
            last_used_at: Some(now),
        };
        self.store.create_credential(&credential, &hash).await?;
        Ok(SignedIn { user, token, session_id: credential.id })
    }

    /// Revokes credentials and closes their open connections on this node (other nodes close
    /// theirs at their next recheck). Returns the ids revoked.
    pub async fn revoke(&self, kind: CredentialKind, actor: &ActorId, which: &Revoke) -> Result<Vec<String>> {
        // An id with a control character is no credential's (ids are random letters and digits),
        // and PostgreSQL would refuse a NUL in it: nothing to revoke.
        if matches!(which, Revoke::One(id) if id.chars().any(char::is_control)) {
            return Ok(Vec::new());
        }
        let ids = self.store.revoke_credentials(kind, actor, which).await?;
        self.registry.close(&ids, CloseReason::SessionRevoked);
        Ok(ids)
    }

    /// Changes the password after checking the current one; every other session ends.
    pub async fn change_password(&self, user: &User, session_id: &str, current: &str, new: &str) -> Result<()> {
        if !self.verify(current, &user.password_hash).await? {
            return Err(ChatError::new(ErrorCode::BadCredentials, "the current password is not right"));
        }
        let hash = self.hash_new_password(new).await?;
        self.store.update_user(&user.actor.id, &UserChange::PasswordHash(hash)).await?;
        self.revoke(CredentialKind::Session, &user.actor.id, &Revoke::AllBut(session_id.to_string())).await?;
        Ok(())
    }

    /// A new API token: its record and the secret, shown once.
    pub async fn create_token(&self, owner: &ActorId, name: &str) -> Result<(Credential, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX || name.chars().any(confab_core::names::is_invisible) {
            return Err(ChatError::bad_request(format!("a token name has 1 to {TOKEN_NAME_MAX} visible characters")));
        }
        let (secret, hash) = new_secret(API_TOKEN_PREFIX);
        let credential = Credential {
            id: new_credential_id(CredentialKind::ApiToken),
            kind: CredentialKind::ApiToken,
            actor: owner.clone(),
            label: name.to_string(),
            created_at: now_ms(),
            last_used_at: None,
        };
        self.store.create_credential(&credential, &hash).await?;
        Ok((credential, secret))
    }

    /// 2FA setup: a new pending secret (replacing an earlier pending one); `bad_request` if 2FA is on.
    pub async fn totp_setup(&self, user: &User) -> Result<(String, String)> {
        if user.totp_enabled {
            return Err(ChatError::bad_request("two-factor sign-in is already on; turn it off first"));
        }
        let secret = totp::new_secret();
        self.store.update_user(&user.actor.id, &UserChange::TotpPending(secret.clone())).await?;
        let url = totp::otpauth_url("Confab", &user.username, &secret);
        Ok((secret, url))
    }

    /// Turns 2FA on with a code of the pending secret; returns the recovery codes (shown once).
    pub async fn totp_enable(&self, user: &User, code: &str) -> Result<Vec<String>> {
        let secret = match (&user.totp_secret, user.totp_enabled) {
            (_, true) => return Err(ChatError::bad_request("two-factor sign-in is already on")),
            (None, _) => return Err(ChatError::bad_request("set two-factor sign-in up first (POST /api/account/2fa/setup)")),
            (Some(s), false) => s,
        };
        let step = totp::verify(secret, code, now_ms() / 1000)
            .ok_or_else(|| ChatError::new(ErrorCode::BadCredentials, "that code is not right; check the time on your device"))?;
        let (codes, hashes) = totp::new_recovery_codes();
        self.store.update_user(&user.actor.id, &UserChange::TotpEnabled { recovery_code_hashes: hashes }).await?;
        self.store.claim_totp_step(&user.actor.id, step).await?;
        Ok(codes)
    }

    /// Turns 2FA off after checking the password.
    pub async fn totp_disable(&self, user: &User, pass: &str) -> Result<()> {
        if !self.verify(pass, &user.password_hash).await? {
            return Err(ChatError::new(ErrorCode::BadCredentials, "the password is not right"));
        }
        self.store.update_user(&user.actor.id, &UserChange::TotpDisabled).await?;
        Ok(())
    }

    /// A registration invite code (shown once; stored hashed), valid for `expires_in` seconds.
    pub async fn create_invite(&self, by: Option<&ActorId>, expires_in_secs: u64) -> Result<(String, i64)> {
        if expires_in_secs == 0 || expires_in_secs > INVITE_MAX_SECS {
            return Err(ChatError::bad_request(format!("expires_in_secs is 1 to {INVITE_MAX_SECS}")));
        }
        let code = core::random_code(24);
        let expires_at = now_ms() + (expires_in_secs as i64) * 1000;
        self.store.create_invite(&auth::hash_token(&code), by, expires_at).await?;
        Ok((code, expires_at))
    }
}
