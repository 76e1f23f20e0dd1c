//! Socket.IO connection state recovery (socket.io's `connectionStateRecovery`), on this node or on
//! any other node of the cluster, including after the node the socket was on was killed
//! (docs/socketio.md, "Connection state recovery").
//!
//! The wire: with `--socketio-recovery-ms` on, the CONNECT answer carries a private session id,
//! `40{"sid", "pid"}`, and every room event an offset as its last argument: the connection's
//! position in every room it receives, the event's room first, `"<room id>:<seq>,..."`
//! (`encode::offset`). A client that lost its connection sends `{pid, offset}` in its next
//! CONNECT's `auth`, offset being the last one it processed; when the server has the socket's record
//! it answers with the same pid (socket.io-client then sets `socket.recovered`), rejoins the
//! socket's rooms, and replays each room's missed events from the room's log (the database), then
//! live ones.
//!
//! The record lives in the node's [`Stash`](confab_core::stash::Stash) under the pid. A live socket
//! *holds* it: written at CONNECT and rewritten whenever its rooms change (join, leave, kick or ban,
//! recovery), its expiry renewed every `--socketio-recovery-refresh-ms` (engine::Recovery). When the
//! connection is lost the socket leaves it as a final record for the recovery window; when the
//! client closes, it removes it. So a node killed with `kill -9` leaves its sockets' records
//! behind, and the Redis stash tells a survivor that their holder is gone. The record holds the
//! actor, the credential, and each room with the position the client was given when it joined; the
//! offset gives the position in every room that has had an event since.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use confab_core::model::{Actor, ActorId, ActorKind, RoomId, Seq};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use confab_core::stash::Taken;

use super::engine::Recovery;

/// What a disconnected socket leaves behind for its client to come back to.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    /// The socket id the client knew; a recovered socket keeps it, as in socket.io.
    pub socket_id: String,
    pub actor: ActorRecord,
    /// The rooms the socket had joined: id (to check the name still means that room), name, and the
    /// position the client was given there when it joined (its history up to it) or was recovered.
    pub rooms: Vec<(RoomId, String, Seq)>,
    /// The account session or API token behind the actor, if any: checked still live on recovery.
    pub credential: Option<String>,
}

/// The socket's actor. The private session id stands for it, as a session token does.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActorRecord {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub admin: bool,
}

impl ActorRecord {
    pub fn of(actor: &Actor) -> Self {
        ActorRecord { id: actor.id.as_str().to_string(), name: actor.name.clone(), kind: actor.kind.as_str().into(), admin: actor.admin }
    }

    pub fn actor(&self) -> Option<Actor> {
        let kind = ActorKind::parse(&self.kind)?;
        Some(Actor { id: ActorId::from(self.id.clone()), name: self.name.clone(), kind, admin: self.admin })
    }
}

impl Record {
    /// Each recorded room with the client's position in it, given the offset of the last event it
    /// processed (`None`: it processed none since it connected): the offset's position where it names
    /// the room, else the recorded one. `None` when the offset cannot be this socket's: it names a
    /// room the record does not have (a join the record missed), or a position before the recorded
    /// one. Then the client starts afresh.
    pub fn positions(&self, offset: &[(RoomId, Seq)]) -> Option<Vec<(RoomId, String, Seq)>> {
        if offset.iter().any(|(room, _)| !self.rooms.iter().any(|(id, _, _)| id == room)) {
            return None;
        }
        self.rooms
            .iter()
            .map(|(id, name, at)| match offset.iter().find(|(r, _)| r == id) {
                Some((_, seen)) if seen < at => None,
                Some((_, seen)) => Some((*id, name.clone(), *seen)),
                None => Some((*id, name.clone(), *at)),
            })
            .collect()
    }
}

/// A new private session id: 128 random bits, as hard to guess as a session token.
pub fn new_pid() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key(pid: &str) -> String {
    format!("sio:{pid}")
}

fn encode(record: &Record) -> Option<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| tracing::error!(error = %e, "cannot encode a Socket.IO recovery record")).ok()
}

/// What [`hold`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Held {
    /// Written (or not, Redis being unreachable: logged, and the socket goes on).
    Kept,
    /// Another session holds this pid now (it was taken over while this node was cut off from
    /// Redis): this socket must close, so that one pid has one live socket.
    Lost,
}

/// Writes the record a live socket holds (`holder`: its Engine.IO sid), and has it renewed.
pub async fn hold(recovery: &Recovery, pid: &str, holder: &str, record: &Record) -> Held {
    let Some(bytes) = encode(record) else { return Held::Kept };
    let key = key(pid);
    match recovery.stash.hold(&key, holder, bytes, recovery.held_ttl()).await {
        Ok(true) => {
            recovery.held.lock().insert(key);
            Held::Kept
        }
        Ok(false) => {
            recovery.held.lock().remove(&key);
            Held::Lost
        }
        Err(e) => {
            tracing::warn!(error = %e, "Socket.IO recovery record not written now");
            Held::Kept
        }
    }
}

/// The socket ended: no more renewals; its record becomes final for the recovery window when
/// `record` is given (the connection was lost), and is removed otherwise (the client closed).
pub async fn finish(recovery: &Recovery, pid: &str, holder: &str, record: Option<&Record>) {
    let key = key(pid);
    recovery.held.lock().remove(&key);
    let done = match record.and_then(encode) {
        Some(bytes) => recovery.stash.put(&key, holder, bytes, recovery.window).await.map(|kept| {
            if !kept {
                tracing::debug!("Socket.IO session taken over elsewhere; no final record");
            }
        }),
        None => recovery.stash.release(&key, holder).await,
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, "Socket.IO session's recovery record not finished");
    }
}

/// What [`take`] found for a pid.
pub enum Found {
    Record(Record),
    /// A socket that still lives holds the pid: no second live socket for it.
    Live,
    Nothing,
}

/// Takes the record of `pid` (once: a second reconnect with the same pid starts afresh).
pub async fn take(recovery: &Recovery, pid: &str) -> Found {
    if pid.is_empty() || pid.len() > 64 {
        return Found::Nothing;
    }
    match recovery.stash.take(&key(pid)).await {
        Ok(Taken::Record(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(record) => Found::Record(record),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable Socket.IO recovery record");
                Found::Nothing
            }
        },
        Ok(Taken::Held) => Found::Live,
        Ok(Taken::Nothing) => Found::Nothing,
        Err(e) => {
            tracing::warn!(error = %e, "Socket.IO recovery record not readable now; starting afresh");
            Found::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            socket_id: "s1".into(),
            actor: ActorRecord { id: "g_a".into(), name: "a".into(), kind: "guest".into(), admin: false },
            rooms: vec![(1, "one".into(), 10), (2, "two".into(), 20)],
            credential: None,
        }
    }

    #[test]
    fn the_offset_places_the_rooms_it_names_and_the_record_the_others() {
        let r = record();
        let mut got = r.positions(&[(2, 25)]).unwrap();
        got.sort();
        assert_eq!(got, vec![(1, "one".into(), 10), (2, "two".into(), 25)]);
        let mut got = r.positions(&[]).unwrap();
        got.sort();
        assert_eq!(got, vec![(1, "one".into(), 10), (2, "two".into(), 20)], "no offset: where the joins put it");
        assert_eq!(r.positions(&[(3, 1)]), None, "a room the record does not have");
        assert_eq!(r.positions(&[(1, 9)]), None, "before what the join gave");
    }
}
