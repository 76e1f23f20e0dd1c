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

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_core::model::{ActorId, RoomId, Seq};
use parking_lot::Mutex;

use super::trail::Trail;
use super::vecmap::VecMap;
use super::{CloseReason, Delivery, Encoder, JoinAnswer, Outbound};

enum Cursor {
    /// Subscribed, join not answered yet: live events wait here.
    Joining(Vec<Arc<Delivery>>),
    /// Delivering live; the last sequence written.
    Live(Seq),
}

pub struct Sequencer {
    encoder: &'static dyn Encoder,
    rooms: VecMap<RoomId, Cursor>,
    /// For Socket.IO sockets with connection state recovery: what was written, room by room, in
    /// order (`None` for every other connection, which pays nothing for it).
    trail: Option<Arc<Mutex<Trail>>>,
    /// The connection's actor: a `kick` or `ban` naming it ends the room's delivery right after it.
    pub me: Option<ActorId>,
    /// Rooms that ended so since the last [`Sequencer::take_evicted`].
    evicted: Vec<RoomId>,
}

impl Sequencer {
    pub fn new(encoder: &'static dyn Encoder) -> Self {
        Sequencer { encoder, rooms: VecMap::default(), trail: None, me: None, evicted: Vec::new() }
    }

    /// A sequencer that also records what it writes in `trail`.
    pub fn with_trail(encoder: &'static dyn Encoder, trail: Option<Arc<Mutex<Trail>>>) -> Self {
        Sequencer { encoder, rooms: VecMap::default(), trail, me: None, evicted: Vec::new() }
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
                    let written = deliver(self.encoder, last, &d, out)?;
                    if let (true, Some(trail)) = (written, &self.trail) {
                        trail.lock().wrote(d.item.room_id, d.item.seq);
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
                let trail_of = self.trail.clone();
                let mut trail = trail_of.as_ref().map(|t| t.lock());
                // History is shown as it is to every protocol's joiner: without recovery offsets.
                let replay_encoder = if history { self.encoder.plain().unwrap_or(self.encoder) } else { self.encoder };
                for d in &replay {
                    encode(replay_encoder, d, out);
                    if let (Some(t), false) = (trail.as_mut(), history) {
                        t.wrote(room, d.item.seq);
                    }
                }
                if let Some(t) = trail.as_mut() {
                    t.reached(room, after);
                }
                let mut last = after;
                self.rooms.insert(room, Cursor::Live(last));
                for d in held {
                    let written = deliver(self.encoder, &mut last, &d, out)?;
                    if let (true, Some(t)) = (written, trail.as_mut()) {
                        t.wrote(room, d.item.seq);
                    }
                    if let Some(Cursor::Live(l)) = self.rooms.get_mut(&room) {
                        *l = last;
                    }
                    self.after(&d);
                    if !self.rooms.contains_key(&room) {
                        break;
                    }
                }
            }
            Outbound::Left(room) => {
                self.rooms.remove(&room);
                if let Some(trail) = &self.trail {
                    trail.lock().forget(room);
                }
            }
        }
        Ok(())
    }
}

/// Writes a live event after `last`; false when the event was already covered (nothing written).
fn deliver(encoder: &dyn Encoder, last: &mut Seq, d: &Delivery, out: &mut Vec<Utf8Bytes>) -> Result<bool, CloseReason> {
    let seq = d.item.seq;
    if seq <= *last {
        return Ok(false);
    }
    if seq != *last + 1 {
        tracing::warn!(room = %d.item.room, expected = *last + 1, got = seq, "gap in live events");
        return Err(CloseReason::Resync);
    }
    *last = seq;
    encode(encoder, d, out);
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

    /// A recovering Socket.IO socket: history on join is written without offsets and only marks the
    /// join's position in the trail; live events carry their offset and are recorded, so the offset
    /// the client last processed places it exactly.
    #[test]
    fn a_trail_records_live_events_and_the_join_position() {
        use crate::conn::trail::Trail;
        use crate::socketio::encode::SOCKETIO_RECOVERY;
        let trail = Arc::new(Mutex::new(Trail::new(16)));
        let mut s = Sequencer::with_trail(&SOCKETIO_RECOVERY, Some(Arc::clone(&trail)));
        let mut out = Vec::new();
        s.push(Outbound::Subscribing(1), &mut out).unwrap();
        let Outbound::Event(history) = ev(3) else { unreachable!() };
        let answer = JoinAnswer { room: 1, ack: None, replay: vec![history], after: 4, history: true };
        s.push(Outbound::Joined(Box::new(answer)), &mut out).unwrap();
        s.push(ev(5), &mut out).unwrap();
        s.push(ev(6), &mut out).unwrap();
        let args: Vec<serde_json::Value> = out
            .iter()
            .map(|f| serde_json::from_str(f.as_str().strip_prefix("42").unwrap()).unwrap())
            .collect();
        assert_eq!(args[0].as_array().unwrap().len(), 2, "history has no offset: {}", args[0]);
        assert_eq!((args[1][2].as_str(), args[2][2].as_str()), (Some("1:5"), Some("1:6")));
        let t = trail.lock();
        assert_eq!(t.positions(Some((1, 5))), Some(vec![(1, 5)]));
        assert_eq!(t.positions(None), Some(vec![(1, 4)]), "nothing processed: where the join put it");
        assert_eq!(t.positions(Some((1, 3))), None, "a history event is no offset");
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
