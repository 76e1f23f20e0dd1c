//! Passwords: the policy (a minimum length that is a setting, a maximum in bytes so nobody makes the
//! server hash a megabyte) and argon2id with the `argon2` crate's defaults, which are OWASP's minimum
//! (m = 19 MiB, t = 2, p = 1). These functions are slow on purpose and blocking: callers run them on
//! a blocking thread, bounded (the server's hasher).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::{ChatError, ErrorCode, Result};

/// Longest password accepted, in bytes of UTF-8.
pub const MAX_BYTES: usize = 1024;

/// Refuses a new password shorter than `min_chars` characters or longer than [`MAX_BYTES`]
/// (`weak_password`).
pub fn check_policy(password: &str, min_chars: usize) -> Result<()> {
    let chars = password.chars().count();
    if chars < min_chars {
        return Err(ChatError::new(ErrorCode::WeakPassword, format!("a password has at least {min_chars} characters")));
    }
    if password.len() > MAX_BYTES {
        return Err(ChatError::new(ErrorCode::WeakPassword, format!("a password has at most {MAX_BYTES} bytes")));
    }
    Ok(())
}

/// argon2id PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String> {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(ChatError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ChatError::internal)
}

/// Whether `password` matches the stored PHC string. A hash that cannot be parsed matches nothing
/// (and is logged). Passwords above [`MAX_BYTES`] match nothing without being hashed.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash unreadable");
            false
        }
    }
}

/// A hash of a random password, made once: signing in as an account that does not exist verifies
/// against it, so that the answer takes as long as for a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = crate::accounts::random_id("", 24);
        hash(&random).unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$invalid".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct hors", &h));
        assert_ne!(hash("correct horse").unwrap(), h, "a fresh salt each time");
        assert!(!verify("x", "not a hash"));
        assert!(!verify(&"a".repeat(MAX_BYTES + 1), &h));
    }

    #[test]
    fn policy_bounds() {
        assert_eq!(check_policy("short", 8).unwrap_err().code, ErrorCode::WeakPassword);
        assert!(check_policy("éééééééé", 8).is_ok(), "characters, not bytes");
        assert_eq!(check_policy(&"a".repeat(MAX_BYTES + 1), 8).unwrap_err().code, ErrorCode::WeakPassword);
        assert!(check_policy(&"a".repeat(MAX_BYTES), 8).is_ok());
    }
}
