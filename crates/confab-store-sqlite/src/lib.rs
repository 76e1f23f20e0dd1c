//! Confab's embedded store: one SQLite file under the data directory.
//!
//! - [`writer`]: one thread owns the write connection and commits in groups: it takes every request
//!   waiting in its queue, applies them in one transaction (if one request fails, the batch runs
//!   again with a savepoint per request, so it does not fail its neighbours), commits once, then
//!   publishes the committed events and answers the callers. An acknowledgement therefore always follows the commit, and a commit
//!   carries as many messages as arrived during the previous one.
//! - [`read`]: a small pool of read connections (WAL lets them read while the writer writes), used
//!   from tokio's blocking threads.
//! - [`checkpoint`]: a thread that checkpoints the WAL, so commits never do.
//! - [`schema`]: numbered migrations, applied at open.
//! - [`accounts`]: users, sessions, API tokens, recovery codes, invites (own small transactions).
//! - [`direct`]: the store section "direct" (direct rooms, my rooms, webhooks).
//! - [`backup`]: a consistent copy of the live database (`confab admin backup`).

mod accounts;
pub mod backup;
mod checkpoint;
mod direct;
mod read;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use confab_core::accounts::{Credential, CredentialKind, Liveness, NewUser, Revoke, SessionLifetime, User, UserChange};
use confab_core::direct::{OpenedDirect, Webhook, WebhookSecret};
use confab_core::error::{ChatError, Result};
use confab_core::event::Event;
use confab_core::model::{Actor, ActorId, ActorRef, Member, Membership, NewInvite, Role, Room, RoomId, RoomKind, Seq, StoredMessage};
use confab_core::store::{Appended, BoxFuture, EventRange, EventSink, MessageKey, NewEvent, Store};
use tokio::sync::oneshot;

use checkpoint::Checkpoints;
use read::Readers;
use writer::{Cmd, Writer};

/// How the embedded store is run.
#[derive(Debug, Clone, Default)]
pub struct SqliteSettings {
    /// The largest the database file may grow to (`--database-max-bytes`), a quota that also makes a
    /// full disk testable: beyond it writes fail with `storage_full` while reads go on. `None`: only
    /// the disk limits it.
    pub max_bytes: Option<u64>,
}

pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
}

impl SqliteStore {
    /// Opens (creating if needed) `confab.db` in `dir`, applies migrations, and starts the writer
    /// thread, which hands committed events to `sink`.
    pub fn open(dir: &Path, sink: Arc<dyn EventSink>) -> Result<Self> {
        Self::open_with(dir, sink, SqliteSettings::default())
    }

    /// [`SqliteStore::open`] with settings.
    pub fn open_with(dir: &Path, sink: Arc<dyn EventSink>, settings: SqliteSettings) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ChatError::unavailable(format!("cannot create data dir {}: {e}", dir.display())))?;
        let path: PathBuf = dir.join("confab.db");
        let mut conn =
            schema::connect_limited(&path, schema::Use::Write, settings.max_bytes).map_err(ChatError::unavailable)?;
        schema::migrate(&mut conn).map_err(ChatError::unavailable)?;
        let checkpoints = Checkpoints::start(path.clone()).map_err(ChatError::unavailable)?;
        let writer = Writer::start(conn, sink, checkpoints).map_err(ChatError::unavailable)?;
        Ok(SqliteStore { writer, readers: Arc::new(Readers::new(path, settings.max_bytes)) })
    }

    /// Runs `work` on the writer thread, in a transaction with whatever else is queued.
    async fn exec<T: Send + 'static>(&self, work: impl Fn(&rusqlite::Connection) -> Result<T> + Send + 'static) -> Result<T> {
        let work: writer::Work = Box::new(move |c| work(c).map(|v| Box::new(v) as writer::Done));
        let done = self.call(|reply| Cmd::Exec { work, reply }).await?;
        done.downcast::<T>().map(|v| *v).map_err(|_| ChatError::internal("store writer: answer of another type"))
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Cmd) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.writer.submit(make(tx))?;
        rx.await.map_err(|_| ChatError::unavailable("store writer stopped"))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_guest(&self, name: &str, token_hash: &[u8]) -> Result<Actor> {
        let (id, name, token_hash) = (ActorId::new_guest().as_str().to_string(), name.to_string(), token_hash.to_vec());
        self.call(|reply| Cmd::CreateGuest { id, name, token_hash, reply }).await
    }

    async fn actor_by_token(&self, token_hash: &[u8]) -> Result<Option<Actor>> {
        let hash = token_hash.to_vec();
        self.readers.run(move |c| read::actor_by_token(c, &hash)).await
    }

    async fn touch_actor(&self, id: &ActorId, at_ms: i64) -> Result<()> {
        let id = id.clone();
        self.call(|reply| Cmd::Touch { id, at: at_ms, reply }).await
    }

    async fn expire_idle_guests(&self, before_ms: i64) -> Result<usize> {
        self.call(|reply| Cmd::ExpireGuests { before: before_ms, reply }).await
    }

    async fn rename_actor(&self, id: &ActorId, name: &str) -> Result<()> {
        let (id, name) = (id.clone(), name.to_string());
        self.call(|reply| Cmd::Rename { id, name, reply }).await
    }

    async fn create_user(&self, new: &NewUser) -> Result<User> {
        let new = new.clone();
        self.readers.run(move |c| accounts::create_user(c, &new)).await
    }

    async fn user_by_key(&self, username_key: &str) -> Result<Option<User>> {
        let key = username_key.to_string();
        self.readers.run(move |c| accounts::user_where(c, "u.username_key", &key)).await
    }

    async fn user(&self, id: &ActorId) -> Result<Option<User>> {
        let id = id.as_str().to_string();
        self.readers.run(move |c| accounts::user_where(c, "u.actor_id", &id)).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.readers.run(accounts::users).await
    }

    async fn update_user(&self, id: &ActorId, change: &UserChange) -> Result<bool> {
        let (id, change) = (id.clone(), change.clone());
        self.readers.run(move |c| accounts::update_user(c, &id, &change)).await
    }

    async fn claim_totp_step(&self, id: &ActorId, step: i64) -> Result<bool> {
        let id = id.clone();
        self.readers.run(move |c| accounts::claim_totp_step(c, &id, step)).await
    }

    async fn use_recovery_code(&self, id: &ActorId, code_hash: &[u8]) -> Result<bool> {
        let (id, hash) = (id.clone(), code_hash.to_vec());
        self.readers.run(move |c| accounts::use_recovery_code(c, &id, &hash)).await
    }

    async fn recovery_codes_left(&self, id: &ActorId) -> Result<usize> {
        let id = id.clone();
        self.readers.run(move |c| accounts::recovery_codes_left(c, &id)).await
    }

    async fn rekey_usernames(&self) -> Result<Vec<(String, String)>> {
        self.readers.run(accounts::rekey_usernames).await
    }

    async fn create_credential(&self, credential: &Credential, token_hash: &[u8]) -> Result<()> {
        let (cred, hash) = (credential.clone(), token_hash.to_vec());
        self.readers.run(move |c| accounts::create_credential(c, &cred, &hash)).await
    }

    async fn use_credential(&self, kind: CredentialKind, token_hash: &[u8], now: i64, lifetime: &SessionLifetime) -> Result<Option<(Credential, User)>> {
        let (hash, lifetime) = (token_hash.to_vec(), *lifetime);
        self.readers.run(move |c| accounts::use_credential(c, kind, &hash, now, &lifetime)).await
    }

    async fn credentials(&self, kind: CredentialKind, actor: &ActorId) -> Result<Vec<Credential>> {
        let actor = actor.clone();
        self.readers.run(move |c| accounts::credentials(c, kind, &actor)).await
    }

    async fn revoke_credentials(&self, kind: CredentialKind, actor: &ActorId, which: &Revoke) -> Result<Vec<String>> {
        let (actor, which) = (actor.clone(), which.clone());
        self.readers.run(move |c| accounts::revoke_credentials(c, kind, &actor, &which)).await
    }

    async fn live_credentials(&self, ids: &[String], now: i64, lifetime: &SessionLifetime) -> Result<Liveness> {
        let (ids, lifetime) = (ids.to_vec(), *lifetime);
        self.readers.run(move |c| accounts::live_credentials(c, &ids, now, &lifetime)).await
    }

    async fn expire_sessions(&self, now: i64, lifetime: &SessionLifetime) -> Result<Vec<String>> {
        let lifetime = *lifetime;
        self.readers.run(move |c| accounts::expire_sessions(c, now, &lifetime)).await
    }

    async fn create_invite(&self, code_hash: &[u8], created_by: Option<&ActorId>, expires_at: i64) -> Result<()> {
        let (hash, by) = (code_hash.to_vec(), created_by.cloned());
        self.readers.run(move |c| accounts::create_invite(c, &hash, by.as_ref(), expires_at)).await
    }

    async fn take_invite(&self, code_hash: &[u8], now: i64) -> Result<bool> {
        let hash = code_hash.to_vec();
        self.readers.run(move |c| accounts::take_invite(c, &hash, now)).await
    }

    async fn create_room(&self, name: &str, kind: RoomKind, owner: &ActorRef) -> Result<Room> {
        let (name, owner) = (name.to_string(), owner.clone());
        self.call(|reply| Cmd::CreateRoom { name, kind, owner, reply }).await
    }

    async fn room(&self, name: &str) -> Result<Option<Room>> {
        let key = name.to_lowercase();
        self.readers.run(move |c| read::room_by_key(c, &key)).await
    }

    async fn rooms(&self) -> Result<Vec<Room>> {
        self.readers.run(read::rooms).await
    }

    async fn role(&self, room: RoomId, actor: &ActorId) -> Result<Option<Role>> {
        let actor = actor.clone();
        self.readers.run(move |c| read::role(c, room, &actor)).await
    }

    async fn membership(&self, room: RoomId, actor: &ActorId) -> Result<Membership> {
        let actor = actor.clone();
        self.readers.run(move |c| read::membership(c, room, &actor)).await
    }

    async fn members_of(&self, room: RoomId) -> Result<Vec<Member>> {
        self.readers.run(move |c| read::members_of(c, room)).await
    }

    async fn bans(&self, room: RoomId) -> Result<Vec<ActorRef>> {
        self.readers.run(move |c| read::bans(c, room)).await
    }

    async fn memberships_of(&self, actor: &ActorId) -> Result<Vec<(RoomId, Role)>> {
        let actor = actor.clone();
        self.readers.run(move |c| read::memberships_of(c, &actor)).await
    }

    async fn actor(&self, id: &ActorId) -> Result<Option<Actor>> {
        let id = id.clone();
        self.readers.run(move |c| read::actor(c, &id)).await
    }

    async fn create_room_invite(&self, invite: &NewInvite) -> Result<()> {
        let invite = invite.clone();
        self.call(|reply| Cmd::CreateRoomInvite { invite, reply }).await
    }

    async fn use_room_invite(&self, code_hash: &[u8], now: i64) -> Result<Room> {
        let code_hash = code_hash.to_vec();
        self.call(|reply| Cmd::UseRoomInvite { code_hash, now, reply }).await
    }

    async fn message(&self, room: RoomId, key: &MessageKey) -> Result<Option<StoredMessage>> {
        let key = key.clone();
        self.readers.run(move |c| read::message(c, room, &key)).await
    }

    fn append(&self, room: &Room, actor: ActorRef, new: NewEvent) -> BoxFuture<Result<Appended>> {
        let (tx, rx) = oneshot::channel();
        let submitted = self.writer.submit(Cmd::Append {
            room_id: room.id,
            room_name: room.name.clone(),
            actor,
            new,
            reply: tx,
        });
        Box::pin(async move {
            submitted?;
            rx.await.map_err(|_| ChatError::unavailable("store writer stopped"))?
        })
    }

    async fn events(&self, room: RoomId, range: EventRange, limit: usize) -> Result<Vec<Event>> {
        self.readers.run(move |c| read::events(c, room, range, limit)).await
    }

    async fn recent_messages(&self, room: RoomId, limit: usize) -> Result<Vec<Event>> {
        self.readers.run(move |c| read::recent_messages(c, room, limit)).await
    }

    async fn top_seq(&self, room: RoomId) -> Result<Seq> {
        self.readers.run(move |c| read::top_seq(c, room)).await
    }

    async fn listed(&self) -> Result<Vec<(RoomId, ActorRef)>> {
        self.readers.run(read::listed).await
    }

    async fn actors(&self, ids: &[ActorId]) -> Result<Vec<Actor>> {
        let ids = ids.to_vec();
        self.readers.run(move |c| direct::actors(c, &ids)).await
    }

    async fn open_direct(&self, key: &str, name: &str, members: &[ActorRef]) -> Result<OpenedDirect> {
        let (key, name, members) = (key.to_string(), name.to_string(), members.to_vec());
        self.exec(move |c| direct::open_direct(c, &key, &name, &members)).await
    }

    async fn room_members(&self, room: RoomId) -> Result<Vec<(ActorRef, Role)>> {
        self.readers.run(move |c| direct::room_members(c, room)).await
    }

    async fn my_rooms(&self, actor: &ActorId) -> Result<Vec<(Room, Role)>> {
        let actor = actor.clone();
        self.readers.run(move |c| direct::my_rooms(c, &actor)).await
    }

    async fn create_webhook(&self, room: RoomId, name: &str, secret_hash: &[u8], created_by: &ActorId) -> Result<Webhook> {
        let (id, name, hash, by) = (ActorId::new_webhook(), name.to_string(), secret_hash.to_vec(), created_by.clone());
        self.exec(move |c| direct::create_webhook(c, &id, room, &name, &hash, &by)).await
    }

    async fn webhooks(&self, room: RoomId) -> Result<Vec<Webhook>> {
        self.readers.run(move |c| direct::webhooks(c, room)).await
    }

    async fn webhook(&self, id: &ActorId) -> Result<Option<WebhookSecret>> {
        let id = id.clone();
        self.readers.run(move |c| direct::webhook(c, &id)).await
    }

    async fn revoke_webhook(&self, room: RoomId, id: &ActorId) -> Result<bool> {
        let id = id.clone();
        self.exec(move |c| direct::revoke_webhook(c, room, &id)).await
    }
}

