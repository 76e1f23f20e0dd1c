//! The answers of the accounts API (`account.rs`) as OpenAPI schemas. The handlers build these bodies
//! with `json!`; these types say their shape for the document, and schemathesis (tests/openapi/run.sh)
//! checks every answer of a live server against them, so a field added to a handler and not here fails
//! CI. Handlers that switch to typed answers can derive `ToSchema` on those instead and drop the type here.

#![allow(dead_code)] // read by utoipa's derive only

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /api/server`: how this server lets people in.
#[derive(Serialize, ToSchema)]
pub struct ServerInfo {
    /// `--registration`.
    #[schema(inline)]
    pub registration: Registration,
    /// `--guests`.
    #[schema(inline)]
    pub guests: Guests,
    /// The server's version.
    pub version: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    Open,
    Invite,
    Closed,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Guests {
    Off,
    Public,
    On,
}

/// Who the request is.
#[derive(Serialize, ToSchema)]
pub struct Me {
    #[schema(value_type = String, example = "u_abcdefghijk23456789m")]
    pub id: String,
    /// The display name.
    pub name: String,
    #[schema(inline)]
    pub kind: MeKind,
    /// A server administrator.
    pub admin: bool,
    /// Two-factor sign-in is on.
    pub two_factor: bool,
    /// Accounts only: the username (normalised: lower case).
    pub username: Option<String>,
    /// Present (true) for an administrator who must turn on two-factor sign-in before anything else.
    pub setup_only: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeKind {
    Guest,
    User,
}

#[derive(Serialize, ToSchema)]
pub struct MeAnswer {
    pub user: Me,
}

/// A new session (register, sign in): the token for non-browser clients, and the cookie.
#[derive(Serialize, ToSchema)]
pub struct SignedInAnswer {
    pub user: Me,
    /// The session token (shown once; stored as its SHA-256).
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The User-Agent that signed in.
    pub user_agent: String,
    /// This request's own session.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A new API token: its secret is shown this once (stored hashed).
#[derive(Serialize, ToSchema)]
pub struct NewTokenAnswer {
    pub token: TokenView,
    /// `Authorization: Bearer <secret>` on /ws, Socket.IO (`auth.token`) and this API.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TotpSetupAnswer {
    /// The TOTP secret, base32.
    pub secret: String,
    /// `otpauth://totp/...` for an authenticator app's QR code.
    pub otpauth_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once; each signs in once in place of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// A registration invite (administrators).
#[derive(Serialize, ToSchema)]
pub struct InviteAnswer {
    pub code: String,
    /// `/register?invite=<code>`.
    pub url: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
}
