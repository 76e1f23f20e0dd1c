//! Parsing what a Socket.IO v4 client sends: Engine.IO v4 packets, and inside message packets the
//! Socket.IO v4 packets (CONNECT, DISCONNECT, EVENT). Binary packets are not part of Confab's
//! vocabulary. Pure functions from text to values: no I/O, no chat rules; every malformed packet is
//! a [`Malformed`] with its reason, never a panic (the fuzz targets `engineio_packet` and
//! `socketio_packet` hold it to that). What the server sends is encoded in confab-server's
//! `socketio/encode.rs`, beside the events it translates.

pub mod fuzzing;

use serde_json::Value;

/// An Engine.IO packet from the client.
#[derive(Debug, PartialEq)]
pub enum EnginePacket<'a> {
    Close,
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    Upgrade,
    Noop,
}

pub fn engine(raw: &str) -> Option<EnginePacket<'_>> {
    let mut chars = raw.chars();
    let kind = chars.next()?;
    let rest = chars.as_str();
    Some(match kind {
        '1' => EnginePacket::Close,
        '2' => EnginePacket::Ping(rest),
        '3' => EnginePacket::Pong(rest),
        '4' => EnginePacket::Message(rest),
        '5' => EnginePacket::Upgrade,
        '6' => EnginePacket::Noop,
        _ => return None,
    })
}

/// A Socket.IO packet from the client.
#[derive(Debug, PartialEq)]
pub enum SocketPacket {
    Connect { namespace: String, auth: Option<Value> },
    Disconnect,
    Event { namespace: String, ack: Option<u64>, name: String, args: Vec<Value> },
    /// An event with binary attachments, which the vocabulary has no use for: answered with an error
    /// (through its acknowledgement when it asked for one); its attachments are ignored.
    BinaryEvent { ack: Option<u64> },
}

#[derive(Debug, PartialEq)]
pub struct Malformed(pub &'static str);

pub fn socket(raw: &str) -> Result<SocketPacket, Malformed> {
    let mut chars = raw.chars();
    let kind = chars.next().ok_or(Malformed("empty packet"))?;
    let mut rest = chars.as_str();
    let mut namespace = "/".to_string();
    if rest.starts_with('/') {
        let (ns, tail) = rest.split_once(',').unwrap_or((rest, ""));
        namespace = ns.to_string();
        rest = tail;
    }
    let ack_id = |rest: &str| -> Result<(Option<u64>, usize), Malformed> {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Ok((None, 0));
        }
        let id = rest[..digits].parse().map_err(|_| Malformed("acknowledgement id too large"))?;
        Ok((Some(id), digits))
    };
    match kind {
        '0' => {
            let auth = if rest.is_empty() {
                None
            } else {
                Some(serde_json::from_str(rest).map_err(|_| Malformed("CONNECT payload is not JSON"))?)
            };
            Ok(SocketPacket::Connect { namespace, auth })
        }
        '1' => Ok(SocketPacket::Disconnect),
        '2' => {
            let (ack, digits) = ack_id(rest)?;
            let array: Vec<Value> =
                serde_json::from_str(&rest[digits..]).map_err(|_| Malformed("EVENT payload is not a JSON array"))?;
            let mut args = array.into_iter();
            let name = match args.next() {
                Some(Value::String(s)) => s,
                _ => return Err(Malformed("EVENT needs a name")),
            };
            Ok(SocketPacket::Event { namespace, ack, name, args: args.collect() })
        }
        '5' => {
            // `5<attachments>-[/namespace,][ack id][...]`
            let (_, tail) = raw[1..].split_once('-').ok_or(Malformed("binary packet without attachment count"))?;
            let tail = match tail.strip_prefix('/') {
                Some(t) => t.split_once(',').map_or("", |(_, t)| t),
                None => tail,
            };
            Ok(SocketPacket::BinaryEvent { ack: ack_id(tail)?.0 })
        }
        '6' => Err(Malformed("binary acknowledgements are not supported")),
        _ => Err(Malformed("unknown packet type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_events_with_and_without_ack() {
        assert_eq!(
            socket(r#"2["send_message",{"room":"a"}]"#).unwrap(),
            SocketPacket::Event { namespace: "/".into(), ack: None, name: "send_message".into(), args: vec![json!({"room":"a"})] }
        );
        assert_eq!(
            socket(r#"213["check_room","x"]"#).unwrap(),
            SocketPacket::Event { namespace: "/".into(), ack: Some(13), name: "check_room".into(), args: vec![json!("x")] }
        );
        assert_eq!(
            socket(r#"0{"token":"t"}"#).unwrap(),
            SocketPacket::Connect { namespace: "/".into(), auth: Some(json!({"token":"t"})) }
        );
        assert_eq!(socket("0/admin,").unwrap(), SocketPacket::Connect { namespace: "/admin".into(), auth: None });
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        assert_eq!(socket(r#"51-12["send_message",{"_placeholder":true,"num":0}]"#).unwrap(), SocketPacket::BinaryEvent { ack: Some(12) });
        assert_eq!(socket(r#"51-["x"]"#).unwrap(), SocketPacket::BinaryEvent { ack: None });
        for raw in ["", "2", "2[", "2[1]", "2{}", "299999999999999999999999[\"a\"]", "9", "5[\"a\"]", "0{bad"] {
            assert!(socket(raw).is_err(), "{raw:?}");
        }
        assert_eq!(engine(""), None);
        assert_eq!(engine("7"), None);
        assert_eq!(engine("2probe"), Some(EnginePacket::Ping("probe")));
    }
}
