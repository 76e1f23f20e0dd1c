//! A consistent copy of a live database, for `confab admin backup`.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so the copy holds exactly the
//! commits made before it started, whatever the writer does meanwhile (WAL lets both go on), and
//! it includes what still sits in the WAL. The copy is a plain, compacted database file with no
//! WAL of its own: restoring is copying it to `DATA_DIR/confab.db` while the server is stopped.
//! It was chosen over SQLite's online backup API, which restarts its copy whenever the writer
//! commits in between steps and so may never finish under steady writes.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no database at {0} (is --data-dir right?)")]
    NoDatabase(PathBuf),
    #[error("{0} exists already; choose a new file")]
    TargetExists(PathBuf),
    #[error("cannot read {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("copy to {path} failed: {source}")]
    Copy { path: PathBuf, source: rusqlite::Error },
    #[error("the copy at {path} fails its integrity check: {report}")]
    Corrupt { path: PathBuf, report: String },
}

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub rooms: i64,
    pub events: i64,
}

/// Copies `DATA_DIR/confab.db` to `to` (which must not exist) while the server may be running, then
/// checks the copy with `PRAGMA integrity_check`.
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupReport, BackupError> {
    let source = data_dir.join("confab.db");
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source));
    }
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_path_buf()));
    }
    // Read-only: the backup never takes the write lock nor creates anything in the data directory
    // besides what WAL readers share (the -shm index).
    let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|source_err| BackupError::Open { path: source.clone(), source: source_err })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| BackupError::Open { path: source.clone(), source: e })?;
    let target = to.to_str().ok_or_else(|| BackupError::Copy {
        path: to.to_path_buf(),
        source: rusqlite::Error::InvalidPath(to.to_path_buf()),
    })?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(|e| BackupError::Copy { path: to.to_path_buf(), source: e })?;
    drop(conn);
    check(to)
}

/// Runs `PRAGMA integrity_check` on a database file and counts what it holds.
pub fn check(path: &Path) -> Result<BackupReport, BackupError> {
    let open = |e| BackupError::Open { path: path.to_path_buf(), source: e };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(open)?;
    let report: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(open)?;
    if report != "ok" {
        return Err(BackupError::Corrupt { path: path.to_path_buf(), report });
    }
    let rooms = conn.query_row("SELECT count(*) FROM rooms", [], |r| r.get(0)).map_err(open)?;
    let events = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).map_err(open)?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport { bytes, rooms, events })
}
