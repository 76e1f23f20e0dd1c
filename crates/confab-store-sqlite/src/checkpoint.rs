//! WAL checkpoints on their own thread.
//!
//! SQLite's default is to checkpoint inside the commit that pushes the WAL past 1,000 pages, which
//! puts the copy into the database file (and its fsync) in front of every acknowledgement of that
//! batch: 10 % of the writer's time in the durable-writes profile. The write connection turns that
//! off (`wal_autocheckpoint = 0`), and this thread runs a `PASSIVE` checkpoint (which never blocks
//! the writer or readers) every [`INTERVAL`] after the writer has committed something. A page written
//! many times in that interval is copied once.
//!
//! Under steady writes a background checkpoint never quite catches up (frames keep arriving while it
//! copies), and SQLite only starts the WAL over once every frame is copied: the WAL would grow without
//! bound (766 MB in a 6-second run) and every new frame would cost a file extension. So when the last
//! background checkpoint saw more than [`LONG_WAL_FRAMES`], the writer itself finishes the job between
//! two batches (after answering the first): what is left is what arrived since the background copy, and
//! no frame can arrive during it, so the next transaction starts the WAL over.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use crate::schema;

const INTERVAL: Duration = Duration::from_millis(200);
/// WAL length (frames of one page each, 4 KiB) past which the writer finishes a checkpoint itself.
const LONG_WAL_FRAMES: i64 = 4096;

/// The writer's handle: marks the WAL as grown. Dropping it (the writer stopped) ends the thread after
/// a last, truncating checkpoint.
pub struct Checkpoints {
    dirty: Arc<AtomicBool>,
    /// The WAL's length in frames when the background thread last checkpointed.
    wal_frames: Arc<AtomicI64>,
    _stop: mpsc::Sender<()>,
}

impl Checkpoints {
    pub fn start(path: PathBuf) -> std::io::Result<Self> {
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let wal_frames = Arc::new(AtomicI64::new(0));
        let (flag, frames) = (Arc::clone(&dirty), Arc::clone(&wal_frames));
        std::thread::Builder::new()
            .name("confab-sqlite-checkpoint".into())
            .spawn(move || run(path, flag, frames, stopped))?;
        Ok(Checkpoints { dirty, wal_frames, _stop: stop })
    }

    /// Called by the writer after each batch is committed and answered, with its connection.
    pub fn wrote(&self, conn: &Connection) {
        self.dirty.store(true, Ordering::Relaxed);
        if self.wal_frames.load(Ordering::Relaxed) > LONG_WAL_FRAMES {
            match checkpoint(conn) {
                Ok(frames) => self.wal_frames.store(frames, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
            }
        }
    }
}

/// A passive checkpoint; returns the WAL's length in frames.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

fn run(path: PathBuf, dirty: Arc<AtomicBool>, wal_frames: Arc<AtomicI64>, stopped: mpsc::Receiver<()>) {
    let conn = match schema::connect(&path, schema::Use::Checkpoint) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "checkpoint thread cannot open the database; the WAL will grow");
            return;
        }
    };
    loop {
        let last = !matches!(stopped.recv_timeout(INTERVAL), Err(mpsc::RecvTimeoutError::Timeout));
        if last {
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                tracing::warn!(error = %e, "final checkpoint failed");
            }
            return;
        }
        if dirty.swap(false, Ordering::Relaxed) {
            match checkpoint(&conn) {
                Ok(frames) => wal_frames.store(frames, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
            }
        }
    }
}
