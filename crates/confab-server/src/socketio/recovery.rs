//! Socket.IO connection state recovery (socket.io's `connectionStateRecovery`), on this node or on
//! any other node of the cluster (docs/socketio.md, "Connection state recovery").
//!
//! The wire: with `--socketio-recovery-ms` on, the CONNECT answer carries a private session id,
//! `40{"sid", "pid"}`, and every room event an offset as its last argument, `"<room id>:<seq>"`
//! (`encode::SOCKETIO_RECOVERY`). A client that lost its connection sends `{pid, offset}` in its next
//! CONNECT's `auth`, offset being the last one it processed; when the server still has the socket's
//! record it answers with the same pid (socket.io-client then sets `socket.recovered`), rejoins the
//! socket's rooms, and replays each room's missed events from the room's log, then live ones.
//!
//! The record is put into the node's [`Stash`](confab_core::stash::Stash) when the socket's
//! connection is lost (not when the client closed it on purpose, as socket.io does), for the
//! recovery window: with Redis it is found by whichever node the client reconnects to, which
//! socket.io's own Redis adapter cannot do, because every room here has a gap-free log in the
//! database to replay from. The record holds the actor, the rooms and the connection's trail
//! (`conn::trail`), from which the one offset the client sends gives a position in every room.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use confab_core::model::{Actor, ActorId, ActorKind, RoomId, Seq};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::engine::Recovery;
use crate::conn::trail::Trail;

/// What a disconnected socket leaves behind for its client to come back to.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    /// The socket id the client knew; a recovered socket keeps it, as in socket.io.
    pub socket_id: String,
    pub actor: ActorRecord,
    /// The rooms the socket had joined: id (to check the name still means that room) and name.
    pub rooms: Vec<(RoomId, String)>,
    /// The account session or API token behind the actor, if any: checked still live on recovery.
    pub credential: Option<String>,
    pub trail: Trail,
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
    /// Each recorded room with the client's position in it, given the offset it sent; `None` when the
    /// offset cannot be placed (then the client starts afresh).
    pub fn positions(&self, offset: Option<(RoomId, Seq)>) -> Option<Vec<(RoomId, String, Seq)>> {
        let known = self.trail.positions(offset)?;
        self.rooms
            .iter()
            .map(|(id, name)| {
                let at = known.iter().find(|(r, _)| r == id)?.1;
                Some((*id, name.clone(), at))
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

/// Keeps the record for the recovery window. A failure (Redis unreachable) is logged: the client
/// will start afresh, as without recovery.
pub async fn save(recovery: &Recovery, pid: &str, record: &Record) {
    let bytes = match serde_json::to_vec(record) {
        Ok(b) => b,
        Err(e) => return tracing::error!(error = %e, "cannot encode a Socket.IO recovery record"),
    };
    if let Err(e) = recovery.stash.put(&key(pid), bytes, recovery.window).await {
        tracing::warn!(error = %e, "Socket.IO session not kept for recovery");
    }
}

/// Takes the record of `pid` (once: a second reconnect with the same pid starts afresh).
pub async fn take(recovery: &Recovery, pid: &str) -> Option<Record> {
    if pid.is_empty() || pid.len() > 64 {
        return None;
    }
    match recovery.stash.take(&key(pid)).await {
        Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable Socket.IO recovery record");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "Socket.IO recovery record not readable now; starting afresh");
            None
        }
    }
}
