//! Socket.IO frames in the original app's vocabulary (../docs/socketio.md).
//! Every frame is an Engine.IO message (`4`) carrying a Socket.IO packet for the default namespace.

use axum::extract::ws::Utf8Bytes;
use confab_core::event::EventBody;
use confab_core::Event;
use confab_core::ChatError;
use serde::Serialize;
use serde_json::{json, Value};

use crate::conn::{AddedToRoom, DirectOpened, Encoder, LobbyChange, MemberList};

/// Socket.IO frames, in the seed's vocabulary, for what the hub shares with every connection.
pub struct SocketIoEncoder {
    /// Room events carry their recovery offset as a last argument (sockets of a server with
    /// connection state recovery on, `--socketio-recovery-ms`).
    offsets: bool,
}

pub static SOCKETIO: SocketIoEncoder = SocketIoEncoder { offsets: false };

/// The encoder of sockets with connection state recovery: the same frames, in the same slot (shared
/// with every Socket.IO socket), each live room event with this connection's offset added by its
/// sequencer.
pub static SOCKETIO_RECOVERY: SocketIoEncoder = SocketIoEncoder { offsets: true };

/// Offsets name at most this many rooms; a longer one is refused (`parse_offset`). Above any
/// `--max-rooms-per-connection` worth having, it only bounds the parsing of what a client sends.
pub const MAX_OFFSET_ROOMS: usize = 4096;

/// A room event's recovery offset as one connection gets it: its position in every room it receives
/// live, as of this event, the event's own room first: `"<room id>:<seq>,<room id>:<seq>,..."`
/// (in one room, `"<room id>:<seq>"`). A node that never saw the connection can read it: with the
/// session's record (its rooms), it places the client in each room, whichever node wrote it.
pub fn offset(positions: &[(confab_core::model::RoomId, confab_core::model::Seq)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(positions.len() * 12);
    for (i, (room, seq)) in positions.iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(out, "{sep}{room}:{seq}"); // writing to a String cannot fail
    }
    out
}

/// The positions an offset names (each room once); `None` for anything else a client sends.
pub fn parse_offset(offset: &str) -> Option<Vec<(confab_core::model::RoomId, confab_core::model::Seq)>> {
    let mut out: Vec<(confab_core::model::RoomId, confab_core::model::Seq)> = Vec::new();
    for pair in offset.split(',') {
        let (room, seq) = pair.split_once(':')?;
        let (room, seq) = (room.parse().ok()?, seq.parse().ok()?);
        if seq < 0 || out.len() >= MAX_OFFSET_ROOMS || out.iter().any(|(r, _)| *r == room) {
            return None;
        }
        out.push((room, seq));
    }
    Some(out)
}

/// `42[name, data]` + this connection's offset: `42[name, data, "offset"]`.
fn with_offset(frame: &Utf8Bytes, positions: &[(confab_core::model::RoomId, confab_core::model::Seq)]) -> Utf8Bytes {
    match frame.as_str().strip_suffix(']') {
        // The offset is digits, colons and commas: nothing to escape.
        Some(open) => Utf8Bytes::from(format!("{open},\"{}\"]", offset(positions))),
        None => frame.clone(),
    }
}

impl Encoder for SocketIoEncoder {
    /// One slot for both: a recovering socket's frames are every Socket.IO socket's, its sequencer
    /// adding its own offsets to room events as it writes them (`offsets`).
    fn slot(&self) -> usize {
        1
    }

    fn event(&self, e: &Event) -> Box<[Utf8Bytes]> {
        event_frames(e)
    }

    fn offsets(&self) -> Option<crate::conn::WithOffset> {
        self.offsets.then_some(with_offset as crate::conn::WithOffset)
    }

    /// The seed knows no member counts: only the whole list of names, when rooms were created.
    fn lobby(&self, change: &LobbyChange) -> Box<[Utf8Bytes]> {
        match &change.names {
            Some(names) => Box::new([update_rooms(names)]),
            None => Box::new([]),
        }
    }

    fn members(&self, list: &MemberList) -> Box<[Utf8Bytes]> {
        let names: Vec<&str> = list.members.iter().map(|m| m.name.as_str()).collect();
        Box::new([event("update_users", &names)])
    }

    /// An extension event (the seed has no direct messages): `direct_opened {room, members}`.
    fn direct_opened(&self, notice: &DirectOpened) -> Box<[Utf8Bytes]> {
        Box::new([event("direct_opened", &json!({"room": notice.room, "members": notice.members}))])
    }

    /// An extension event: `added_to_room {room, by}` (then `join_room` it like any room).
    fn added_to_room(&self, notice: &AddedToRoom) -> Box<[Utf8Bytes]> {
        Box::new([event("added_to_room", &json!({"room": notice.room, "by": notice.by}))])
    }
}

/// `42["name", data]`: an event for the default namespace.
pub fn event<T: Serialize + ?Sized>(name: &str, data: &T) -> Utf8Bytes {
    let payload = serde_json::to_string(&(name, data)).unwrap_or_else(|_| format!("[{name:?}]"));
    Utf8Bytes::from(format!("42{payload}"))
}

/// `42["name"]`: an event without data.
pub fn bare_event(name: &str) -> Utf8Bytes {
    Utf8Bytes::from(format!("42[{}]", Value::from(name)))
}

/// `43<id>[data]`: the answer to an event the client sent with an acknowledgement callback.
pub fn ack(id: u64, data: &Value) -> Utf8Bytes {
    Utf8Bytes::from(format!("43{id}[{data}]"))
}

pub fn ok(fields: Value) -> Value {
    let mut map = match fields {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    map.insert("ok".into(), Value::Bool(true));
    Value::Object(map)
}

pub fn failure(err: &ChatError) -> Value {
    crate::metrics::error(err.code);
    json!({"ok": false, "error": {"code": err.code.as_str(), "message": err.message}})
}

/// The `error` event a client gets for a failed event it sent without an acknowledgement callback.
pub fn error_event(err: &ChatError) -> Utf8Bytes {
    crate::metrics::error(err.code);
    event("error", &json!({"code": err.code.as_str(), "message": err.message}))
}

pub fn update_rooms(names: &[String]) -> Utf8Bytes {
    event("update_rooms", names)
}

/// The `message_id` a Socket.IO client knows a message by: its own id if it gave one, else Confab's.
pub fn message_id(id: i64, client_id: &Option<String>) -> String {
    client_id.clone().unwrap_or_else(|| id.to_string())
}

/// The frames of a room event (encoded once, and shared by every Socket.IO member of the room).
fn event_frames(e: &Event) -> Box<[Utf8Bytes]> {
    let notice = |text: String| {
        event(
            "room_message",
            &json!({"user": "System", "message": text, "message_id": format!("system-{}", e.seq), "room": e.room, "seq": e.seq}),
        )
    };
    match &e.body {
        EventBody::Message { message } if message.deleted => Box::new([]),
        EventBody::Message { message } => Box::new([event(
            "room_message",
            &json!({
                "user": e.actor.name,
                "message": message.content.text,
                "message_id": message_id(message.id, &message.client_id),
                "room": e.room,
                "seq": e.seq,
                "user_id": e.actor.id,
            }),
        )]),
        EventBody::Edit { message_id: id, client_id, content, .. } => Box::new([event(
            "message_edited",
            &json!({"message_id": message_id(*id, client_id), "new_message": content.text, "room": e.room, "seq": e.seq}),
        )]),
        EventBody::Delete { message_id: id, client_id } => Box::new([event(
            "message_deleted",
            &json!({"message_id": message_id(*id, client_id), "room": e.room, "seq": e.seq}),
        )]),
        // The member list (`update_users`) follows from the hub, coalesced over a burst of joins.
        EventBody::Join => Box::new([notice(format!("{} has joined the room.", e.actor.name))]),
        EventBody::Leave { .. } => Box::new([notice(format!("{} has left the room.", e.actor.name))]),
        // Moderation, shown to members as the seed shows joins (the member list follows from the hub).
        EventBody::Role { target, role } => {
            Box::new([notice(format!("{} made {} {} of the room.", e.actor.name, target.name, article(role.as_str())))])
        }
        EventBody::Kick { target } => Box::new([notice(format!("{} removed {} from the room.", e.actor.name, target.name))]),
        EventBody::Ban { target } => Box::new([notice(format!("{} banned {} from the room.", e.actor.name, target.name))]),
        EventBody::Unban { target } => Box::new([notice(format!("{} lifted the ban on {}.", e.actor.name, target.name))]),
        EventBody::Added { target } if target.id == e.actor.id => {
            Box::new([notice(format!("{} joined the room with an invite.", target.name))])
        }
        EventBody::Added { target } => Box::new([notice(format!("{} added {} to the room.", e.actor.name, target.name))]),
    }
}

fn article(role: &str) -> String {
    match role {
        "owner" => "the owner".into(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_names_every_room_once() {
        let positions = vec![(7, 12), (3, 0), (9, 41)];
        let text = offset(&positions);
        assert_eq!(text, "7:12,3:0,9:41");
        assert_eq!(parse_offset(&text), Some(positions));
        assert_eq!(parse_offset("7:12"), Some(vec![(7, 12)]));
        for bad in ["", "7", "7:", ":1", "7:-1", "7:1,7:2", "7:1,", "x:1", "7:1;8:2", "7:1 "] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_OFFSET_ROOMS).map(|r| format!("{r}:1")).collect();
        assert_eq!(parse_offset(&many.join(",")), None, "too many rooms");
        let frame = with_offset(&event("room_message", &json!({"a": 1})), &[(1, 2), (3, 4)]);
        assert_eq!(frame.as_str(), r#"42["room_message",{"a":1},"1:2,3:4"]"#);
    }
}
