//! Close status codes (RFC 6455 §7.4): the ones this crate sends for reading errors, and which codes
//! a peer may put in its close frame.

pub const NORMAL: u16 = 1000;
pub const GOING_AWAY: u16 = 1001;
pub const PROTOCOL_ERROR: u16 = 1002;
/// Text that is not UTF-8 (RFC 6455 calls it "inconsistent with the type of the message").
pub const INVALID_PAYLOAD: u16 = 1007;
pub const MESSAGE_TOO_BIG: u16 = 1009;

/// Whether a peer may send `code` in a close frame. 1004 is reserved; 1005, 1006 and 1015 stand for
/// "no code", "dropped" and "TLS failed" and must never be on the wire; 1016-2999 are reserved for
/// the RFC and its extensions (1012-1014 are registered with IANA and accepted); 3000-4999 belong to
/// libraries and applications; everything else is outside the range.
pub fn valid_from_peer(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::valid_from_peer;

    #[test]
    fn the_ranges_of_rfc_6455_section_7_4() {
        for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            assert!(valid_from_peer(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!valid_from_peer(code), "{code}");
        }
    }
}
