//! `confab admin …`: maintenance commands run beside (or instead of) the server, one file per
//! concern (`backup.rs`; `users.rs` for accounts, tokens and invites).
//! To add one: a file here with an `Args` struct and a `run`, a variant in [`AdminCommand`], and
//! its arm in [`run`].

mod backup;
mod users;

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

    /// Create an administrator account (the first one, say). The password is read from the terminal
    /// without echo, or as one line of standard input; never from a flag.
    CreateAdmin(users::CreateArgs),

    /// Set a new password for an account (read like create-admin's); every session of it ends.
    ResetPassword(users::UserArgs),

    /// Disable an account: it cannot sign in, its sessions and API tokens stop working, and a
    /// running server closes its connections within --credential-recheck-ms.
    Disable(users::UserArgs),

    /// Enable a disabled account again.
    Enable(users::UserArgs),

    /// List the accounts (username, id, display name, admin / disabled / 2fa).
    Users(users::StoreArgs),

    /// Create or revoke API tokens.
    #[command(subcommand)]
    Token(users::TokenCommand),

    /// Make a registration invite code (for --registration invite); prints the code.
    Invite(users::InviteArgs),
}

/// Runs an admin command; what it prints on success goes to stdout, the error to the caller.
pub fn run(command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::Backup(args) => backup::run(args),
        AdminCommand::CreateAdmin(args) => users::create_admin(args),
        AdminCommand::ResetPassword(args) => users::reset_password(args),
        AdminCommand::Disable(args) => users::set_disabled(args, true),
        AdminCommand::Enable(args) => users::set_disabled(args, false),
        AdminCommand::Users(args) => users::list(args),
        AdminCommand::Token(command) => users::token(command),
        AdminCommand::Invite(args) => users::invite(args),
    }
}
