//! What a connection was handed, room by room, in the order its writer produced it: the record that
//! lets Socket.IO's connection state recovery (socketio/recovery.rs) turn the one offset a client
//! remembers into a position in *every* room it was in.
//!
//! A Socket.IO client keeps only the offset of the last event it processed (`"<room id>:<seq>"`,
//! shared by every recipient of the event, see `socketio::encode`). The connection delivers its
//! frames in one order, so the client has received exactly the prefix of that order ending at the
//! offset's event: in the offset's room up to its sequence, and in each other room up to the last
//! event written before it. The trail keeps that order as runs (consecutive events of one room are
//! one run), so a connection in one room keeps one run however much it receives. It holds at most
//! `--socketio-recovery-trail` runs; older ones fold into `base` (a room's position before the
//! oldest run), and an offset that points into a folded run can no longer be placed.

use std::collections::VecDeque;

use confab_core::model::{RoomId, Seq};
use serde::{Deserialize, Serialize};

/// Events `from..=to` of `room` were written one after the other (`from > to`: none were, the room's
/// position simply became `to`, as after a join answered with history only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub room: RoomId,
    pub from: Seq,
    pub to: Seq,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// Each room's position before the oldest run kept.
    base: Vec<(RoomId, Seq)>,
    runs: VecDeque<Run>,
    /// A run with events in it was folded into `base`: a client that never processed an offset may
    /// have missed those events, and cannot be placed.
    folded_events: bool,
    /// Runs kept at most.
    #[serde(skip)]
    cap: usize,
}

impl Trail {
    pub fn new(cap: usize) -> Self {
        Trail { cap: cap.max(1), ..Trail::default() }
    }

    /// The event `seq` of `room` was written.
    pub fn wrote(&mut self, room: RoomId, seq: Seq) {
        match self.runs.back_mut() {
            Some(run) if run.room == room && run.to + 1 == seq => run.to = seq,
            _ => self.push(Run { room, from: seq, to: seq }),
        }
    }

    /// The room's position became `seq` without frames (a join answered with the room's history).
    pub fn reached(&mut self, room: RoomId, seq: Seq) {
        match self.runs.back_mut() {
            Some(run) if run.room == room && run.to >= seq => {}
            Some(run) if run.room == room => run.to = seq,
            _ => self.push(Run { room, from: seq + 1, to: seq }),
        }
    }

    /// The connection left the room: what it was handed there no longer places anything.
    pub fn forget(&mut self, room: RoomId) {
        self.runs.retain(|r| r.room != room);
        self.base.retain(|(r, _)| *r != room);
    }

    fn push(&mut self, run: Run) {
        self.runs.push_back(run);
        while self.runs.len() > self.cap {
            let Some(old) = self.runs.pop_front() else { break };
            self.folded_events |= old.from <= old.to;
            match self.base.iter_mut().find(|(r, _)| *r == old.room) {
                Some(slot) => slot.1 = old.to,
                None => self.base.push((old.room, old.to)),
            }
        }
    }

    /// Where the client stands in each room the trail knows, given the offset of the last event it
    /// processed (`None`: it processed none). `None` when the offset cannot be placed (unknown, or
    /// folded away).
    pub fn positions(&self, offset: Option<(RoomId, Seq)>) -> Option<Vec<(RoomId, Seq)>> {
        // How many runs the client received in full, and the partial position in the offset's run.
        let (prefix, at) = match offset {
            None if self.folded_events => return None,
            None => (0, None),
            Some((room, seq)) => {
                let i = self.runs.iter().rposition(|r| r.room == room && r.from <= seq && seq <= r.to)?;
                (i, Some((room, seq)))
            }
        };
        let mut out: Vec<(RoomId, Seq)> = self.base.clone();
        let set = |out: &mut Vec<(RoomId, Seq)>, room: RoomId, seq: Seq| match out.iter_mut().find(|(r, _)| *r == room) {
            Some(slot) => slot.1 = seq,
            None => out.push((room, seq)),
        };
        for run in self.runs.iter().take(prefix) {
            set(&mut out, run.room, run.to);
        }
        if let Some((room, seq)) = at {
            set(&mut out, room, seq);
        }
        // Rooms first written after the prefix: the client stands just before their first run.
        for run in self.runs.iter().skip(prefix) {
            if !out.iter().any(|(r, _)| *r == run.room) {
                out.push((run.room, run.from - 1));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(t: &Trail, offset: Option<(RoomId, Seq)>) -> Option<Vec<(RoomId, Seq)>> {
        t.positions(offset).map(|mut v| {
            v.sort();
            v
        })
    }

    /// One room: consecutive events are one run, and the offset is the position.
    #[test]
    fn one_room_is_one_run() {
        let mut t = Trail::new(4);
        t.reached(1, 10);
        for s in 11..=500 {
            t.wrote(1, s);
        }
        assert_eq!(t.runs.len(), 1);
        assert_eq!(pos(&t, Some((1, 321))), Some(vec![(1, 321)]));
        assert_eq!(pos(&t, None), Some(vec![(1, 10)]), "nothing processed: the join's position");
    }

    /// Interleaved rooms: the other rooms stand at what was written before the offset's event.
    #[test]
    fn other_rooms_stand_where_the_offset_was_written() {
        let mut t = Trail::new(100);
        t.reached(1, 0);
        t.reached(2, 5);
        t.wrote(1, 1);
        t.wrote(2, 6);
        t.wrote(2, 7);
        t.wrote(1, 2);
        t.wrote(2, 8);
        assert_eq!(pos(&t, Some((2, 6))), Some(vec![(1, 1), (2, 6)]));
        assert_eq!(pos(&t, Some((1, 2))), Some(vec![(1, 2), (2, 7)]));
        assert_eq!(pos(&t, Some((2, 8))), Some(vec![(1, 2), (2, 8)]));
        assert_eq!(pos(&t, Some((3, 1))), None, "an offset of a room never written");
        assert_eq!(pos(&t, Some((1, 9))), None, "an offset past what was written");
    }

    /// Folding old runs keeps positions exact for offsets still in the trail, and refuses the rest.
    #[test]
    fn folded_runs_place_recent_offsets_only() {
        let mut t = Trail::new(2);
        t.wrote(1, 1);
        t.wrote(2, 1);
        t.wrote(1, 2);
        t.wrote(2, 2);
        assert_eq!(pos(&t, Some((1, 2))), Some(vec![(1, 2), (2, 1)]));
        assert_eq!(pos(&t, Some((1, 1))), None, "folded away");
        assert_eq!(pos(&t, None), None, "events were folded: a client with no offset cannot be placed");
    }

    /// A room left is forgotten: its runs place nothing.
    #[test]
    fn a_left_room_is_forgotten() {
        let mut t = Trail::new(10);
        t.wrote(1, 1);
        t.wrote(2, 1);
        t.forget(1);
        assert_eq!(pos(&t, Some((2, 1))), Some(vec![(2, 1)]));
        assert_eq!(pos(&t, Some((1, 1))), None);
    }
}
