//! What every client connection has, whichever protocol it speaks: an id, a bounded outbound queue
//! fed by the fan-out hub and by its own request handling, a kill switch the hub pulls when the queue
//! overflows, and the [`sequencer::Sequencer`] that turns queued items into frames in room order.
//! Nothing here knows a wire format: each transport hands down its [`Encoder`].

pub mod per_address;
pub mod queue;
pub mod ratelimit;
pub mod rooms;
pub mod sequencer;
pub mod vecmap;
pub mod writer;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use confab_core::model::{ActorId, ActorRef, RoomId, RoomSummary, Seq};
use confab_core::presence::ConnId;
use confab_core::Event;
use confab_ws::WsError;
use tokio::sync::Notify;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

pub fn next_conn_id() -> ConnId {
    NEXT_CONN.fetch_add(1, Ordering::Relaxed)
}

/// How a transport turns what the hub shares into its own frames. Each transport (the native
/// protocol, Socket.IO) supplies one, so that the hub and the sequencer never know a wire format.
pub trait Encoder: Send + Sync + 'static {
    /// Which of an [`Encoded`] item's slots caches this transport's frames (below [`SLOTS`]).
    fn slot(&self) -> usize;
    /// The frames of one committed room event (none, if this protocol does not show it).
    fn event(&self, event: &Event) -> Box<[Utf8Bytes]>;
    /// The frames of a lobby change.
    fn lobby(&self, change: &LobbyChange) -> Box<[Utf8Bytes]>;
    /// The frames of a room's new member list.
    fn members(&self, list: &MemberList) -> Box<[Utf8Bytes]>;
    /// The frames telling a member that a direct conversation was opened with them.
    fn direct_opened(&self, notice: &DirectOpened) -> Box<[Utf8Bytes]>;
    /// The frames telling someone that they were added to a room.
    fn added_to_room(&self, notice: &AddedToRoom) -> Box<[Utf8Bytes]>;
    /// For a transport whose live room events carry the connection's own positions (Socket.IO's
    /// recovery offsets): how to add them to a shared frame, per connection; `None`: frames are
    /// written as encoded. History shown on join carries none.
    fn offsets(&self) -> Option<WithOffset> {
        None
    }
}

/// Adds a connection's positions (the event's own room first) to a room event's frame.
pub type WithOffset = fn(&Utf8Bytes, &[(confab_core::model::RoomId, confab_core::model::Seq)]) -> Utf8Bytes;

/// How many encodings share encoded items (one slot each): native and Socket.IO (with recovery
/// offsets or without: they are added per connection, to the same frames).
pub const SLOTS: usize = 2;

/// Something the hub hands to many connections, encoded at most once per transport, by the first
/// connection of that transport that writes it, and shared by all of them.
pub struct Encoded<T> {
    pub item: T,
    frames: [OnceLock<Box<[Utf8Bytes]>>; SLOTS],
}

impl<T> Encoded<T> {
    pub fn new(item: T) -> Arc<Self> {
        Arc::new(Encoded { item, frames: Default::default() })
    }

    /// This transport's frames of the item, encoding them on first use.
    pub fn frames(&self, encoder: &dyn Encoder, encode: impl FnOnce(&T) -> Box<[Utf8Bytes]>) -> &[Utf8Bytes] {
        self.frames[encoder.slot()].get_or_init(|| encode(&self.item))
    }
}

/// A committed room event, as connections deliver it.
pub type Delivery = Encoded<Event>;

/// A change to the list of rooms, for every connection that shows the lobby.
#[derive(Debug, Clone, Default)]
pub struct LobbyChange {
    /// Rooms whose summary changed (created, or a new live member count).
    pub rooms: Vec<RoomSummary>,
    /// Every room's name, when rooms were created or a client asked for the whole list to be
    /// announced (the seed vocabulary's `update_rooms` sends the whole list).
    pub names: Option<Vec<String>>,
}

/// A room's live members, after joins or leaves (coalesced over a burst).
#[derive(Debug, Clone)]
pub struct MemberList {
    pub room: RoomId,
    pub members: Vec<ActorRef>,
}

/// A direct conversation was opened with the connection's actor (by someone else, or by itself on
/// another connection): its name and every member, the opener first.
#[derive(Debug, Clone)]
pub struct DirectOpened {
    pub room: String,
    pub members: Vec<ActorRef>,
}

/// The connection's actor became a member of a room (a moderator added them, or they accepted an
/// invite on another connection): the room's name and who did it. The room's events are for those
/// who join it; this notice is how a client that had not joined learns it is in.
#[derive(Debug, Clone)]
pub struct AddedToRoom {
    pub room: String,
    pub by: ActorRef,
}

/// One item in a connection's outbound queue. The queue is FIFO; the sequencer relies on it.
pub enum Outbound {
    /// A live room event from the hub.
    Event(Arc<Delivery>),
    /// A lobby change from the hub.
    Lobby(Arc<Encoded<LobbyChange>>),
    /// A room's member list from the hub.
    Members(Arc<Encoded<MemberList>>),
    /// A direct conversation was opened with this connection's actor.
    Direct(Arc<Encoded<DirectOpened>>),
    /// This connection's actor was added to a room.
    Added(Arc<Encoded<AddedToRoom>>),
    /// A frame for this connection only (an answer, an error).
    Frame(Utf8Bytes),
    /// Sent *before* the connection subscribes to a room: events that arrive from now on are held
    /// until the matching `Joined`.
    Subscribing(RoomId),
    /// The join is answered (boxed: it is rare, and it would make every queue slot larger).
    Joined(Box<JoinAnswer>),
    /// The connection left the room; its events are no longer delivered.
    Left(RoomId),
    /// A WebSocket pong is owed: the writer answers the latest ping, whose payload waits in
    /// [`ConnShared::ping`]'s slot. At most one is queued at a time, so a flood of pings never fills
    /// the queue (RFC 6455 §5.5.3 lets an endpoint answer only the most recent ping).
    Pong,
}

/// The answer to a join: send `ack`, then `replay`, then held and live events after `after`.
pub struct JoinAnswer {
    pub room: RoomId,
    pub ack: Option<Utf8Bytes>,
    pub replay: Vec<Arc<Delivery>>,
    pub after: Seq,
    /// `replay` is the room's history shown to a joiner (Socket.IO's `join_room`), not events the
    /// client missed: it is encoded with [`Encoder::plain`].
    pub history: bool,
}

/// Why the server closes a connection (docs/protocol.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CloseReason {
    None = 0,
    /// The connection ended normally (the client went away, or the session finished).
    Normal = 5,
    /// The client sent a message above `max_frame_bytes`.
    TooBig = 6,
    /// The client broke the WebSocket protocol (an unmasked frame, say).
    ProtocolError = 7,
    /// The client sent a text message that is not UTF-8.
    BadUtf8 = 8,
    SlowConsumer = 1,
    Resync = 2,
    RateLimited = 3,
    GoingAway = 4,
    /// The session or API token the connection was authenticated by was revoked (signed out,
    /// deleted, password changed, account disabled).
    SessionRevoked = 9,
    /// A native connection answered nothing (not even a pong) within the heartbeat timeout after
    /// the server's ping: half-open.
    HeartbeatTimeout = 10,
    /// The session the connection was authenticated by reached its idle timeout or its longest
    /// lifetime (`--session-idle-days`, `--session-max-days`).
    SessionExpired = 11,
}

impl CloseReason {
    pub fn code(self) -> u16 {
        match self {
            CloseReason::None | CloseReason::Normal => 1000,
            CloseReason::GoingAway => 1001,
            CloseReason::TooBig => 1009,
            CloseReason::ProtocolError => 1002,
            CloseReason::BadUtf8 => 1007,
            CloseReason::SlowConsumer => 4000,
            CloseReason::Resync => 4001,
            CloseReason::RateLimited => 4002,
            CloseReason::SessionRevoked | CloseReason::SessionExpired => 4003,
            CloseReason::HeartbeatTimeout => 4004,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::None | CloseReason::Normal => "",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::Resync => "resync",
            CloseReason::RateLimited => "rate_limited",
            CloseReason::GoingAway => "going_away",
            CloseReason::TooBig => "message_too_big",
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::BadUtf8 => "invalid_utf8",
            CloseReason::SessionRevoked => "session_revoked",
            CloseReason::SessionExpired => "session_expired",
            CloseReason::HeartbeatTimeout => "heartbeat_timeout",
        }
    }
    /// Whether the server ended the connection (rather than the client, or the network): the
    /// server then started the closing handshake, and waits for the client's close frame before
    /// dropping the socket (see `confab_ws::WsReader::drain_until_closed`).
    pub fn server_initiated(self) -> bool {
        !matches!(self, CloseReason::None | CloseReason::Normal)
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => CloseReason::SlowConsumer,
            2 => CloseReason::Resync,
            3 => CloseReason::RateLimited,
            4 => CloseReason::GoingAway,
            5 => CloseReason::Normal,
            6 => CloseReason::TooBig,
            7 => CloseReason::ProtocolError,
            8 => CloseReason::BadUtf8,
            9 => CloseReason::SessionRevoked,
            10 => CloseReason::HeartbeatTimeout,
            11 => CloseReason::SessionExpired,
            _ => CloseReason::None,
        }
    }
}

impl From<&WsError> for CloseReason {
    /// The reason to close with after reading failed.
    fn from(e: &WsError) -> Self {
        match e {
            WsError::TooBig(_) => CloseReason::TooBig,
            WsError::Protocol(_) => CloseReason::ProtocolError,
            WsError::BadUtf8 => CloseReason::BadUtf8,
            WsError::Io(_) => CloseReason::Normal,
        }
    }
}

/// The part of a connection other tasks may touch: its queue and its kill switch.
pub struct ConnShared {
    pub id: ConnId,
    /// The connection's transport, which turns shared items into its frames.
    pub encoder: &'static dyn Encoder,
    pub tx: queue::Sender<Outbound>,
    kill_reason: AtomicU8,
    killed: Notify,
    /// The payload of the latest ping not yet answered; `Some` exactly while an [`Outbound::Pong`]
    /// is queued.
    pong: parking_lot::Mutex<Option<bytes::Bytes>>,
    /// The actor the connection speaks for, once known: the writer takes the connection out of a
    /// room when it delivers a `kick` or `ban` naming it.
    actor: parking_lot::Mutex<Option<ActorId>>,
    /// Rooms a kick or ban took the connection out of, for its session to leave (see [`ConnShared::evicted`]).
    evicted: parking_lot::Mutex<Vec<RoomId>>,
    evictions: Notify,
    /// Set when the side that handles requests has finished (and queued its last answers): a writer
    /// of its own (Socket.IO) closing for a shutdown waits for it, so answers go out before the close.
    settled: std::sync::atomic::AtomicBool,
    settled_notify: Notify,
}

impl ConnShared {
    pub fn new(encoder: &'static dyn Encoder, capacity: usize) -> (Arc<Self>, queue::Receiver<Outbound>) {
        let (tx, rx) = queue::channel(capacity);
        let shared = ConnShared {
            id: next_conn_id(),
            encoder,
            tx,
            kill_reason: AtomicU8::new(0),
            killed: Notify::new(),
            pong: parking_lot::Mutex::new(None),
            actor: parking_lot::Mutex::new(None),
            evicted: parking_lot::Mutex::new(Vec::new()),
            evictions: Notify::new(),
            settled: std::sync::atomic::AtomicBool::new(false),
            settled_notify: Notify::new(),
        };
        (Arc::new(shared), rx)
    }

    /// Asks the connection to close with `reason`; the first reason wins.
    pub fn kill(&self, reason: CloseReason) {
        if self
            .kill_reason
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.killed.notify_waiters();
            self.killed.notify_one();
        }
    }

    pub fn kill_reason(&self) -> Option<CloseReason> {
        match CloseReason::from_u8(self.kill_reason.load(Ordering::Acquire)) {
            CloseReason::None => None,
            r => Some(r),
        }
    }

    /// Resolves once the connection was killed.
    pub async fn killed(&self) -> CloseReason {
        loop {
            let notified = self.killed.notified();
            if let Some(r) = self.kill_reason() {
                return r;
            }
            notified.await;
        }
    }

    /// The request side is done: nothing more will be queued but by the fan-out.
    pub fn settle(&self) {
        self.settled.store(true, Ordering::Release);
        self.settled_notify.notify_waiters();
    }

    /// Resolves once [`ConnShared::settle`] was called.
    pub async fn settled(&self) {
        loop {
            let notified = self.settled_notify.notified();
            if self.settled.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// The client sent a ping: a pong with this payload is owed. A pong already queued answers this
    /// ping instead of the earlier one, so pings take one queue slot however fast they come; a full
    /// queue (the client reads nothing) is a slow consumer, as for events.
    pub fn ping(&self, payload: bytes::Bytes) {
        let queued = self.pong.lock().replace(payload).is_some();
        if !queued && !self.offer(Outbound::Pong) {
            self.pong.lock().take();
        }
    }

    /// The payload to answer an [`Outbound::Pong`] with (the writer's side of [`ConnShared::ping`]).
    pub fn take_pong(&self) -> Option<bytes::Bytes> {
        self.pong.lock().take()
    }

    /// Records whom the connection speaks for (after `hello`, or the first Socket.IO name).
    pub fn set_actor(&self, actor: &ActorId) {
        *self.actor.lock() = Some(actor.clone());
    }

    pub fn actor(&self) -> Option<ActorId> {
        self.actor.lock().clone()
    }

    /// The writer delivered a kick or ban of this connection's actor in `room`: it delivers nothing
    /// more of the room, and the session leaves it.
    pub fn evict(&self, room: RoomId) {
        self.evicted.lock().push(room);
        self.evictions.notify_one();
    }

    /// Resolves once rooms were evicted, with them (for the session to leave).
    pub async fn evicted(&self) -> Vec<RoomId> {
        loop {
            let notified = self.evictions.notified();
            let rooms = std::mem::take(&mut *self.evicted.lock());
            if !rooms.is_empty() {
                return rooms;
            }
            notified.await;
        }
    }

    /// Queues a frame for this connection alone, waiting for room in the queue.
    pub async fn send_frame(&self, frame: Utf8Bytes) {
        let _ = self.tx.send(Outbound::Frame(frame)).await;
    }

    pub async fn send(&self, item: Outbound) {
        let _ = self.tx.send(item).await;
    }

    /// Queues an item from the fan-out without waiting: a full queue means the client is not reading
    /// fast enough, and it is disconnected (to resume later from the log) rather than losing the item.
    pub fn offer(&self, item: Outbound) -> bool {
        match self.tx.try_send(item) {
            Ok(len) => {
                crate::metrics::queued(len);
                true
            }
            Err(queue::TrySendError::Full(_)) => {
                self.kill(CloseReason::SlowConsumer);
                false
            }
            Err(queue::TrySendError::Closed(_)) => false,
        }
    }
}
