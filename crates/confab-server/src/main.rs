//! Confab's server binary. The layout:
//!
//! - [`config`]: the command line and environment.
//! - [`app`]: shared state, the router, start-up and graceful shutdown.
//! - [`http`]: the web UI's pages, the JSON API, sessions.
//! - [`native`]: Confab's WebSocket protocol at `/ws`.
//! - [`socketio`]: Socket.IO v4 at `/socket.io/`, speaking the original app's vocabulary.
//! - [`conn`]: what connections of both protocols share: the bounded outbound queue, the sequencer
//!   that keeps each room in order, the batching writer, rate limiting.
//! - [`fanout`]: the in-process hub that hands committed events to subscribed connections.
//!
//! The chat rules live in `confab-core`; storage in `confab-store-sqlite`.

mod app;
mod backends;
mod config;
mod conn;
mod fanout;
mod http;
mod native;
mod socketio;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let config = config::Config::parse();
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
