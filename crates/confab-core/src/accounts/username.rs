//! Usernames: the name that identifies an account (display names may change; usernames do not).
//!
//! Two usernames are the same account when their [`key`]s are equal. The key is the username after
//! NFKC (fullwidth `ｓａｍ` is `sam`), Unicode lower-casing (`Sam` is `sam`), and the confusable
//! skeleton of Unicode TR #39 (`unicode-security`), which maps characters that look alike onto one
//! prototype: a name that *looks* like a taken one is taken too.
//!
//! Refused outright:
//! - invisible, control, format and bidi characters ([`crate::names::is_invisible`]): `sa\u{200B}m`
//!   would show as `sam`;
//! - a mix of scripts (TR #39 "single script" test, Common and Inherited characters aside): Latin
//!   with Cyrillic `раypal` is refused, whatever it resembles;
//! - anything but letters, digits, `_`, `-` and `.`, and lengths outside 3-32 characters (after NFKC);
//! - a name without a letter or digit (`...`, `-_-`): punctuation alone names nobody, and dots alone
//!   read as path steps wherever a username is shown in a path.

use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

use crate::error::{ChatError, ErrorCode, Result};

pub const MIN_CHARS: usize = 3;
pub const MAX_CHARS: usize = 32;

/// A checked username: as it is shown, and the key it is unique by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub name: String,
    pub key: String,
}

fn refuse(why: impl std::fmt::Display) -> ChatError {
    ChatError::new(
        ErrorCode::InvalidUsername,
        format!("{why}: a username has {MIN_CHARS} to {MAX_CHARS} letters, digits, '_', '-' or '.', in one script"),
    )
}

/// Validates a username and computes its key (`invalid_username` when refused).
pub fn parse(raw: &str) -> Result<Username> {
    if let Some(c) = raw.chars().find(|&c| crate::names::is_invisible(c)) {
        return Err(refuse(format_args!("it contains an invisible or control character (U+{:04X})", u32::from(c))));
    }
    let name: String = raw.trim().nfkc().collect();
    let count = name.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&count) {
        return Err(refuse(format_args!("it has {count} characters")));
    }
    if let Some(c) = name.chars().find(|&c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(refuse(format_args!("{c:?} is not allowed")));
    }
    if !name.chars().any(char::is_alphanumeric) {
        return Err(refuse("it has no letter or digit"));
    }
    if !name.as_str().is_single_script() {
        return Err(refuse("it mixes letters of different scripts"));
    }
    Ok(Username { key: key(&name), name })
}

/// The key of an already NFKC-normalised name: lower-cased, then its TR #39 skeleton, lower-cased
/// again (a prototype may be upper case), so look-alikes share one key.
pub fn key(name: &str) -> String {
    let lower: String = name.nfkc().flat_map(char::to_lowercase).collect();
    let skeleton: String = unicode_security::skeleton(&lower).collect();
    skeleton.nfkc().flat_map(char::to_lowercase).collect()
}

/// The key to look an account up by when signing in: the same as [`parse`]'s, without refusing
/// (a name that cannot be registered matches no account, and the answer stays `bad_credentials`).
pub fn lookup_key(raw: &str) -> String {
    let name: String = raw.trim().nfkc().collect();
    key(&name)
}

/// Whether `raw` can name no account, however it is spelt: it holds an invisible or control
/// character once the white space around it is trimmed, which [`parse`] refuses. Callers do not
/// look such a name up at all (PostgreSQL refuses a NUL in the query's text).
pub fn unmatchable(raw: &str) -> bool {
    raw.trim().chars().any(crate::names::is_invisible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_width_fold_to_one_account() {
        let sam = parse("sam").unwrap();
        assert_eq!(parse("Sam").unwrap().key, sam.key);
        assert_eq!(parse("SAM").unwrap().key, sam.key);
        let wide = parse("ｓａｍ").unwrap();
        assert_eq!(wide.name, "sam", "NFKC: fullwidth letters are the ASCII ones");
        assert_eq!(wide.key, sam.key);
        assert_eq!(lookup_key(" Ｓam "), sam.key);
        assert_ne!(parse("sammy").unwrap().key, sam.key);
    }

    #[test]
    fn mixed_script_look_alikes_are_refused() {
        // Cyrillic р (U+0440) and а (U+0430) among Latin letters.
        let fake = "\u{0440}\u{0430}ypal";
        assert_ne!(fake, "paypal");
        assert_eq!(parse(fake).unwrap_err().code, ErrorCode::InvalidUsername);
        // Cyrillic ѕ (U+0455) before Latin "am".
        assert_eq!(parse("\u{0455}am").unwrap_err().code, ErrorCode::InvalidUsername);
        assert!(parse("paypal").is_ok());
    }

    #[test]
    fn whole_script_look_alikes_share_the_key() {
        // All Cyrillic, one script, but drawn like Latin "sea": it may not pass for "sea".
        let cyrillic = "\u{0455}\u{0435}\u{0430}";
        let parsed = parse(cyrillic).unwrap();
        assert_eq!(parsed.key, parse("sea").unwrap().key);
        // A genuinely Cyrillic name is fine and distinct.
        assert_ne!(parse("борис").unwrap().key, parse("boris").unwrap().key);
    }

    #[test]
    fn invisible_bidi_and_bad_shapes_are_refused() {
        for bad in ["sa\u{200B}m", "sam\u{202E}", "\u{2066}sam", "s\u{00AD}am", "ab", &"x".repeat(33), "sam smith", "sam@x", "", "sa\u{0000}m", "...", "-_-", "._."] {
            assert_eq!(parse(bad).unwrap_err().code, ErrorCode::InvalidUsername, "{bad:?}");
        }
        assert!(unmatchable("sa\u{0000}m") && unmatchable("sam\u{202E}") && !unmatchable(" sam\n") && !unmatchable("Sam"));
        for good in ["sam_1", "a.b-c", "..a", "_1_", "zoë", "山田太郎", &"x".repeat(32)] {
            assert!(parse(good).is_ok(), "{good:?}");
        }
    }
}
