//! The JSON bodies of the accounts routes (docs/api.md, "Accounts"): register, sign in, sign out,
//! the display name, the password, API tokens, two-factor sign-in and registration invites. The
//! server's handlers read each body with [`object`] or [`optional_object`]; the rules (what a
//! username or a password may be) are the accounts service's, not this file's.
//!
//! Unknown fields are ignored (a newer client may send more); a duplicated field is refused by
//! serde_json while the body is read as JSON, before any of this runs.

use confab_core::ChatError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    pub invite: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub code: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogoutRequest {
    #[serde(default)]
    pub everywhere: bool,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountPatch {
    pub display_name: String,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeRequest {
    pub code: String,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordRequest {
    pub password: String,
}

#[derive(Debug, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteRequest {
    pub expires_in_secs: Option<u64>,
}

/// A JSON body already read as a value, as `T`: an object only (serde would otherwise read a
/// struct from an array by position, `["sam", "pw"]`), and a missing or mistyped field is a
/// `bad_request` naming it. `shape` tells the client what was expected.
pub fn object<T: DeserializeOwned>(value: Value, shape: &str) -> Result<T, ChatError> {
    if !value.is_object() {
        return Err(ChatError::bad_request(format!("the body is a JSON object: {shape}")));
    }
    T::deserialize(value).map_err(|e| ChatError::bad_request(format!("body: {e}")))
}

/// An optional JSON object body, as raw bytes: empty (only white space) or `null` is `T::default()`.
pub fn optional_object<T: DeserializeOwned + Default>(raw: &[u8], shape: &str) -> Result<T, ChatError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: Value = serde_json::from_slice(raw).map_err(|e| ChatError::bad_request(format!("body: {e}")))?;
    if value.is_null() {
        return Ok(T::default());
    }
    object(value, shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::ErrorCode;
    use serde_json::json;

    #[test]
    fn objects_only_and_fields_named() {
        let r: RegisterRequest = object(json!({"username": "sam", "password": "pw", "extra": 1}), "{}").unwrap();
        assert_eq!((r.username.as_str(), r.display_name), ("sam", None));
        for bad in [json!(["sam", "pw"]), json!({"username": "sam"}), json!({"username": 5, "password": "x"}), json!(null)] {
            let e = object::<RegisterRequest>(bad.clone(), "{}").unwrap_err();
            assert_eq!(e.code, ErrorCode::BadRequest, "{bad}");
        }
        let e = object::<InviteRequest>(json!({"expires_in_secs": -1}), "{}").unwrap_err();
        assert!(e.message.contains("expires_in_secs") || e.message.contains("-1"), "{}", e.message);
    }

    #[test]
    fn optional_bodies() {
        assert!(!optional_object::<LogoutRequest>(b" \n", "{}").unwrap().everywhere);
        assert!(!optional_object::<LogoutRequest>(b"null", "{}").unwrap().everywhere);
        assert!(optional_object::<LogoutRequest>(br#"{"everywhere": true}"#, "{}").unwrap().everywhere);
        assert_eq!(optional_object::<LogoutRequest>(b"{", "{}").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(optional_object::<LogoutRequest>(b"[true]", "{}").unwrap_err().code, ErrorCode::BadRequest);
    }
}
