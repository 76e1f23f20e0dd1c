//! The benchmark's scenarios, one file each (docs/performance.md describes them). Fan-out,
//! latency, many rooms, slow reader and churn are stepped traffic runs (`traffic.rs`, `step.rs`,
//! `member.rs`) with their own defaults; idle, storm and durable have their own loops. What every
//! scenario shares is here and in `shared.rs`.

mod churn;
mod durable;
mod fanout;
mod idle;
mod ladder;
mod latency;
mod member;
mod rooms;
mod shared;
mod slow;
mod soak;
mod step;
mod storm;
mod traffic;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::time::sleep;

use crate::conn::ConnOpts;
use crate::stats::proc_rss_kib;
use crate::{Cli, Cmd};

use shared::Shared;

/// A tag unique to this process and moment, put in every room name so runs never share a room.
fn run_tag() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 100_000_000;
    format!("{}x{}", std::process::id() % 100_000, t)
}

/// Runs the scenario the command line names and returns its JSON result and whether it passed
/// (`--strict` turns a failure into exit status 1).
pub async fn run(cli: Cli, opts: ConnOpts, nofile: u64) -> (Value, bool) {
    let g = cli.g.clone();
    let (scenario, (mut out, ok)) = match cli.cmd.clone() {
        Cmd::Fanout(t) => ("fanout", fanout::run(&cli, opts, t).await),
        Cmd::Latency(t) => ("latency", latency::run(&cli, opts, t).await),
        Cmd::Rooms(t) => ("rooms", rooms::run(&cli, opts, t).await),
        Cmd::Slow(t) => ("slow", slow::run(&cli, opts, t).await),
        Cmd::Churn(t) => ("churn", churn::run(&cli, opts, t).await),
        Cmd::Idle(i) => ("idle", idle::run(&cli, opts, i).await),
        Cmd::Storm(s) => ("storm", storm::run(&cli, opts, s).await),
        Cmd::Durable(d) => ("durable", durable::run(&cli, opts, d).await),
        Cmd::Soak(s) => ("soak", soak::run(&cli, opts, s).await),
    };
    let o = out.as_object_mut().unwrap();
    o.insert("scenario".into(), json!(scenario));
    o.insert("label".into(), json!(g.label));
    o.insert("proto".into(), json!(g.proto));
    o.insert("addr".into(), json!(g.addr.to_string()));
    o.insert("server_pid".into(), json!(g.server_pid));
    o.insert("nofile_limit".into(), json!(nofile));
    o.insert("ok".into(), json!(ok));
    (out, ok)
}

/// Waits until `n` connections are joined or failed (at most `limit`); true when none failed.
async fn wait_setup(sh: &Shared, n: usize, limit: Duration) -> bool {
    let t0 = Instant::now();
    while sh.joined.get() + sh.failed.get() < n {
        if t0.elapsed() > limit {
            return false;
        }
        sleep(Duration::from_millis(50)).await;
    }
    sh.failed.get() == 0
}

/// Wait until no frame arrived for `quiet`, at most `limit`.
async fn wait_quiet(sh: &Shared, quiet: Duration, limit: Duration) -> Duration {
    let t0 = Instant::now();
    let mut last = sh.frames.get();
    let mut since = Instant::now();
    while t0.elapsed() < limit {
        sleep(Duration::from_millis(50)).await;
        let f = sh.frames.get();
        if f != last {
            last = f;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    t0.elapsed()
}

/// Samples the server's RSS every 100 ms into `rss_max` until `until` is set.
fn rss_sampler(sh: Rc<Shared>, pid: Option<u32>, until: Rc<Cell<bool>>) {
    let Some(pid) = pid else { return };
    tokio::task::spawn_local(async move {
        while !until.get() {
            if let Some(r) = proc_rss_kib(pid) {
                if r > sh.rss_max.get() {
                    sh.rss_max.set(r);
                }
            }
            sleep(Duration::from_millis(100)).await;
        }
    });
}

/// `CONFAB_BENCH_TRACE=1`: print every delivery slower than 100 ms.
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("CONFAB_BENCH_TRACE").is_some())
}
