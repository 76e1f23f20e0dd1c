//! The checks every name a person types goes through (display names and room names today, account
//! usernames later): NFC normalisation, white space folded, and no character that would let one name
//! look like another while being a different string.
//!
//! What is refused, and why:
//! - control characters (category Cc): they move the cursor or end lines in logs and terminals;
//! - format characters (Cf): zero-width spaces and joiners (U+200B..U+200F, U+2060..U+2064, U+FEFF,
//!   U+180E), bidi embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069, U+061C, which
//!   reorder what follows), tag characters: all invisible, so `sa\u{200B}m` shows as `sam`;
//! - other invisible characters that are not Cf: the combining grapheme joiner U+034F, variation
//!   selectors (U+FE00..U+FE0F, U+E0100..U+E01EF), Hangul fillers (U+115F, U+1160, U+3164, U+FFA0),
//!   the braille blank U+2800;
//! - private-use, unassigned and surrogate code points: nobody can tell how they will render.
//!
//! Two exceptions keep emoji working: a variation selector U+FE0E/U+FE0F directly after a symbol
//! (`❤️`), and a zero-width joiner between two symbols (`👩‍💻`-style sequences). Both change how the
//! symbol is drawn, not which letters a reader sees.
//!
//! White space (any Unicode `White_Space`, so no-break and ideographic spaces too) is trimmed at both
//! ends. Inside, [`Rules::fold_white_space`] either makes each run one ASCII space (display names:
//! `sam\u{3000}\u{3000}x` and `sam x` are one name), or keeps ASCII spaces as typed and refuses any other
//! white space (room names: a room's name is also its address, and rooms named before these rules
//! must keep theirs).
//!
//! Case folding and mixed-script look-alike detection (Cyrillic `а` in a Latin name) are not done
//! here yet; accounts will add them on top of [`normalize`], as a second pass over its result.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a name was refused. The chat layer maps each to its error code (`invalid_name`,
/// `invalid_room_name`); the text says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the name contains an invisible or control character (U+{:04X})", u32::from(*.0))]
    Invisible(char),
    #[error("the name contains a character that is not allowed here (U+{:04X} {:?})", u32::from(*.0), .0)]
    NotAllowed(char),
}

/// Characters drawn as nothing (or as blank) that Unicode does not put in category Cf.
fn invisible_non_format(c: char) -> bool {
    matches!(c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}'
        | '\u{17B4}' | '\u{17B5}')
}

/// True for a character no name may contain on its own (see the module doc).
pub fn is_invisible(c: char) -> bool {
    use GeneralCategory::*;
    matches!(c.general_category(), Control | Format | PrivateUse | Unassigned | Surrogate | LineSeparator | ParagraphSeparator)
        || invisible_non_format(c)
}

/// How [`normalize`] treats a kind of name.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Longest name, in characters after normalisation.
    pub max_chars: usize,
    /// Fold white space runs inside the name to one space (else: only ASCII spaces, kept as typed).
    pub fold_white_space: bool,
}

fn is_symbol(c: Option<char>) -> bool {
    c.is_some_and(|c| matches!(c.general_category(), GeneralCategory::OtherSymbol | GeneralCategory::ModifierSymbol))
}

/// The name in normal form: NFC, white space trimmed and folded, every character visible. Names equal
/// after this are the same string, which the look-alike checks of accounts will build on.
pub fn normalize(raw: &str, rules: Rules) -> Result<String, NameError> {
    let nfc: String = raw.nfc().collect();
    let nfc: Vec<char> = nfc.trim().chars().collect();
    let max_chars = rules.max_chars;
    let mut out = String::with_capacity(raw.len());
    let mut count = 0;
    let mut space = false;
    for (i, &c) in nfc.iter().enumerate() {
        if c.is_whitespace() {
            if rules.fold_white_space {
                space = true;
                continue;
            }
            if c != ' ' {
                return Err(NameError::NotAllowed(c));
            }
        }
        let prev = if space { None } else { out.chars().next_back() };
        let emoji_joiner = match c {
            '\u{FE0E}' | '\u{FE0F}' => is_symbol(prev),
            '\u{200D}' => is_symbol(prev) && is_symbol(nfc.get(i + 1).copied()),
            _ => false,
        };
        if is_invisible(c) && !emoji_joiner {
            return Err(NameError::Invisible(c));
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        out.push(c);
        count += 1;
        if count > max_chars {
            return Err(NameError::TooLong { max: max_chars });
        }
    }
    if out.is_empty() {
        return Err(NameError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLD: Rules = Rules { max_chars: 32, fold_white_space: true };
    const KEEP: Rules = Rules { max_chars: 32, fold_white_space: false };

    #[test]
    fn without_folding_only_ascii_spaces_pass_and_stay() {
        assert_eq!(normalize(" a  b ", KEEP).unwrap(), "a  b");
        assert_eq!(normalize("a\tb", KEEP), Err(NameError::NotAllowed('\t')));
        assert_eq!(normalize("a\u{A0}b", KEEP), Err(NameError::NotAllowed('\u{A0}')));
        assert_eq!(normalize("\u{3000}a\u{A0}", KEEP).unwrap(), "a", "trimmed all the same");
    }

    #[test]
    fn invisible_characters_are_refused_wherever_they_are() {
        for bad in [
            "\u{200D}", "sa\u{200B}m", "sam\u{200E}", "\u{FEFF}sam", "s\u{2060}am", "sam\u{180E}", "s\u{034F}am",
            "sam\u{FE0F}", "\u{202E}mas", "sam\u{2066}", "sam\u{061C}", "\u{3164}", "sa\u{E0041}m", "s\u{E000}m",
            "a\u{0007}b", "a\u{0000}b", "\u{0378}",
        ] {
            assert!(matches!(normalize(bad, FOLD), Err(NameError::Invisible(_))), "{bad:?}: {:?}", normalize(bad, FOLD));
        }
    }

    #[test]
    fn names_are_nfc_with_folded_white_space() {
        assert_eq!(normalize("cafe\u{0301}", FOLD).unwrap(), "caf\u{E9}");
        assert_eq!(normalize("\u{A0} sam\u{3000}\u{3000}x\t", FOLD).unwrap(), "sam x");
        assert_eq!(normalize("sam\u{2028}x\ny", FOLD).unwrap(), "sam x y", "line breaks are white space too");
        assert_eq!(normalize(" \u{2003} ", FOLD), Err(NameError::Empty));
        assert_eq!(normalize("", FOLD), Err(NameError::Empty));
        assert_eq!(normalize(&"é".repeat(33), FOLD), Err(NameError::TooLong { max: 32 }));
        assert_eq!(normalize(&"e\u{0301}".repeat(32), FOLD).unwrap().chars().count(), 32);
    }

    #[test]
    fn emoji_keep_their_joiners_and_selectors() {
        assert_eq!(normalize("sam \u{2764}\u{FE0F}", FOLD).unwrap(), "sam \u{2764}\u{FE0F}");
        let family = "\u{2695}\u{200D}\u{2696}";
        assert_eq!(normalize(family, FOLD).unwrap(), family);
        assert!(normalize("\u{2764} \u{FE0F}", FOLD).is_err(), "a selector after a space selects nothing");
        assert!(normalize("\u{2764}\u{200D}", FOLD).is_err(), "a trailing joiner joins nothing");
    }
}
