//! The storage contract. SQLite implements it today (`confab-store-sqlite`); PostgreSQL implements the
//! same trait later, with the same tests. The store is the source of truth: it assigns each event its
//! room sequence number in the transaction that stores it, and hands committed events to the
//! [`EventSink`] in commit order, after the commit. Fan-out (in-process now, Redis later) starts there.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::error::Result;
use crate::event::{Event, LeaveReason};
use crate::model::{Actor, ActorId, ActorRef, Content, MessageId, Role, Room, RoomId, RoomKind, RoomSummary, Seq, StoredMessage};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A change to append to a room's log.
#[derive(Debug, Clone)]
pub enum NewEvent {
    /// A new message. A `client_id` the same author already used in this room stores nothing new.
    Message { content: Content, client_id: Option<String> },
    Edit { message_id: MessageId, content: Content },
    Delete { message_id: MessageId },
    /// Also records the actor's membership (as `Member`) if it has none yet.
    Join,
    Leave { reason: LeaveReason },
}

/// The result of an append, once committed.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: Seq,
    /// For messages: the message id; for edits and deletes: the message they changed.
    pub message_id: Option<MessageId>,
    /// True when a message with this `client_id` was already stored: nothing new was written.
    pub duplicate: bool,
}

/// How a client names a message: Confab's id, or the id a Socket.IO client chose when sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKey {
    Id(MessageId),
    /// A client-chosen id; when several authors used it, the `prefer` author's message wins. A client
    /// id that matches nothing but is a number names Confab's id (a message sent without a client id).
    Client { client_id: String, prefer: ActorId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRange {
    /// Events with `seq > s`, oldest first.
    After(Seq),
    /// Events with `seq < s`, returned oldest first (the newest `limit` of them).
    Before(Seq),
}

/// Receives committed events, in commit order, once per commit batch. The events are handed over
/// (not lent), so fan-out needs no copy of them.
pub trait EventSink: Send + Sync + 'static {
    fn committed(&self, events: Vec<Event>);
    /// A room was created or its live member count changed (for lobby lists).
    fn room_changed(&self, _room: &RoomSummary) {}
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a guest actor whose session token hashes to `token_hash`.
    async fn create_guest(&self, name: &str, token_hash: &[u8]) -> Result<Actor>;
    async fn actor_by_token(&self, token_hash: &[u8]) -> Result<Option<Actor>>;
    /// Changes an actor's display name (events already stored keep the name they were stored with).
    async fn rename_actor(&self, id: &ActorId, name: &str) -> Result<()>;

    /// Creates a room owned by `owner`; `room_exists` if the name (case-insensitively) is taken.
    async fn create_room(&self, name: &str, kind: RoomKind, owner: &ActorRef) -> Result<Room>;
    /// Looks a room up by name, case-insensitively.
    async fn room(&self, name: &str) -> Result<Option<Room>>;
    async fn rooms(&self) -> Result<Vec<Room>>;
    async fn role(&self, room: RoomId, actor: &ActorId) -> Result<Option<Role>>;

    async fn message(&self, room: RoomId, key: &MessageKey) -> Result<Option<StoredMessage>>;

    /// Appends to the room's log and resolves once committed. Appends are sequenced in the order this
    /// function is *called* (the work is queued before it returns), so a caller that holds a lock while
    /// calling it, and awaits after releasing it, gets the order of its lock.
    fn append(&self, room: &Room, actor: ActorRef, new: NewEvent) -> BoxFuture<Result<Appended>>;

    /// Events of one room in a range, message events showing the message's current state.
    async fn events(&self, room: RoomId, range: EventRange, limit: usize) -> Result<Vec<Event>>;
    /// The newest `limit` messages not deleted, oldest first, with edits applied.
    async fn recent_messages(&self, room: RoomId, limit: usize) -> Result<Vec<Event>>;
    /// The room's current top sequence number.
    async fn top_seq(&self, room: RoomId) -> Result<Seq>;
}
