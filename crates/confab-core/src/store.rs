//! The storage contract: what every store backend (SQLite in `confab-store-sqlite`, PostgreSQL in
//! `confab-store-postgres`) promises, in words a new backend can be written against. The suite in
//! `confab-store-conformance` checks each promise; every backend runs it.
//!
//! The store is the source of truth. It keeps actors, rooms, memberships, messages and one event log
//! per room, and it hands what it committed to an [`EventSink`], where fan-out starts.
//!
//! # Ordering
//! - **Per room, sequence numbers are 1, 2, 3… with no gap and no repeat**, even when several store
//!   instances (several Confab nodes) share one database. A room's sequence number is assigned in the
//!   transaction that stores the event; a transaction that rolls back consumes none.
//! - **One instance sequences its appends in the order [`Store::append`] is called**, not the order
//!   its futures are awaited: `append` queues the work before it returns. Presence relies on it (a
//!   join appended under the presence lock can never overtake the leave appended before it).
//!   Across instances, appends to one room interleave in commit order.
//!
//! # Publication
//! - After a transaction commits, and **before any append in it resolves**, the instance calls
//!   [`EventSink::committed`] once with that transaction's new events, in sequence order per room.
//!   Successive calls follow commit order, so one instance's sink sees each room's events in
//!   increasing sequence order. It sees only the events *this instance* committed: events of other
//!   nodes reach this node through the fan-out bus, not through the store.
//! - Nothing that did not commit is published; a duplicate (see below) publishes nothing.
//!
//! # Acknowledgement and failure
//! - An append resolves `Ok` only once its transaction has committed durably.
//! - `unavailable` ([`ErrorCode::Unavailable`](crate::ErrorCode)) means the database could not do the
//!   request and **nothing was stored** (the store's queue was full, the database was unreachable, the
//!   transaction failed or timed out). One case is ambiguous by nature: a connection lost *while the
//!   `COMMIT` was in flight*. The store still answers `unavailable` and publishes nothing, but the
//!   events may have been stored; a client that resends with the same `client_id` then gets the stored
//!   message back as a duplicate, and live subscribers see a gap (and resume from the log).
//! - A request that fails on its own merits (`message_not_found`, `room_exists`) fails alone: the
//!   other requests committed with it are unaffected and no sequence number is consumed.
//! - A value read from the database that the code does not know (a room kind, an actor kind, a role,
//!   an event body) is an error (`internal`), never a default.
//!
//! # Idempotency
//! A message with a `client_id` that **the same author** already used **in the same room** stores
//! nothing new: the append resolves with the stored message's id and sequence number and
//! `duplicate: true`. Other authors, or other rooms, may reuse the same client id freely.
//!
//! # Lookups
//! Room names are unique regardless of case, and looked up case-insensitively; a room keeps the
//! spelling it was created with. [`Store::message`] looks up exactly the key it is given; what a
//! client's key means (the Socket.IO fallback from a client id to Confab's id) is a chat rule, in
//! [`Chat`](crate::Chat).

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::accounts::{Credential, CredentialKind, Liveness, NewUser, Revoke, SessionLifetime, User, UserChange};
use crate::direct::{OpenedDirect, Webhook, WebhookSecret};
use crate::error::Result;
use crate::event::{Event, LeaveReason};
use crate::model::{
    Actor, ActorId, ActorRef, Content, Member, MessageId, Membership, NewInvite, Role, Room, RoomId, RoomKind, RoomSummary, Seq,
    StoredMessage,
};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A change to append to a room's log.
#[derive(Debug, Clone)]
pub enum NewEvent {
    /// A new message. A `client_id` the same author already used in this room stores nothing new.
    Message { content: Content, client_id: Option<String> },
    /// Replaces a live message's content; `message_not_found` if it is not in this room or deleted.
    Edit { message_id: MessageId, content: Content },
    /// Empties a live message's content and marks it deleted; `message_not_found` as for an edit.
    Delete { message_id: MessageId },
    /// Also records the actor's membership (as `Member`) if it has none yet.
    Join,
    Leave { reason: LeaveReason },
    /// Sets `target`'s role (a membership with that role if it had none).
    Role { target: ActorRef, role: Role },
    /// Removes `target`'s membership.
    Kick { target: ActorRef },
    /// Removes `target`'s membership and records the ban.
    Ban { target: ActorRef },
    /// Lifts `target`'s ban (no membership: it joins again, or needs a new invite).
    Unban { target: ActorRef },
    /// Records `target`'s membership (as `Member`) if it has none yet.
    Added { target: ActorRef },
}

/// The result of an append, once committed.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: Seq,
    /// For messages: the message id; for edits and deletes: the message they changed.
    pub message_id: Option<MessageId>,
    /// True when a message with this `client_id` was already stored: nothing new was written, and
    /// `seq` and `message_id` are the stored message's.
    pub duplicate: bool,
}

/// How a request names a message. The store matches it exactly; it does not guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKey {
    /// Confab's id, within the given room.
    Id(MessageId),
    /// The id a client chose when sending. Several authors may have used it: a live message is
    /// preferred over a deleted one, then the `prefer` author's over others, then the newest.
    Client { client_id: String, prefer: ActorId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRange {
    /// Events with `seq > s`, oldest first (the oldest `limit` of them).
    After(Seq),
    /// Events with `seq < s`, returned oldest first (the newest `limit` of them).
    Before(Seq),
}

/// Receives committed events (see the module doc: after the commit, in commit order, before the
/// appends resolve, only this instance's). The events are handed over, not lent, so fan-out needs no
/// copy of them. Implementations must not block: the store's writer waits for them.
pub trait EventSink: Send + Sync + 'static {
    fn committed(&self, events: Vec<Event>);
    /// A room was created or its live member count changed (for lobby lists).
    fn room_changed(&self, _room: &RoomSummary) {}
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a guest actor whose session token hashes to `token_hash` (unique).
    async fn create_guest(&self, name: &str, token_hash: &[u8]) -> Result<Actor>;
    /// The actor whose session token hashes to `token_hash`, if any.
    async fn actor_by_token(&self, token_hash: &[u8]) -> Result<Option<Actor>>;
    /// Records that the actor used its session at `at_ms` (Unix ms), for [`Store::expire_idle_guests`].
    /// Callers touch an actor at most about once an hour; the store just writes it.
    async fn touch_actor(&self, id: &ActorId, at_ms: i64) -> Result<()>;
    /// Ends the sessions of guests last seen (or, never touched, created) before `before_ms`: their
    /// token no longer finds them (`actor_by_token` answers `None`), and they stay otherwise as they
    /// were (id, name: their messages keep their author). Other kinds of actor never expire. Returns
    /// how many sessions it ended; an expired guest is not counted again.
    async fn expire_idle_guests(&self, before_ms: i64) -> Result<usize>;
    /// Changes an actor's display name (events already stored keep the name they were stored with).
    async fn rename_actor(&self, id: &ActorId, name: &str) -> Result<()>;

    // --- accounts ---------------------------------------------------------------------------
    // Account rows live beside their actor (kind `user`). Secrets (sessions, API tokens, recovery
    // codes, registration invites) are handed in and looked up as SHA-256 hashes only.

    /// Creates an account and its actor (kind `user`, a new `u_` id); `username_taken` if another
    /// account has the same `username_key`.
    async fn create_user(&self, new: &NewUser) -> Result<User>;
    /// The account with this username key, disabled or not.
    async fn user_by_key(&self, username_key: &str) -> Result<Option<User>>;
    /// The account of this actor id, disabled or not.
    async fn user(&self, id: &ActorId) -> Result<Option<User>>;
    /// Every account, ordered by username key.
    async fn users(&self) -> Result<Vec<User>>;
    /// Recomputes every stored username key with today's rule ([`crate::accounts::username::key`]),
    /// as [`crate::accounts::username::rekey`] decides (oldest account first; one whose new key
    /// another account holds keeps its old key). Every store runs it once when it opens a database
    /// written before the rule changed; it is idempotent. Returns the `(account id, new key)` pairs
    /// it changed, in order.
    async fn rekey_usernames(&self) -> Result<Vec<(String, String)>>;
    /// Applies one change; `false` if there is no such account.
    async fn update_user(&self, id: &ActorId, change: &UserChange) -> Result<bool>;
    /// Records that a TOTP code of `step` was accepted: `true` only if `step` is above every step
    /// accepted before for this account (a code is never accepted twice), atomically.
    async fn claim_totp_step(&self, id: &ActorId, step: i64) -> Result<bool>;
    /// Uses up one recovery code: `true` only the first time an unused code's hash is given.
    async fn use_recovery_code(&self, id: &ActorId, code_hash: &[u8]) -> Result<bool>;
    /// Unused recovery codes the account has left.
    async fn recovery_codes_left(&self, id: &ActorId) -> Result<usize>;

    /// Stores a new session or API token (`id` from [`crate::accounts::new_credential_id`]).
    async fn create_credential(&self, credential: &Credential, token_hash: &[u8]) -> Result<()>;
    /// The credential with this hash and its account, and records `now` (Unix ms) as its last use
    /// when the recorded one is at least `lifetime.touch_ms` old. `None` if there is none, or if it
    /// is a session past its lifetime at `now` (idle or too old: [`SessionLifetime::expired`]; it is
    /// then not touched, so it cannot come back). An account that is disabled is still returned (the
    /// caller refuses it). API tokens never expire.
    async fn use_credential(&self, kind: CredentialKind, token_hash: &[u8], now: i64, lifetime: &SessionLifetime) -> Result<Option<(Credential, User)>>;
    /// An account's credentials of one kind, oldest first (expired sessions not yet swept included).
    async fn credentials(&self, kind: CredentialKind, actor: &ActorId) -> Result<Vec<Credential>>;
    /// Deletes an account's credentials of one kind; returns the ids deleted (none if `One` names
    /// another account's).
    async fn revoke_credentials(&self, kind: CredentialKind, actor: &ActorId, which: &Revoke) -> Result<Vec<String>>;
    /// The periodic recheck of open connections: of these credential ids, those that still exist,
    /// are not past their lifetime at `now` and whose account is not disabled (`live`), and those
    /// that exist but are sessions past their lifetime (`expired`; a disabled account's are in
    /// neither). The live sessions are in use (open connections), so `now` is recorded as their
    /// last use as in [`Store::use_credential`] (at most every `lifetime.touch_ms`).
    async fn live_credentials(&self, ids: &[String], now: i64, lifetime: &SessionLifetime) -> Result<Liveness>;
    /// Deletes every session past its lifetime at `now` ([`SessionLifetime::cutoffs`]); returns
    /// their ids. API tokens are never deleted by it.
    async fn expire_sessions(&self, now: i64, lifetime: &SessionLifetime) -> Result<Vec<String>>;

    /// Stores a registration invite (its code's hash), usable once until `expires_at` (ms);
    /// `created_by` is the administrator (none when an operator made it with `confab admin`).
    async fn create_invite(&self, code_hash: &[u8], created_by: Option<&ActorId>, expires_at: i64) -> Result<()>;
    /// Uses up an invite: `true` only once, and only before it expires.
    async fn take_invite(&self, code_hash: &[u8], now: i64) -> Result<bool>;

    /// Creates a room owned by `owner` (its membership with role `Owner`), top sequence 0;
    /// `room_exists` if the name is taken in any letter case.
    async fn create_room(&self, name: &str, kind: RoomKind, owner: &ActorRef) -> Result<Room>;
    /// Looks a room up by name, case-insensitively.
    async fn room(&self, name: &str) -> Result<Option<Room>>;
    /// Every room, ordered by lower-cased name.
    async fn rooms(&self) -> Result<Vec<Room>>;
    /// The actor's role in the room: `None` if it never joined it.
    async fn role(&self, room: RoomId, actor: &ActorId) -> Result<Option<Role>>;

    // ---- rooms: memberships, bans, invites. Membership changes that members see (roles, kicks,
    // bans, additions) are events ([`NewEvent::Role`] and the others), applied in the transaction
    // that logs them; these methods read them, and keep the invites.

    /// The actor's membership of the room: its role (`None` if not a member) and whether it is banned.
    async fn membership(&self, room: RoomId, actor: &ActorId) -> Result<Membership>;
    /// The room's stored members with their roles, in the order they became members.
    async fn members_of(&self, room: RoomId) -> Result<Vec<Member>>;
    /// The room's banned actors (with the name they had when banned), oldest ban first.
    async fn bans(&self, room: RoomId) -> Result<Vec<ActorRef>>;
    /// The ids of the rooms the actor is a member of, with its role there.
    async fn memberships_of(&self, actor: &ActorId) -> Result<Vec<(RoomId, Role)>>;
    /// An actor by id; `None` if there is none.
    async fn actor(&self, id: &ActorId) -> Result<Option<Actor>>;
    /// Stores an invite (its code's hash is unique).
    async fn create_room_invite(&self, invite: &NewInvite) -> Result<()>;
    /// Takes one use of the invite whose code hashes to `code_hash`, atomically (two people accepting
    /// the last use at once: one gets it): the invite's room. `invite_invalid` if there is no such
    /// invite, it expired by `now` (ms), or its uses are used up.
    async fn use_room_invite(&self, code_hash: &[u8], now: i64) -> Result<Room>;

    /// The message `key` names in `room`, deleted or not; `None` if the key matches nothing there.
    async fn message(&self, room: RoomId, key: &MessageKey) -> Result<Option<StoredMessage>>;

    /// Appends to the room's log and resolves once committed and published. Appends are sequenced
    /// in the order this function is *called* (the work is queued before it returns), so a caller
    /// that holds a lock while calling it, and awaits after releasing it, gets the order of its lock.
    fn append(&self, room: &Room, actor: ActorRef, new: NewEvent) -> BoxFuture<Result<Appended>>;

    /// Events of one room in a range, at most `limit`, message events showing the message's current
    /// state (latest content and edit time; deleted: empty content and `deleted`). Edit and delete
    /// events keep their own place and content in the log.
    async fn events(&self, room: RoomId, range: EventRange, limit: usize) -> Result<Vec<Event>>;
    /// The newest `limit` messages not deleted, oldest first, with edits applied.
    async fn recent_messages(&self, room: RoomId, limit: usize) -> Result<Vec<Event>>;
    /// The room's current top sequence number (0 before its first event).
    async fn top_seq(&self, room: RoomId) -> Result<Seq>;
    /// The people each room's log still lists: those whose last join or leave there is a join, in
    /// log order. After a crash these are the members whose leave was never logged.
    async fn listed(&self) -> Result<Vec<(RoomId, ActorRef)>>;

    // ---- direct: direct conversations, "my rooms", incoming webhooks

    /// The actors with these ids (any kind), in no particular order; ids that match none are left out.
    async fn actors(&self, ids: &[ActorId]) -> Result<Vec<Actor>>;
    /// The direct room of exactly these people (`key` is [`member_key`](crate::direct::member_key) of
    /// `members`), creating it under `name` with every one of them a member (role `Member`) if it does
    /// not exist. **One room per key**, even when several instances open it at once: the loser of a
    /// race gets the winner's room with `created: false`, and nothing of its own attempt is left.
    async fn open_direct(&self, key: &str, name: &str, members: &[ActorRef]) -> Result<OpenedDirect>;
    /// A room's members (every stored membership), with their current display names, in the order
    /// they became members.
    async fn room_members(&self, room: RoomId) -> Result<Vec<(ActorRef, Role)>>;
    /// Every room the actor has a membership in, with its role there, ordered by lower-cased name.
    async fn my_rooms(&self, actor: &ActorId) -> Result<Vec<(Room, Role)>>;
    /// Creates a webhook of `room`: an actor of kind `webhook` named `name`, and its secret's hash.
    async fn create_webhook(&self, room: RoomId, name: &str, secret_hash: &[u8], created_by: &ActorId) -> Result<Webhook>;
    /// The room's webhooks that are not revoked, oldest first.
    async fn webhooks(&self, room: RoomId) -> Result<Vec<Webhook>>;
    /// The webhook with this id and its secret's hash, unless it is revoked.
    async fn webhook(&self, id: &ActorId) -> Result<Option<WebhookSecret>>;
    /// Revokes the room's webhook `id`; false when the room has no such live webhook. Its messages stay.
    async fn revoke_webhook(&self, room: RoomId, id: &ActorId) -> Result<bool>;
}

/// The query behind [`Store::listed`], in SQL that SQLite and PostgreSQL both read.
pub const LISTED_SQL: &str = "SELECT e.room_id, e.actor_id, e.actor_name FROM events e \
    JOIN (SELECT room_id, actor_id, MAX(seq) AS seq FROM events WHERE kind IN ('join', 'leave') \
          GROUP BY room_id, actor_id) last ON e.room_id = last.room_id AND e.seq = last.seq \
    WHERE e.kind = 'join' ORDER BY e.room_id, e.seq";
