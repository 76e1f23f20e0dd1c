//! Identity resolved once: a token (from a cookie, `Authorization: Bearer`, `?token=`, `hello
//! {token}` or Socket.IO's `auth.token`) becomes an [`Identity`]: the actor, and which credential
//! it came by. Every transport calls [`resolve`]; none looks tokens up itself.
//!
//! Token forms: `cfs_…` a session (signing in), `cft_…` an API token, anything else a guest
//! session (kept on the guest's actor row, as before accounts). Each is looked up by its SHA-256
//! hash only.

use axum::http::HeaderMap;
use confab_core::accounts::{CredentialKind, User};
use confab_core::authz::GuestAccess;
use confab_core::model::{now_ms, Actor, ActorKind};
use confab_core::{ChatError, ErrorCode, Result};
use serde_json::{json, Value};

use crate::app::App;
use crate::http::auth;

pub use confab_protocol::credentials::{API_TOKEN_PREFIX, SESSION_PREFIX};
use confab_protocol::credentials::TokenKind;

/// How the request or connection authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A guest session (token on the actor row).
    Guest,
    /// A signed-in session, by id.
    Session(String),
    /// An API token, by id. A token acts as its account, but may not manage sessions, tokens, the
    /// password or two-factor sign-in.
    ApiToken(String),
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub actor: Actor,
    pub via: Via,
    /// The account, for accounts.
    pub user: Option<User>,
    /// An administrator without two-factor sign-in under `--require-2fa-for-admins`: may only read
    /// `/api/me`, set up and enable 2FA, and sign out.
    pub setup_only: bool,
}

impl Identity {
    pub fn guest(actor: Actor) -> Self {
        Identity { actor, via: Via::Guest, user: None, setup_only: false }
    }

    /// The session or API token id, for the registry of open connections.
    pub fn credential_id(&self) -> Option<&str> {
        match &self.via {
            Via::Guest => None,
            Via::Session(id) | Via::ApiToken(id) => Some(id),
        }
    }

    /// Refuses a setup-only identity (`two_factor_required`): everything but the 2FA setup routes.
    pub fn full(&self) -> Result<&Identity> {
        if self.setup_only {
            return Err(ChatError::new(
                ErrorCode::TwoFactorRequired,
                "administrators must turn on two-factor sign-in first (POST /api/account/2fa/setup)",
            ));
        }
        Ok(self)
    }

    /// The account behind a session (not an API token, not a guest), for the routes that manage
    /// the account itself; `forbidden` otherwise.
    pub fn session_account(&self) -> Result<(&User, &str)> {
        match (&self.via, &self.user) {
            (Via::Session(id), Some(user)) => Ok((user, id)),
            (Via::ApiToken(_), _) => Err(ChatError::forbidden("an API token cannot manage sessions, tokens, the password or two-factor sign-in")),
            _ => Err(ChatError::forbidden("this needs an account: sign in first")),
        }
    }

    /// The account (by session or API token).
    pub fn account(&self) -> Result<&User> {
        self.user.as_ref().ok_or_else(|| ChatError::forbidden("this needs an account: sign in first"))
    }

    /// `GET /api/me`'s `user`.
    pub fn me(&self) -> Value {
        let mut me = json!({
            "id": self.actor.id,
            "name": self.actor.name,
            "kind": self.actor.kind.as_str(),
            "admin": self.actor.admin,
            "two_factor": self.user.as_ref().is_some_and(|u| u.totp_enabled),
        });
        if let Some(user) = &self.user {
            me["username"] = json!(user.username);
        }
        if self.setup_only {
            me["setup_only"] = json!(true);
        }
        me
    }
}

/// The identity a token stands for. `unauthenticated` for a token that matches nothing (never
/// issued, signed out, revoked, or a session past its lifetime: one answer for all), `account_disabled` for a disabled account's, `guests_not_allowed`
/// for a guest session under `--guests off`.
pub async fn resolve(app: &App, token: &str) -> Result<Identity> {
    let hash = auth::hash_token(token);
    let kind = match TokenKind::of(token) {
        TokenKind::Session => Some(CredentialKind::Session),
        TokenKind::ApiToken => Some(CredentialKind::ApiToken),
        TokenKind::Guest => None,
    };
    let Some(kind) = kind else {
        let actor = app.chat.authenticate(&hash).await?.ok_or_else(unknown)?;
        if actor.kind != ActorKind::Guest {
            return Err(ChatError::internal(format!("a guest token resolved to a {} actor", actor.kind.as_str())));
        }
        if app.accounts.guests == GuestAccess::Off {
            return Err(guests_not_allowed());
        }
        return Ok(Identity::guest(actor));
    };
    let (credential, user) = app.accounts.store.use_credential(kind, &hash, now_ms(), &app.accounts.lifetime).await?.ok_or_else(unknown)?;
    if user.disabled {
        return Err(ChatError::new(ErrorCode::AccountDisabled, "this account is disabled"));
    }
    let setup_only = app.accounts.require_2fa_for_admins && user.actor.admin && !user.totp_enabled;
    let via = match kind {
        CredentialKind::Session => Via::Session(credential.id),
        CredentialKind::ApiToken => Via::ApiToken(credential.id),
    };
    Ok(Identity { actor: user.actor.clone(), via, user: Some(user), setup_only })
}

fn unknown() -> ChatError {
    ChatError::new(ErrorCode::Unauthenticated, "unknown or expired session")
}

pub fn guests_not_allowed() -> ChatError {
    ChatError::new(ErrorCode::GuestsNotAllowed, "this server does not allow guests: sign in or register")
}

/// The identity of an HTTP request or upgrade (cookie, `?token=`, or `Authorization: Bearer`), if
/// it carries a token at all.
pub async fn from_request(app: &App, headers: &HeaderMap, query: Option<&str>) -> Option<Result<Identity>> {
    let token = auth::token_from_request(headers, query)?;
    Some(resolve(app, &token).await)
}
