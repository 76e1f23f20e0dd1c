//! Confab's shared store: PostgreSQL, for several Confab nodes on one database.
//!
//! Same contract as the embedded SQLite store (`confab_core::store`, checked by
//! `confab-store-conformance`), with what sharing a database adds:
//! - [`writer`]: one task per store commits appends in groups, with each room's sequence number
//!   taken under that room's row lock, so nodes appending to one room stay gap-free; [`txn`]: the
//!   statements of one append.
//! - [`read`]: reads and the writes that publish nothing, on the pool.
//! - [`accounts`]: users, sessions, API tokens, recovery codes, invites (one statement each).
//! - [`direct`]: the store section "direct" (direct rooms, my rooms, webhooks).
//! - [`schema`]: numbered migrations (`migrations/`), applied at open under an advisory lock.
//! - [`settings`]: the URL, schema, pool, queue, batch and timeout.
//!
//! When PostgreSQL is unreachable every request fails with `unavailable` within the timeout (none
//! is acknowledged that is not stored), the writer's queue stays bounded, and the pool reconnects
//! by itself when the database is back.

mod accounts;
mod direct;
mod read;
mod schema;
mod settings;
mod txn;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use confab_core::accounts::{Credential, CredentialKind, Liveness, NewUser, Revoke, SessionLifetime, User, UserChange};
use confab_core::direct::{OpenedDirect, Webhook, WebhookSecret};
use confab_core::error::{ChatError, Result};
use confab_core::event::Event;
use confab_core::model::{Actor, ActorId, ActorRef, Member, Membership, NewInvite, Role, Room, RoomId, RoomKind, Seq, StoredMessage};
use confab_core::store::{Appended, BoxFuture, EventRange, EventSink, MessageKey, NewEvent, Store};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

pub use settings::PgSettings;
use writer::{Request, Writer};

/// Why the store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid PostgreSQL settings: {0}")]
    Settings(String),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("cannot apply the PostgreSQL migrations: {0}")]
    Migrate(String),
}

pub struct PostgresStore {
    writer: Writer,
    db: Db,
}

impl PostgresStore {
    /// Connects, applies the migrations, and starts the writer task (on the current tokio runtime),
    /// which hands committed events to `sink`.
    pub async fn open(settings: &PgSettings, sink: Arc<dyn EventSink>) -> Result<Self, OpenError> {
        let manager = Manager::from_config(
            settings.pg_config()?,
            NoTls,
            // A connection whose socket closed is replaced when next taken from the pool; one that
            // died without closing is found out by its first statement and discarded then.
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(settings.timeout))
            .create_timeout(Some(settings.timeout))
            .recycle_timeout(Some(settings.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| OpenError::Settings(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| OpenError::Connect(with_causes(&e)))?;
        if let Err(e) = schema::migrate(&mut client, settings.schema.as_deref()).await {
            // The session (and any advisory lock it holds) ends with the connection.
            drop(Object::take(client));
            return Err(e);
        }
        drop(client);
        let writer = Writer::start(pool.clone(), sink, settings);
        Ok(PostgresStore { writer, db: Db { pool, timeout: settings.timeout } })
    }
}

/// The pool, with every statement bounded by the store's timeout. A connection that timed out or
/// lost its server is discarded rather than handed to the next caller.
pub(crate) struct Db {
    pool: Pool,
    timeout: Duration,
}

impl Db {
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let deadline = Instant::now() + self.timeout;
        let client = self.client(deadline).await?;
        let work = async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        };
        let outcome = timeout_at(deadline, work).await;
        finish(client, outcome)
    }

    pub async fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(ChatError::internal(format!("{n} rows where at most one was expected: {sql}"))),
        }
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let deadline = Instant::now() + self.timeout;
        let client = self.client(deadline).await?;
        let work = async {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await
        };
        let outcome = timeout_at(deadline, work).await;
        finish(client, outcome)
    }

    /// As [`Db::execute`], but a unique violation is `Ok(None)` rather than `unavailable`.
    pub async fn execute_unique(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<u64>> {
        let deadline = Instant::now() + self.timeout;
        let client = self.client(deadline).await?;
        let work = async {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await
        };
        match timeout_at(deadline, work).await {
            Ok(Err(e)) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(None),
            outcome => finish(client, outcome).map(Some),
        }
    }

    async fn client(&self, deadline: Instant) -> Result<Object> {
        match timeout_at(deadline, self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(ChatError::unavailable(format!("no database connection: {e}"))),
            Err(_) => Err(ChatError::unavailable("no database connection within --database-timeout-ms")),
        }
    }
}

/// Maps a bounded statement's outcome, discarding the connection when it cannot be trusted.
fn finish<T>(client: Object, outcome: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>) -> Result<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            if e.is_closed() || e.as_db_error().is_none() {
                drop(Object::take(client));
            }
            Err(db_error(e))
        }
        Err(_) => {
            drop(Object::take(client));
            Err(ChatError::unavailable("the database did not answer within --database-timeout-ms"))
        }
    }
}

/// A PostgreSQL failure as the client sees it: `storage_full` when the server is out of disk
/// (SQLSTATE 53100 `disk_full`), `unavailable` for everything else (lost connection, timeout, abort).
pub(crate) fn db_error(e: tokio_postgres::Error) -> ChatError {
    match code_for(e.code()) {
        confab_core::ErrorCode::StorageFull => ChatError::storage_full(e),
        _ => ChatError::unavailable(e),
    }
}

/// Which error code a SQLSTATE gets (see [`db_error`]).
pub(crate) fn code_for(state: Option<&tokio_postgres::error::SqlState>) -> confab_core::ErrorCode {
    match state {
        Some(s) if *s == tokio_postgres::error::SqlState::DISK_FULL => confab_core::ErrorCode::StorageFull,
        _ => confab_core::ErrorCode::Unavailable,
    }
}

impl OpenError {
    pub(crate) fn migrate(e: tokio_postgres::Error) -> Self {
        OpenError::Migrate(with_causes(&e))
    }
}

/// An error and its causes on one line (the pool's error alone says only that connecting failed).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_guest(&self, name: &str, token_hash: &[u8]) -> Result<Actor> {
        read::create_guest(&self.db, ActorId::new_guest().as_str().to_string(), name, token_hash).await
    }

    async fn actor_by_token(&self, token_hash: &[u8]) -> Result<Option<Actor>> {
        read::actor_by_token(&self.db, token_hash).await
    }

    async fn touch_actor(&self, id: &ActorId, at_ms: i64) -> Result<()> {
        read::touch_actor(&self.db, id, at_ms).await
    }

    async fn expire_idle_guests(&self, before_ms: i64) -> Result<usize> {
        read::expire_idle_guests(&self.db, before_ms).await
    }

    async fn rename_actor(&self, id: &ActorId, name: &str) -> Result<()> {
        read::rename_actor(&self.db, id, name).await
    }

    async fn create_user(&self, new: &NewUser) -> Result<User> {
        accounts::create_user(&self.db, new).await
    }

    async fn user_by_key(&self, username_key: &str) -> Result<Option<User>> {
        accounts::user_where(&self.db, "u.username_key", username_key).await
    }

    async fn user(&self, id: &ActorId) -> Result<Option<User>> {
        accounts::user_where(&self.db, "u.actor_id", id.as_str()).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        accounts::users(&self.db).await
    }

    async fn update_user(&self, id: &ActorId, change: &UserChange) -> Result<bool> {
        accounts::update_user(&self.db, id, change).await
    }

    async fn claim_totp_step(&self, id: &ActorId, step: i64) -> Result<bool> {
        accounts::claim_totp_step(&self.db, id, step).await
    }

    async fn use_recovery_code(&self, id: &ActorId, code_hash: &[u8]) -> Result<bool> {
        accounts::use_recovery_code(&self.db, id, code_hash).await
    }

    async fn recovery_codes_left(&self, id: &ActorId) -> Result<usize> {
        accounts::recovery_codes_left(&self.db, id).await
    }

    async fn rekey_usernames(&self) -> Result<Vec<(String, String)>> {
        accounts::rekey_usernames(&self.db).await
    }

    async fn create_credential(&self, credential: &Credential, token_hash: &[u8]) -> Result<()> {
        accounts::create_credential(&self.db, credential, token_hash).await
    }

    async fn use_credential(&self, kind: CredentialKind, token_hash: &[u8], now: i64, lifetime: &SessionLifetime) -> Result<Option<(Credential, User)>> {
        accounts::use_credential(&self.db, kind, token_hash, now, lifetime).await
    }

    async fn credentials(&self, kind: CredentialKind, actor: &ActorId) -> Result<Vec<Credential>> {
        accounts::credentials(&self.db, kind, actor).await
    }

    async fn revoke_credentials(&self, kind: CredentialKind, actor: &ActorId, which: &Revoke) -> Result<Vec<String>> {
        accounts::revoke_credentials(&self.db, kind, actor, which).await
    }

    async fn live_credentials(&self, ids: &[String], now: i64, lifetime: &SessionLifetime) -> Result<Liveness> {
        accounts::live_credentials(&self.db, ids, now, lifetime).await
    }

    async fn expire_sessions(&self, now: i64, lifetime: &SessionLifetime) -> Result<Vec<String>> {
        accounts::expire_sessions(&self.db, now, lifetime).await
    }

    async fn create_invite(&self, code_hash: &[u8], created_by: Option<&ActorId>, expires_at: i64) -> Result<()> {
        accounts::create_invite(&self.db, code_hash, created_by, expires_at).await
    }

    async fn take_invite(&self, code_hash: &[u8], now: i64) -> Result<bool> {
        accounts::take_invite(&self.db, code_hash, now).await
    }

    async fn create_room(&self, name: &str, kind: RoomKind, owner: &ActorRef) -> Result<Room> {
        read::create_room(&self.db, name, kind, owner).await
    }

    async fn room(&self, name: &str) -> Result<Option<Room>> {
        read::room_by_key(&self.db, &name.to_lowercase()).await
    }

    async fn rooms(&self) -> Result<Vec<Room>> {
        read::rooms(&self.db).await
    }

    async fn role(&self, room: RoomId, actor: &ActorId) -> Result<Option<Role>> {
        read::role(&self.db, room, actor).await
    }

    async fn membership(&self, room: RoomId, actor: &ActorId) -> Result<Membership> {
        read::membership(&self.db, room, actor).await
    }

    async fn members_of(&self, room: RoomId) -> Result<Vec<Member>> {
        read::members_of(&self.db, room).await
    }

    async fn bans(&self, room: RoomId) -> Result<Vec<ActorRef>> {
        read::bans(&self.db, room).await
    }

    async fn memberships_of(&self, actor: &ActorId) -> Result<Vec<(RoomId, Role)>> {
        read::memberships_of(&self.db, actor).await
    }

    async fn actor(&self, id: &ActorId) -> Result<Option<Actor>> {
        read::actor(&self.db, id).await
    }

    async fn create_room_invite(&self, invite: &NewInvite) -> Result<()> {
        read::create_room_invite(&self.db, invite).await
    }

    async fn use_room_invite(&self, code_hash: &[u8], now: i64) -> Result<Room> {
        read::use_room_invite(&self.db, code_hash, now).await
    }

    async fn message(&self, room: RoomId, key: &MessageKey) -> Result<Option<StoredMessage>> {
        read::message(&self.db, room, key).await
    }

    fn append(&self, room: &Room, actor: ActorRef, new: NewEvent) -> BoxFuture<Result<Appended>> {
        let (reply, answer) = oneshot::channel();
        let submitted = self.writer.submit(Request { room_id: room.id, room_name: room.name.clone(), actor, new, reply });
        Box::pin(async move {
            submitted?;
            answer.await.map_err(|_| ChatError::unavailable("store writer stopped"))?
        })
    }

    async fn events(&self, room: RoomId, range: EventRange, limit: usize) -> Result<Vec<Event>> {
        read::events(&self.db, room, range, limit).await
    }

    async fn recent_messages(&self, room: RoomId, limit: usize) -> Result<Vec<Event>> {
        read::recent_messages(&self.db, room, limit).await
    }

    async fn top_seq(&self, room: RoomId) -> Result<Seq> {
        read::top_seq(&self.db, room).await
    }

    async fn listed(&self) -> Result<Vec<(RoomId, ActorRef)>> {
        read::listed(&self.db).await
    }

    async fn actors(&self, ids: &[ActorId]) -> Result<Vec<Actor>> {
        direct::actors(&self.db, ids).await
    }

    async fn open_direct(&self, key: &str, name: &str, members: &[ActorRef]) -> Result<OpenedDirect> {
        direct::open_direct(&self.db, key, name, members).await
    }

    async fn room_members(&self, room: RoomId) -> Result<Vec<(ActorRef, Role)>> {
        direct::room_members(&self.db, room).await
    }

    async fn my_rooms(&self, actor: &ActorId) -> Result<Vec<(Room, Role)>> {
        direct::my_rooms(&self.db, actor).await
    }

    async fn create_webhook(&self, room: RoomId, name: &str, secret_hash: &[u8], created_by: &ActorId) -> Result<Webhook> {
        direct::create_webhook(&self.db, room, name, secret_hash, created_by).await
    }

    async fn webhooks(&self, room: RoomId) -> Result<Vec<Webhook>> {
        direct::webhooks(&self.db, room).await
    }

    async fn webhook(&self, id: &ActorId) -> Result<Option<WebhookSecret>> {
        direct::webhook(&self.db, id).await
    }

    async fn revoke_webhook(&self, room: RoomId, id: &ActorId) -> Result<bool> {
        direct::revoke_webhook(&self.db, room, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::code_for;
    use confab_core::ErrorCode;
    use tokio_postgres::error::SqlState;

    /// PostgreSQL out of disk (53100) is `storage_full`, as SQLite's SQLITE_FULL is; other failures,
    /// including other resource errors, stay `unavailable`.
    #[test]
    fn disk_full_is_storage_full() {
        assert_eq!(code_for(Some(&SqlState::from_code("53100"))), ErrorCode::StorageFull);
        assert_eq!(code_for(Some(&SqlState::DISK_FULL)), ErrorCode::StorageFull);
        assert_eq!(code_for(Some(&SqlState::OUT_OF_MEMORY)), ErrorCode::Unavailable);
        assert_eq!(code_for(Some(&SqlState::T_R_SERIALIZATION_FAILURE)), ErrorCode::Unavailable);
        assert_eq!(code_for(None), ErrorCode::Unavailable);
    }
}
