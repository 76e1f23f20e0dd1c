//! Usernames: the name that identifies an account (display names may change; usernames do not).
//!
//! Two usernames are the same account when their [`key`]s are equal. The key is the username after
//! NFKC (fullwidth `ｓａｍ` is `sam`, the ligature `ﬁ` is `fi`), full Unicode case folding
//! (CaseFolding.txt, statuses C and F, through the `caseless` crate: `Sam` is `sam`, `ß` and `ẞ` are
//! `ss`, Greek `Σ`, `σ` and final `ς` are one letter), and the confusable skeleton of Unicode TR #39
//! (`unicode-security`), which maps characters that look alike onto one prototype: a name that
//! *looks* like a taken one is taken too.
//!
//! Keys made before full case folding (lower-casing only: `straße` and `strasse` had two keys) are
//! recomputed when a store opens; [`rekey`] decides the new keys, [`legacy_key`] is the old rule,
//! kept for the accounts whose new key another account already had (see [`rekey`]).
//!
//! Refused outright:
//! - invisible, control, format and bidi characters ([`crate::names::is_invisible`]): `sa\u{200B}m`
//!   would show as `sam`;
//! - a mix of scripts (TR #39 "single script" test, Common and Inherited characters aside): Latin
//!   with Cyrillic `раypal` is refused, whatever it resembles;
//! - anything but letters, digits, `_`, `-` and `.`, and lengths outside 3-32 characters (after NFKC);
//! - a name without a letter or digit (`...`, `-_-`): punctuation alone names nobody, and dots alone
//!   read as path steps wherever a username is shown in a path.

use caseless::Caseless;
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

/// Full case folding then NFKC, twice (folding can undo a normalisation and back, e.g. `ǰ` folds to
/// `j` + a combining caron): Unicode's NFKC_Casefold in effect, for the letters a username may have.
fn fold(s: &str) -> String {
    let once: String = s.nfkc().default_case_fold().nfkc().collect();
    once.chars().default_case_fold().nfkc().collect()
}

/// The key of an already NFKC-normalised name: case-folded, then its TR #39 skeleton, folded again
/// (a prototype may be upper case), so look-alikes and case variants share one key.
pub fn key(name: &str) -> String {
    let folded = fold(name);
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    fold(&skeleton)
}

/// The key as it was computed before full case folding (simple lower-casing), for the accounts
/// whose stored key is still the old one because the new one was taken ([`rekey`]).
pub fn legacy_key(name: &str) -> String {
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

/// The old-rule key to look an account up by when signing in ([`legacy_key`] of the typed name).
pub fn lookup_legacy_key(raw: &str) -> String {
    let name: String = raw.trim().nfkc().collect();
    legacy_key(&name)
}

/// One account for [`rekey`]: its id, its username and the key stored for it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub id: String,
    pub username: String,
    pub key: String,
}

/// Which stored username keys to change to [`key`] of the username, and in which order, so that
/// keys stay unique after every single change (the store's unique index checks each statement).
///
/// `accounts` must be in creation order (oldest first). An account moves to its new key when no
/// other account holds that key at that moment; passes repeat until nothing moves, so a key freed
/// by a later account's move is taken on the next pass. An account whose new key is still held by
/// another (two existing accounts that full case folding makes one, such as `straße` and `strasse`)
/// keeps its old key: both remain, both can sign in (sign-in also tries [`legacy_key`] for such
/// accounts), and no new account can take either name. Returns `(id, new key)` in the order to apply.
pub fn rekey(accounts: &[StoredKey]) -> Vec<(String, String)> {
    use std::collections::HashSet;
    let mut held: HashSet<String> = accounts.iter().map(|a| a.key.clone()).collect();
    let mut current: Vec<String> = accounts.iter().map(|a| a.key.clone()).collect();
    let wanted: Vec<String> = accounts.iter().map(|a| key(&a.username)).collect();
    let mut moves = Vec::new();
    loop {
        let before = moves.len();
        for (i, account) in accounts.iter().enumerate() {
            if current[i] != wanted[i] && !held.contains(&wanted[i]) {
                held.remove(&current[i]);
                held.insert(wanted[i].clone());
                current[i] = wanted[i].clone();
                moves.push((account.id.clone(), wanted[i].clone()));
            }
        }
        if moves.len() == before {
            return moves;
        }
    }
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
    fn full_case_folding_makes_one_key() {
        let key_of = |s: &str| parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).key;
        let strasse = key_of("strasse");
        for same in ["straße", "STRASSE", "Straße", "STRAẞE", "ｓｔｒａｓｓｅ"] {
            assert_eq!(key_of(same), strasse, "{same:?}");
        }
        // The ligature ﬁ (U+FB01) is NFKC's "fi"; its fold is "fi" too.
        assert_eq!(key_of("\u{FB01}sh"), key_of("fish"));
        assert_eq!(key_of("FISH"), key_of("fish"));
        // Greek sigma in its three forms.
        let sigma = key_of("\u{3C3}\u{3BF}\u{3C6}\u{3BF}\u{3C3}");
        assert_eq!(key_of("\u{3C3}\u{3BF}\u{3C6}\u{3BF}\u{3C2}"), sigma, "final sigma");
        assert_eq!(key_of("\u{3A3}\u{39F}\u{3A6}\u{39F}\u{3A3}"), sigma, "capital sigma");
        assert_eq!(lookup_key(" STRAẞE "), strasse);
        assert_ne!(key_of("strase"), strasse);
        // The old rule kept them apart: this is what existing databases hold.
        assert_ne!(legacy_key("straße"), legacy_key("strasse"));
        assert_eq!(legacy_key("Sam"), key("sam"), "plain names keep their key");
    }

    #[test]
    fn rekey_moves_keys_in_creation_order_and_keeps_collisions_on_their_old_key() {
        let at = |id: &str, name: &str| StoredKey { id: id.into(), username: name.into(), key: legacy_key(name) };
        // Already right: nothing to do.
        assert!(rekey(&[at("u_1", "sam"), at("u_2", "bob")]).is_empty());
        // straße alone moves to the new key.
        let moves = rekey(&[at("u_1", "straße"), at("u_2", "bob")]);
        assert_eq!(moves, [("u_1".to_string(), key("strasse"))]);
        // straße (older) and strasse: strasse already holds the new key, straße keeps its old one.
        assert!(rekey(&[at("u_1", "straße"), at("u_2", "strasse")]).is_empty());
        // Two that both move onto one key: the older gets it, the later keeps its old key.
        let moves = rekey(&[at("u_1", "straße"), at("u_2", "STRAẞE")]);
        assert_eq!(moves, [("u_1".to_string(), key("strasse"))]);
        // A key freed by a later move is taken on the next pass (u_2's stored key is the one u_1
        // wants; u_2 moves away from it after u_1 was looked at).
        let older = at("u_1", "straße");
        let freeing = StoredKey { id: "u_2".into(), username: "strassen".into(), key: key("strasse") };
        let moves = rekey(&[older, freeing]);
        assert_eq!(moves, [("u_2".to_string(), key("strassen")), ("u_1".to_string(), key("strasse"))]);
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
