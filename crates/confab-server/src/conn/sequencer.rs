//! Turns a connection's queued items into the frames to write, in each room's sequence order,
//! exactly once.
//!
//! Joining is where order is easiest to lose: live events can arrive between the moment the
//! connection subscribes and the moment the join is answered (and its replay read from the log).
//! The sequencer holds a room's live events from `Subscribing` until `Joined`, then writes the
//! answer, the replay, and the held events after the join's top sequence, dropping what the replay
//! already covered. The hub hands each room's events over in sequence order, gaps filled from the store
//! (see `fanout::feed`); a live event past a gap here would mean a bug upstream, and the connection is
//! then closed with `resync` so the client resumes from the log, rather than skipping silently.

use axum::extract::ws::Utf8Bytes;
use confab_core::model::{ActorId, RoomId, Seq};

use super::vecmap::VecMap;
use super::{CloseReason, Delivery, Encoder, JoinAnswer, Outbound};

enum Cursor {
    /// Subscribed, join not answered yet: live events wait here.
    Joining(Vec<std::sync::Arc<Delivery>>),
    /// Delivering live; the last sequence written.
    Live(Seq),
}

pub struct Sequencer {
    encoder: &'static dyn Encoder,
    rooms: VecMap<RoomId, Cursor>,
    /// The connection's actor: a `kick` or `ban` naming it ends the room's delivery right after it.
    pub me: Option<ActorId>,
    /// Rooms that ended so since the last [`Sequencer::take_evicted`].
    evicted: Vec<RoomId>,
}

impl Sequencer {
    pub fn new(encoder: &'static dyn Encoder) -> Self {
        Sequencer { encoder, rooms: VecMap::default(), me: None, evicted: Vec::new() }
    }

    /// Rooms a kick or ban of this connection's actor ended, for the session to leave.
    pub fn take_evicted(&mut self) -> Vec<RoomId> {
        std::mem::take(&mut self.evicted)
    }

    /// After delivering `d`: if it kicks or bans this connection's actor, nothing more of its room
    /// is delivered (the ban rides the room's log, so this happens on every node).
    fn after(&mut self, d: &Delivery) {
        let room = d.item.room_id;
        if self.me.is_some() && d.item.body.evicts() == self.me.as_ref() && self.rooms.remove(&room).is_some() {
            self.evicted.push(room);
        }
    }

    /// This connection's position in every room it receives live, `room` (at `seq`) first: the
    /// Socket.IO recovery offset of an event written now (`socketio::encode::offset`).
    fn positions(&self, room: RoomId, seq: Seq) -> Vec<(RoomId, Seq)> {
        let mut out = vec![(room, seq)];
        out.extend(self.rooms.iter().filter_map(|(r, c)| match c {
            Cursor::Live(at) if *r != room => Some((*r, *at)),
            _ => None,
        }));
        out
    }

    /// Writes a room event's frames; with an encoder that wants offsets, each frame carries this
    /// connection's positions as of this event (the frames themselves are shared, the offset is not).
    fn write(&self, d: &Delivery, out: &mut Vec<Utf8Bytes>) {
        let Some(with_offset) = self.encoder.offsets() else { return encode(self.encoder, d, out) };
        let frames = d.frames(self.encoder, |e| self.encoder.event(e));
        if frames.is_empty() {
            return;
        }
        let positions = self.positions(d.item.room_id, d.item.seq);
        out.extend(frames.iter().map(|f| with_offset(f, &positions)));
    }

    /// Appends the frames for `item` to `out`.
    pub fn push(&mut self, item: Outbound, out: &mut Vec<Utf8Bytes>) -> Result<(), CloseReason> {
        match item {
            Outbound::Frame(f) => out.push(f),
            // WebSocket pongs are the writer's (see `writer::run`); other transports have none.
            Outbound::Pong => {}
            Outbound::Lobby(change) => {
                let encoder = self.encoder;
                out.extend(change.frames(encoder, |c| encoder.lobby(c)).iter().cloned());
            }
            Outbound::Direct(notice) => {
                let encoder = self.encoder;
                out.extend(notice.frames(encoder, |n| encoder.direct_opened(n)).iter().cloned());
            }
            Outbound::Added(notice) => {
                let encoder = self.encoder;
                out.extend(notice.frames(encoder, |n| encoder.added_to_room(n)).iter().cloned());
            }
            Outbound::Members(list) => {
                let encoder = self.encoder;
                if self.rooms.contains_key(&list.item.room) {
                    out.extend(list.frames(encoder, |l| encoder.members(l)).iter().cloned());
                }
            }
            Outbound::Event(d) => match self.rooms.get_mut(&d.item.room_id) {
                // Not (or no longer) in the room: a race with leave; nothing to deliver.
                None => {}
                Some(Cursor::Joining(held)) => held.push(d),
                Some(Cursor::Live(last)) => {
                    if advance(last, &d)? {
                        self.write(&d, out);
                    }
                    self.after(&d);
                }
            },
            Outbound::Subscribing(room) => {
                self.rooms.insert(room, Cursor::Joining(Vec::new()));
            }
            Outbound::Joined(answer) => {
                let JoinAnswer { room, ack, replay, after, history } = *answer;
                out.extend(ack);
                let held = match self.rooms.remove(&room) {
                    Some(Cursor::Joining(held)) => held,
                    _ => Vec::new(),
                };
                // History is shown as it is to every protocol's joiner: without recovery offsets.
                for d in &replay {
                    if history {
                        encode(self.encoder, d, out);
                    } else {
                        self.write(d, out);
                    }
                }
                self.rooms.insert(room, Cursor::Live(after));
                for d in held {
                    let Some(Cursor::Live(last)) = self.rooms.get_mut(&room) else { break };
                    if advance(last, &d)? {
                        self.write(&d, out);
                    }
                    self.after(&d);
                }
            }
            Outbound::Left(room) => {
                self.rooms.remove(&room);
            }
        }
        Ok(())
    }
}

/// Moves `last` to a live event's sequence; false when the event was already covered (nothing to
/// write), `resync` past a gap.
fn advance(last: &mut Seq, d: &Delivery) -> Result<bool, CloseReason> {
    let seq = d.item.seq;
    if seq <= *last {
        return Ok(false);
    }
    if seq != *last + 1 {
        tracing::warn!(room = %d.item.room, expected = *last + 1, got = seq, "gap in live events");
        return Err(CloseReason::Resync);
    }
    *last = seq;
    Ok(true)
}

fn encode(encoder: &dyn Encoder, d: &Delivery, out: &mut Vec<Utf8Bytes>) {
    out.extend(d.frames(encoder, |e| encoder.event(e)).iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Encoded;
    use crate::native::frames::NATIVE;
    use confab_core::event::{Event, EventBody};
    use confab_core::model::{ActorId, ActorRef};

    fn ev(seq: Seq) -> Outbound {
        let event = Event {
            room: "r".into(),
            room_id: 1,
            seq,
            at: 0,
            actor: ActorRef { id: ActorId::from("g_a".to_string()), name: "a".into() },
            body: EventBody::Join,
        };
        Outbound::Event(Encoded::new(event))
    }

    fn seqs(out: &[Utf8Bytes]) -> Vec<i64> {
        out.iter()
            .map(|f| serde_json::from_str::<serde_json::Value>(f.as_str()).unwrap())
            .map(|v| v["seq"].as_i64().unwrap_or(-1))
            .collect()
    }

    /// Events that arrive while a join is being answered come after the answer, without duplicates.
    #[test]
    fn join_holds_live_events_until_answered() {
        let mut s = Sequencer::new(&NATIVE);
        let mut out = Vec::new();
        s.push(ev(1), &mut out).unwrap();
        assert!(out.is_empty(), "not subscribed yet");
        s.push(Outbound::Subscribing(1), &mut out).unwrap();
        s.push(ev(5), &mut out).unwrap();
        s.push(ev(6), &mut out).unwrap();
        assert!(out.is_empty(), "held until the join is answered");
        let replay = match (ev(4), ev(5)) {
            (Outbound::Event(a), Outbound::Event(b)) => vec![a, b],
            _ => unreachable!(),
        };
        let ack = Utf8Bytes::from_static(r#"{"type":"ack","seq":-1}"#);
        s.push(Outbound::Joined(Box::new(JoinAnswer { room: 1, ack: Some(ack), replay, after: 5, history: false })), &mut out).unwrap();
        s.push(ev(6), &mut out).unwrap();
        s.push(ev(7), &mut out).unwrap();
        assert_eq!(seqs(&out), vec![-1, 4, 5, 6, 7]);
    }

    /// A recovering Socket.IO socket: history on join is written without offsets; live events and a
    /// recovery's replay carry this connection's position in every room it receives live, the
    /// event's own room first, so one offset places the client everywhere.
    #[test]
    fn offsets_carry_every_rooms_position() {
        use crate::socketio::encode::SOCKETIO_RECOVERY;
        let mut s = Sequencer::new(&SOCKETIO_RECOVERY);
        let mut out = Vec::new();
        let in_room = |room: RoomId, seq: Seq| {
            let Outbound::Event(d) = ev(seq) else { unreachable!() };
            let mut e = d.item.clone();
            e.room_id = room;
            Encoded::new(e)
        };
        s.push(Outbound::Subscribing(1), &mut out).unwrap();
        let answer = JoinAnswer { room: 1, ack: None, replay: vec![in_room(1, 3)], after: 4, history: true };
        s.push(Outbound::Joined(Box::new(answer)), &mut out).unwrap();
        s.push(Outbound::Event(in_room(1, 5)), &mut out).unwrap();
        s.push(Outbound::Subscribing(2), &mut out).unwrap();
        s.push(Outbound::Event(in_room(1, 6)), &mut out).unwrap();
        s.push(Outbound::Event(in_room(2, 8)), &mut out).unwrap();
        let answer = JoinAnswer { room: 2, ack: None, replay: vec![in_room(2, 7)], after: 7, history: false };
        s.push(Outbound::Joined(Box::new(answer)), &mut out).unwrap();
        s.push(Outbound::Event(in_room(1, 7)), &mut out).unwrap();
        let args: Vec<serde_json::Value> = out
            .iter()
            .map(|f| serde_json::from_str(f.as_str().strip_prefix("42").unwrap()).unwrap())
            .collect();
        assert_eq!(args[0].as_array().unwrap().len(), 2, "history has no offset: {}", args[0]);
        let offsets: Vec<Option<&str>> = args[1..].iter().map(|a| a[2].as_str()).collect();
        assert_eq!(
            offsets,
            vec![Some("1:5"), Some("1:6"), Some("2:7,1:6"), Some("2:8,1:6"), Some("1:7,2:8")],
            "a room still joining has no position yet; a replayed event has its own"
        );
        s.push(Outbound::Left(2), &mut out).unwrap();
        out.clear();
        s.push(Outbound::Event(in_room(1, 8)), &mut out).unwrap();
        assert!(out[0].as_str().ends_with(",\"1:8\"]"), "a room left is in no offset: {}", out[0]);
    }

    /// A ban naming the connection's actor is delivered, and nothing of that room after it.
    #[test]
    fn a_ban_of_me_ends_the_room_after_delivering_it() {
        use confab_core::model::ActorId;
        let mut s = Sequencer::new(&NATIVE);
        s.me = Some(ActorId::from("g_me".to_string()));
        let mut out = Vec::new();
        s.push(Outbound::Subscribing(1), &mut out).unwrap();
        let ack = Utf8Bytes::from_static("{}");
        s.push(Outbound::Joined(Box::new(JoinAnswer { room: 1, ack: Some(ack), replay: vec![], after: 0, history: false })), &mut out).unwrap();
        let ban = |seq, target: &str| {
            let target = ActorRef { id: ActorId::from(target.to_string()), name: "x".into() };
            let Outbound::Event(d) = ev(seq) else { unreachable!() };
            let mut e = d.item.clone();
            e.body = EventBody::Ban { target };
            Outbound::Event(Encoded::new(e))
        };
        s.push(ban(1, "g_other"), &mut out).unwrap();
        assert!(s.take_evicted().is_empty(), "someone else's ban");
        s.push(ban(2, "g_me"), &mut out).unwrap();
        s.push(ev(3), &mut out).unwrap();
        assert_eq!(seqs(&out), vec![-1, 1, 2], "the ban is delivered, the event after it is not");
        assert_eq!(s.take_evicted(), vec![1]);
    }

    #[test]
    fn a_gap_closes_with_resync() {
        let mut s = Sequencer::new(&NATIVE);
        let mut out = Vec::new();
        s.push(Outbound::Subscribing(1), &mut out).unwrap();
        let ack = Utf8Bytes::from_static("{}");
        s.push(Outbound::Joined(Box::new(JoinAnswer { room: 1, ack: Some(ack), replay: vec![], after: 3, history: false })), &mut out).unwrap();
        s.push(ev(4), &mut out).unwrap();
        assert_eq!(s.push(ev(6), &mut out), Err(CloseReason::Resync));
    }
}
