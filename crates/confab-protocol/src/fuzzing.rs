//! The bodies of the fuzz targets `native_request` and `http_query` (`fuzz/`), here so that the
//! inputs the fuzzer found are replayed by a plain `cargo test` (`tests/fuzz_regressions.rs`).
//! Each panics when a property fails, not only on a crash.

use serde_json::Value;

use crate::query::{cookie, percent_decode, query_param};
use crate::request::{self, Envelope};

/// A text frame on `/ws`: parsed as a request, then as the fields of every request type.
pub fn native_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Envelope::parse(text) {
        Ok(env) => {
            assert!(env.id.is_string() || env.id.is_number());
            let _ = env.fields::<request::Hello>();
            let _ = env.fields::<request::Rooms>();
            let _ = env.fields::<request::RoomOnly>();
            let _ = env.fields::<request::Join>();
            let _ = env.fields::<request::Send>();
            let _ = env.fields::<request::Edit>();
            let _ = env.fields::<request::Delete>();
            let _ = env.fields::<request::History>();
            let _ = env.fields::<request::OpenDirect>();
        }
        // An error names the request it answers when the frame had an id at all.
        Err((id, _)) => {
            let had = serde_json::from_str::<Value>(text).ok().and_then(|v| v.get("id").cloned()).unwrap_or(Value::Null);
            assert_eq!(id, had);
        }
    }
}

/// A query string and a cookie header (split at the first NUL: the name looked up, then the text).
/// Decoding never fails, and any text escaped byte by byte decodes back to itself.
pub fn http_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (name, rest) = text.split_once('\0').unwrap_or(("token", text));
    let _ = query_param(rest, name);
    let _ = cookie(rest, name);
    let escaped: String = rest.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(percent_decode(&escaped), rest);
    if !rest.contains(['%', '+']) {
        assert_eq!(percent_decode(rest), rest);
    }
}
