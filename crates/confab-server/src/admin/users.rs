//! `confab admin` for accounts: create an administrator, reset a password, disable and enable an
//! account, list accounts, create and revoke API tokens, make registration invites.
//!
//! Each command opens the store the server uses (SQLite in `--data-dir`, or PostgreSQL with
//! `--database-url`), whether the server is stopped or running: SQLite's WAL and busy timeout let
//! this process write beside the server's, and PostgreSQL is shared anyway. A running server sees
//! new accounts and passwords at the next sign-in, and closes the connections of a disabled account
//! or of revoked sessions and tokens within its `--credential-recheck-ms`.
//!
//! Passwords are never flags (they would stay in shell history and `ps`): they are read from the
//! terminal without echo (asked twice), or, when standard input is not a terminal, as one line of it.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use confab_core::accounts::{CredentialKind, Revoke, User, UserChange};
use confab_core::store::{EventSink, Store};
use confab_core::Event;

use crate::accounts::{Accounts, INVITE_DEFAULT_SECS};

#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The server's data directory, holding confab.db (SQLite).
    #[arg(long, env = "CONFAB_DATA_DIR", default_value = "./confab-data")]
    data_dir: PathBuf,
    /// The server's PostgreSQL instead of SQLite.
    #[arg(long, env = "CONFAB_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The PostgreSQL schema the server uses.
    #[arg(long, env = "CONFAB_DATABASE_SCHEMA", requires = "database_url")]
    database_schema: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// The account's username (any spelling that folds to it: `Sam` finds `sam`).
    username: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The new administrator's username.
    username: String,
    /// Display name (default: the username).
    #[arg(long)]
    display_name: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make an API token for an account; prints the secret (shown this once) on stdout.
    Create {
        username: String,
        /// What the token is for (shown in the account's token list).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an API token by id (`t_…`); a running server closes its connections within
    /// --credential-recheck-ms.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct InviteArgs {
    /// How long the invite works, in seconds (at most 30 days).
    #[arg(long, default_value_t = INVITE_DEFAULT_SECS)]
    expires_in_secs: u64,
    #[command(flatten)]
    store: StoreArgs,
}

struct NoSink;

impl EventSink for NoSink {
    fn committed(&self, _: Vec<Event>) {}
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())
}

async fn open(args: &StoreArgs) -> Result<Accounts, String> {
    let sink: Arc<dyn EventSink> = Arc::new(NoSink);
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => {
            let settings = confab_store_postgres::PgSettings {
                schema: args.database_schema.clone(),
                pool_size: 2,
                ..confab_store_postgres::PgSettings::new(url.clone())
            };
            Arc::new(confab_store_postgres::PostgresStore::open(&settings, sink).await.map_err(|e| e.to_string())?)
        }
        None => {
            if !args.data_dir.join("confab.db").exists() {
                eprintln!("note: no confab.db in {}; creating a new database there", args.data_dir.display());
            }
            Arc::new(confab_store_sqlite::SqliteStore::open(&args.data_dir, sink).map_err(|e| e.to_string())?)
        }
    };
    Ok(Accounts::with_defaults(store))
}

/// Reads a password: from the terminal without echo (twice, to catch typos), else one line of stdin.
fn read_password(prompt: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_string())
}

async fn find(accounts: &Accounts, raw: &str) -> Result<User, String> {
    accounts
        .account_for_sign_in(raw)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account named {raw:?}"))
}

pub fn create_admin(args: CreateArgs) -> Result<(), String> {
    let password = read_password(&format!("password for {}: ", args.username))?;
    runtime()?.block_on(async {
        let accounts = open(&args.store).await?;
        let user = accounts
            .create_user(&args.username, &password, args.display_name.as_deref(), true)
            .await
            .map_err(|e| e.to_string())?;
        println!("created administrator {} ({})", user.username, user.actor.id.as_str());
        Ok(())
    })
}

pub fn reset_password(args: UserArgs) -> Result<(), String> {
    let password = read_password(&format!("new password for {}: ", args.username))?;
    runtime()?.block_on(async {
        let accounts = open(&args.store).await?;
        let user = find(&accounts, &args.username).await?;
        let hash = accounts.hash_new_password(&password).await.map_err(|e| e.to_string())?;
        accounts.store.update_user(&user.actor.id, &UserChange::PasswordHash(hash)).await.map_err(|e| e.to_string())?;
        let ended = accounts.revoke(CredentialKind::Session, &user.actor.id, &Revoke::All).await.map_err(|e| e.to_string())?;
        println!("password of {} reset; {} session(s) ended", user.username, ended.len());
        Ok(())
    })
}

pub fn set_disabled(args: UserArgs, disabled: bool) -> Result<(), String> {
    runtime()?.block_on(async {
        let accounts = open(&args.store).await?;
        let user = find(&accounts, &args.username).await?;
        accounts.store.update_user(&user.actor.id, &UserChange::Disabled(disabled)).await.map_err(|e| e.to_string())?;
        println!("{} {}", user.username, if disabled { "disabled: it cannot sign in, and its sessions and tokens stop working" } else { "enabled" });
        Ok(())
    })
}

pub fn list(store: StoreArgs) -> Result<(), String> {
    runtime()?.block_on(async {
        let accounts = open(&store).await?;
        let users = accounts.store.users().await.map_err(|e| e.to_string())?;
        println!("{:<24} {:<24} {:<24} flags", "username", "id", "display name");
        for u in users {
            let mut flags = Vec::new();
            if u.actor.admin {
                flags.push("admin");
            }
            if u.disabled {
                flags.push("disabled");
            }
            if u.totp_enabled {
                flags.push("2fa");
            }
            println!("{:<24} {:<24} {:<24} {}", u.username, u.actor.id.as_str(), u.actor.name, flags.join(","));
        }
        Ok(())
    })
}

pub fn token(command: TokenCommand) -> Result<(), String> {
    runtime()?.block_on(async {
        match command {
            TokenCommand::Create { username, name, store } => {
                let accounts = open(&store).await?;
                let user = find(&accounts, &username).await?;
                let (token, secret) = accounts.create_token(&user.actor.id, &name).await.map_err(|e| e.to_string())?;
                eprintln!("API token {} ({:?}) for {}; the secret is shown this once:", token.id, token.label, user.username);
                println!("{secret}");
                Ok(())
            }
            TokenCommand::Revoke { id, store } => {
                let accounts = open(&store).await?;
                if CredentialKind::of_id(&id) != Some(CredentialKind::ApiToken) {
                    return Err(format!("{id:?} is not an API token id (t_…)"));
                }
                for user in accounts.store.users().await.map_err(|e| e.to_string())? {
                    let gone = accounts.revoke(CredentialKind::ApiToken, &user.actor.id, &Revoke::One(id.clone())).await.map_err(|e| e.to_string())?;
                    if !gone.is_empty() {
                        println!("revoked API token {id} of {}", user.username);
                        return Ok(());
                    }
                }
                Err(format!("no API token {id}"))
            }
        }
    })
}

pub fn invite(args: InviteArgs) -> Result<(), String> {
    runtime()?.block_on(async {
        let accounts = open(&args.store).await?;
        let (code, expires_at) = accounts.create_invite(None, args.expires_in_secs).await.map_err(|e| e.to_string())?;
        eprintln!("registration invite, usable once until {expires_at} (ms since the epoch); register with it at /register?invite=<code>:");
        println!("{code}");
        Ok(())
    })
}
