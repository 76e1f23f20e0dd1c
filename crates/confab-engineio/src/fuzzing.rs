//! The bodies of the fuzz targets `engineio_packet` and `socketio_packet` (`fuzz/`), here so that
//! the inputs the fuzzer found are replayed by a plain `cargo test` (`tests/fuzz_regressions.rs`).
//! Each panics when a property fails, not only on a crash.

use serde_json::Value;

use crate::{engine, socket, EnginePacket, SocketPacket};

/// A long-polling POST body (packets separated by U+001E) or a WebSocket text frame: every
/// Engine.IO packet in it, and the Socket.IO packet inside each message packet.
pub fn engineio_packet(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else { return };
    for raw in body.split('\u{1e}') {
        if let Some(EnginePacket::Message(m)) = engine(raw) {
            socketio_packet(m.as_bytes());
        }
    }
}

/// One Socket.IO packet. An event that parses is encoded again the way a client would send it,
/// and must parse to the same event.
pub fn socketio_packet(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(SocketPacket::Event { namespace, ack, name, args }) = socket(raw) else { return };
    let mut array = vec![Value::String(name.clone())];
    array.extend(args.iter().cloned());
    let ns = if namespace == "/" { String::new() } else { format!("{namespace},") };
    let id = ack.map(|a| a.to_string()).unwrap_or_default();
    let again = format!("2{ns}{id}{}", Value::Array(array));
    assert_eq!(
        socket(&again),
        Ok(SocketPacket::Event { namespace, ack, name, args }),
        "{raw:?} re-encoded as {again:?} parses differently"
    );
}
