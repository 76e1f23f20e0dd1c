//! Opening a connection with Confab's settings, and applying the numbered migrations.

use std::path::Path;

use rusqlite::Connection;

/// Migrations in order; each runs once, recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_fewer_btrees.sql")),
    (3, include_str!("../migrations/0003_accounts.sql")),
    (4, include_str!("../migrations/0004_rooms.sql")),
    (5, include_str!("../migrations/0005_direct.sql")),
    (6, include_str!("../migrations/0006_guest_expiry.sql")),
    (7, include_str!("../migrations/0007_username_case_folding.sql")),
];

/// What a connection is for: its page cache and checkpointing differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// The one write connection. It never checkpoints itself (`wal_autocheckpoint = 0`): a checkpoint
    /// inside a commit delays every acknowledgement of that batch; [`Use::Checkpoint`] does it instead.
    Write,
    Read,
    /// The connection of the checkpoint thread.
    Checkpoint,
}

/// WAL so readers never block the writer; `synchronous = FULL` so a commit survives power loss
/// (an acknowledged message is on disk); a busy timeout so a reader opening during a checkpoint waits;
/// temporary files (the statement journal of the savepoints used when a batch is retried) in memory.
pub fn connect(path: &Path, usage: Use) -> rusqlite::Result<Connection> {
    connect_limited(path, usage, None)
}

/// [`connect`], with the database's size capped at `max_bytes` for this connection (SQLite's
/// `max_page_count`, rounded down to whole pages): a write that would grow it further fails with
/// `SQLITE_FULL`, exactly as a full disk does. Every connection that may write gets the cap: the
/// writer's, and the pooled ones the accounts' writes run on (the checkpointer only copies pages).
pub fn connect_limited(path: &Path, usage: Use, max_bytes: Option<u64>) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA temp_store = MEMORY;",
    )?;
    match usage {
        // 16 MiB: the writer touches the tops of every index on every message (misses show as preads
        // in the profile at SQLite's 2 MiB default); a bounded cost, shared by all connections.
        Use::Write => conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 0;")?,
        Use::Read => conn.execute_batch("PRAGMA cache_size = -4096;")?,
        Use::Checkpoint => conn.execute_batch("PRAGMA cache_size = -1024;")?,
    }
    if let Some(max) = max_bytes {
        let page: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages = (max / page.max(1)).max(1);
        // The pragma never lowers the limit below the file's current size: it answers the limit
        // in force, which is what the start-up log reports.
        let set: u64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))?;
        if set > pages {
            tracing::warn!(max_bytes = max, current_bytes = set * page, "the database is already larger than --database-max-bytes; new writes are refused until it shrinks");
        }
    }
    Ok(conn)
}

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")?;
    for (version, sql) in MIGRATIONS {
        let done: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if let Some(step) = code_step(*version) {
            step(&tx)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, confab_core::model::now_ms()),
        )?;
        tx.commit()?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

/// The Rust part of a migration, run after its SQL in the transaction that records it.
type CodeStep = fn(&Connection) -> rusqlite::Result<()>;

/// The migrations that have a Rust part.
fn code_step(version: i64) -> Option<CodeStep> {
    match version {
        7 => Some(rekey_usernames),
        _ => None,
    }
}

/// 7: username keys by full Unicode case folding (`straße` and `strasse` are one name). Accounts
/// that the new rule makes one keep their old key (`confab_core::accounts::username::rekey`).
fn rekey_usernames(c: &Connection) -> rusqlite::Result<()> {
    let moves = crate::accounts::rekey_in(c)?;
    if !moves.is_empty() {
        tracing::info!(changed = moves.len(), "recomputed username keys with full case folding");
    }
    Ok(())
}
