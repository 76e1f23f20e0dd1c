//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), as every
//! authenticator app computes them, and the recovery codes that stand in for a lost phone.
//!
//! A code is accepted for the current step and one step either side (clock drift). Replay is the
//! store's part: the caller records the step a code was accepted for
//! ([`crate::store::Store::claim_totp_step`]) and refuses any step at or below the last one.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Recovery codes made when 2FA is turned on.
pub const RECOVERY_CODES: usize = 10;

/// A new random secret (160 bits, as RFC 4226 recommends), base32 without padding.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// The `otpauth://` URL authenticator apps read from a QR code.
pub fn otpauth_url(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// The step a Unix time (seconds) falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The 6-digit code of `secret` (base32) at `step`; `None` if the secret is not base32.
pub fn code(secret: &str, step: i64) -> Option<String> {
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    Some(format!("{:06}", bin % 1_000_000))
}

/// The step (now - 1, now or now + 1) whose code `given` is, if any. Compared in constant time per step.
pub fn verify(secret: &str, given: &str, unix_secs: i64) -> Option<i64> {
    let given = given.trim();
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    (now - 1..=now + 1).find(|&step| code(secret, step).is_some_and(|c| constant_time_eq(c.as_bytes(), given.as_bytes())))
}

/// Fresh recovery codes (`xxxxx-xxxxx`, 50 random bits each) and their hashes for the store.
pub fn new_recovery_codes() -> (Vec<String>, Vec<Vec<u8>>) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let raw = crate::accounts::random_id("", 10);
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_code_hash(c)).collect();
    (codes, hashes)
}

/// The hash a recovery code is stored as: SHA-256 of it without dashes or spaces, lower case (the
/// codes are random, so a fast hash suffices).
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    let canonical: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

/// Whether a sign-in `code` looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(code: &str) -> bool {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 10
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (the secret "12345678901234567890"; 8 digits there, the last 6 here).
    #[test]
    fn rfc6238_vectors() {
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        for (t, want) in [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"), (2000000000, "279037")] {
            assert_eq!(code(&secret, step_at(t)).unwrap(), want, "t={t}");
        }
    }

    #[test]
    fn verify_allows_one_step_of_drift() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = step_at(now);
        assert_eq!(verify(&secret, &code(&secret, step).unwrap(), now), Some(step));
        assert_eq!(verify(&secret, &code(&secret, step - 1).unwrap(), now), Some(step - 1));
        assert_eq!(verify(&secret, &code(&secret, step + 1).unwrap(), now), Some(step + 1));
        assert_eq!(verify(&secret, &code(&secret, step - 2).unwrap(), now), None);
        assert_eq!(verify(&secret, "12345", now), None);
        assert_eq!(verify(&secret, "abcdef", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_canonically() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert_eq!(recovery_code_hash(&codes[0].to_uppercase().replace('-', " ")), hashes[0]);
        assert!(is_recovery_code(&codes[0]));
        assert!(!is_recovery_code("123456"));
    }
}
