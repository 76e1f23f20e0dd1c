//! Encoding of the native protocol's server frames (docs/protocol.md).

use axum::extract::ws::Utf8Bytes;
use confab_core::model::{Actor, RoomSummary};
use confab_core::{ChatError, Event, Limits};
use serde::Serialize;
use serde_json::{json, Value};

use crate::conn::{AddedToRoom, DirectOpened, Encoder, LobbyChange, MemberList};

/// The native protocol's frames for what the hub shares with every connection.
pub struct NativeEncoder;

pub static NATIVE: NativeEncoder = NativeEncoder;

impl Encoder for NativeEncoder {
    fn slot(&self) -> usize {
        0
    }

    fn event(&self, e: &Event) -> Box<[Utf8Bytes]> {
        Box::new([event(e)])
    }

    fn lobby(&self, change: &LobbyChange) -> Box<[Utf8Bytes]> {
        change.rooms.iter().map(room_update).collect()
    }

    /// Native clients follow members through join and leave events (and the join's member list).
    fn members(&self, _list: &MemberList) -> Box<[Utf8Bytes]> {
        Box::new([])
    }

    fn direct_opened(&self, notice: &DirectOpened) -> Box<[Utf8Bytes]> {
        Box::new([to_frame(&json!({"type": "direct_opened", "room": notice.room, "members": notice.members}))])
    }

    fn added_to_room(&self, notice: &AddedToRoom) -> Box<[Utf8Bytes]> {
        Box::new([to_frame(&json!({"type": "added_to_room", "room": notice.room, "by": notice.by}))])
    }
}

/// Serialises one of our own frames. These are maps with string keys, which cannot fail to encode.
pub fn to_frame<T: Serialize>(value: &T) -> Utf8Bytes {
    match serde_json::to_string(value) {
        Ok(s) => Utf8Bytes::from(s),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a frame");
            Utf8Bytes::from_static(r#"{"type":"error","id":null,"code":"internal","message":"internal error"}"#)
        }
    }
}

pub fn event(event: &Event) -> Utf8Bytes {
    #[derive(Serialize)]
    struct Frame<'a> {
        r#type: &'static str,
        #[serde(flatten)]
        event: &'a Event,
    }
    to_frame(&Frame { r#type: "event", event })
}

/// An acknowledgement: `fields` (an object) with `type` and `id` added.
pub fn ack(id: &Value, fields: Value) -> Utf8Bytes {
    let mut frame = match fields {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    frame.insert("type".into(), Value::from("ack"));
    frame.insert("id".into(), id.clone());
    to_frame(&frame)
}

pub fn error(id: &Value, err: &ChatError) -> Utf8Bytes {
    crate::metrics::error(err.code);
    to_frame(&json!({"type": "error", "id": id, "code": err.code.as_str(), "message": err.message}))
}

pub fn welcome(user: Option<&Actor>, limits: &Limits) -> Utf8Bytes {
    to_frame(&json!({
        "type": "welcome",
        "protocol": 1,
        "user": user,
        "limits": {
            "max_text_bytes": limits.max_text_bytes,
            "max_frame_bytes": limits.max_frame_bytes,
            "max_rooms_per_connection": limits.max_rooms_per_connection,
            "requests_per_second": limits.requests_per_second,
            "request_burst": limits.request_burst,
            "history_page_max": limits.history_page_max,
            "max_replay": limits.max_replay,
            "direct_max_members": limits.direct_max_members,
        }
    }))
}

pub fn room_update(room: &RoomSummary) -> Utf8Bytes {
    to_frame(&json!({"type": "room_update", "room": room}))
}
