//! `confab admin …`: maintenance commands run beside (or instead of) the server, one file each.
//! To add one: a file here with an `Args` struct and a `run`, a variant in [`AdminCommand`], and
//! its arm in [`run`].

mod backup;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Copy the SQLite database to a new file while the server runs.
    ///
    /// The copy is consistent as of the moment it starts (every commit acknowledged before then is
    /// in it) and is checked with PRAGMA integrity_check. Restore: stop the server, copy the
    /// file to DATA_DIR/confab.db, remove any confab.db-wal and confab.db-shm beside it, start.
    /// For PostgreSQL use pg_dump (docs/operations.md).
    Backup(backup::Args),
}

/// Runs an admin command; what it prints on success goes to stdout, the error to the caller.
pub fn run(command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::Backup(args) => backup::run(args),
    }
}
