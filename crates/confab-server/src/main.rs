//! Confab's server binary. The layout:
//!
//! - [`config`]: the command line and environment.
//! - [`accounts`]: registering, signing in, sessions, API tokens, 2FA (the rules; `http/account.rs` serves them).
//! - [`identity`]: a token (cookie, bearer, `hello`, Socket.IO auth) resolved to an actor and its credential.
//! - [`app`]: shared state, the router, start-up and graceful shutdown.
//! - [`http`]: the web UI's pages, the JSON API, sessions.
//! - [`native`]: Confab's WebSocket protocol at `/ws`.
//! - [`socketio`]: Socket.IO v4 at `/socket.io/`, speaking the original app's vocabulary.
//! - [`conn`]: what connections of both protocols share: the bounded outbound queue, the sequencer
//!   that keeps each room in order, the batching writer, rate limiting.
//! - [`fanout`]: the in-process hub that hands committed events to subscribed connections.
//! - [`metrics`]: what the server counts, served at `/metrics`.
//! - [`admin`]: `confab admin …`, maintenance commands (backup).
//!
//! `confab` with no subcommand runs the server; `confab admin …` runs a maintenance command.
//!
//! The chat rules live in `confab-core`; storage in `confab-store-sqlite`.

mod accounts;
mod admin;
mod app;
mod backends;
mod config;
mod conn;
mod fanout;
mod http;
mod identity;
mod metrics;
mod native;
mod socketio;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "confab", version, about = "Confab: a real-time chat server with an embedded web UI.\n\n\
Serves the web UI at /, Confab's WebSocket protocol at /ws and Socket.IO v4 at /socket.io/, \
and keeps everything in an embedded SQLite database under --data-dir, or, with --database-url, \
in PostgreSQL (several Confab nodes can share one database). \
With no subcommand it runs the server with the options below.",
    args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: config::Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Maintenance commands: `confab admin --help` lists them.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Admin(command)) = cli.command {
        return match admin::run(command) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("confab admin: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let config = cli.server;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("confab: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confab: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
