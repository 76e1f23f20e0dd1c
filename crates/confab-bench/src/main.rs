//! confab-bench: load generator for Confab (native protocol at /ws, Socket.IO at /socket.io/) and
//! the reference Socket.IO servers in bench/peers/. See docs/performance.md.
//!
//! One single-threaded tokio runtime per process (pin it with `taskset`); every delivery carries
//! `~b<step>.<sender>.<n>.<nanos>~` in its text, so latency, loss, duplicates and reordering are
//! computed on receipt against one monotonic clock.
//!
//! Layout: `conn.rs` (one connection, either protocol), `stats.rs` (delivery accounting, latency,
//! CPU, memory and load readings), `scenarios/` (one file per scenario; `traffic.rs`, `step.rs`,
//! `member.rs` and `ladder.rs` are the stepped runs they share). With `--nodes` the traffic
//! scenarios spread their connections over several servers of one cluster (bench/nodes).

mod conn;
mod scenarios;
mod stats;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use conn::{ConnOpts, Proto};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "confab-bench",
    version,
    about = "Load generator for Confab and the Socket.IO reference servers"
)]
pub struct Cli {
    #[command(flatten)]
    pub g: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Server address (loopback only)
    #[arg(long, global = true, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Protocol: native (Confab /ws) or sio (Socket.IO v4, seed vocabulary)
    #[arg(long, global = true, value_enum, default_value = "native")]
    pub proto: Proto,
    /// Server process id: CPU time from /proc/PID/stat, RSS from /proc/PID/status
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Several servers of one cluster (comma-separated; replaces --addr for traffic scenarios):
    /// member i connects to the i-th address round-robin, no load balancer in between
    #[arg(long, global = true, value_delimiter = ',')]
    pub nodes: Vec<SocketAddr>,
    /// Process ids of --nodes, in the same order: CPU time per node (--server-pid is then the first)
    #[arg(long, global = true, value_delimiter = ',')]
    pub node_pids: Vec<u32>,
    /// Free-form label copied into the JSON (e.g. the target's name)
    #[arg(long, global = true, default_value = "")]
    pub label: String,
    /// Append the JSON result (one line) to this file as well as printing it
    #[arg(long, global = true)]
    pub json_out: Option<std::path::PathBuf>,
    /// Exit non-zero if anything was lost, duplicated or reordered, or nothing was delivered
    #[arg(long, global = true)]
    pub strict: bool,
    /// Connections being set up at once
    #[arg(long, global = true, default_value_t = 64)]
    pub setup_concurrency: usize,
    /// WebSocket read chunk per connection, bytes
    #[arg(long, global = true, default_value_t = 4096)]
    pub read_buffer: usize,
    /// Give up on the whole setup phase after this many seconds
    #[arg(long, global = true, default_value_t = 300)]
    pub setup_secs: u64,
    /// Generator CPU utilisation (0..1) at or above which a step is marked generator_bound
    #[arg(long, global = true, default_value_t = 0.9)]
    pub gen_bound: f64,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Cmd {
    /// One room of N members, one sender, stepped delivery rates; reports the highest rate held
    Fanout(Traffic),
    /// Fixed delivery rate (default 50,000/s into one room of 1,000): p50/p99/p99.9
    Latency(Traffic),
    /// Many small rooms (10,000 connections in rooms of 10), everyone sending at a low rate
    Rooms(Traffic),
    /// One member stops reading during fan-out: others unaffected, server memory bounded,
    /// the slow one disconnected (native: close 4000 slow_consumer) and resumed with `since`
    Slow(Traffic),
    /// Connect/disconnect churn during fan-out; server memory before and after
    Churn(Traffic),
    /// Idle connections: as many as asked, server memory per connection
    Idle(Idle),
    /// Connection storm: new connections per second, handshake to first event
    Storm(Storm),
    /// Durable writes (native only): acknowledged sends per second, each ack after commit
    Durable(Durable),
    /// Soak: mixed traffic on both protocols (joins, leaves, sends, edits, deletes, history,
    /// reconnects) for --secs; server RSS and latency per interval, and whether they stay flat
    Soak(Soak),
}

#[derive(Args, Debug, Clone)]
pub struct Soak {
    /// How long to run, seconds
    #[arg(long, default_value_t = 600.0)]
    pub secs: f64,
    /// Seconds per sample (RSS, latency percentiles, deliveries)
    #[arg(long, default_value_t = 10.0)]
    pub interval_secs: f64,
    /// Rooms, each with its own readers, senders and chores
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Readers per room per protocol
    #[arg(long, default_value_t = 5)]
    pub readers: usize,
    /// Messages per second from the senders, all rooms together
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Pause between two cycles of a room's chores (send, edit, history, delete, ...), ms
    #[arg(long, default_value_t = 500)]
    pub chore_ms: u64,
}

#[derive(Args, Debug, Clone)]
pub struct Traffic {
    /// Connections in total
    #[arg(long)]
    pub conns: Option<usize>,
    /// Members per room
    #[arg(long)]
    pub room_size: Option<usize>,
    /// Senders per room (the first members of each room)
    #[arg(long)]
    pub senders_per_room: Option<usize>,
    /// Delivery rates to step through (deliveries/s, comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub rates: Option<Vec<f64>>,
    /// Seconds of sending per step
    #[arg(long, default_value_t = 5.0)]
    pub step_secs: f64,
    /// Warm-up seconds at the first rate before measuring (not recorded)
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Longest wait for in-flight deliveries after a step
    #[arg(long, default_value_t = 10.0)]
    pub drain_secs: f64,
    /// Keep stepping after steps that were not held (never stop early)
    #[arg(long)]
    pub no_stop_on_fail: bool,
    /// Stop stepping after this many rates in a row that were not held (after their retries)
    #[arg(long, default_value_t = 2)]
    pub stop_after_fails: usize,
    /// fanout, rooms: tries again at the same rate when a step is not held, before it counts as not held
    #[arg(long, default_value_t = 1)]
    pub retries: usize,
    /// p99 bound (ms) for a step to count as held
    #[arg(long, default_value_t = 50.0)]
    pub p99_ms: f64,
    /// Extra bytes of text per message
    #[arg(long, default_value_t = 0)]
    pub pad: usize,
    /// churn: concurrent churning clients
    #[arg(long, default_value_t = 20)]
    pub churners: usize,
    /// churn: how long a churning client stays, ms
    #[arg(long, default_value_t = 200)]
    pub stay_ms: u64,
    /// churn/slow: seconds to let the server settle before reading memory
    #[arg(long, default_value_t = 3.0)]
    pub settle_secs: f64,
}

#[derive(Args, Debug, Clone)]
pub struct Idle {
    #[arg(long, default_value_t = 18000)]
    pub conns: usize,
    /// Members per room (each idle connection joins one room)
    #[arg(long, default_value_t = 10)]
    pub room_size: usize,
    #[arg(long, default_value_t = 3.0)]
    pub settle_secs: f64,
}

#[derive(Args, Debug, Clone)]
pub struct Storm {
    #[arg(long, default_value_t = 5000)]
    pub conns: usize,
    /// Connections in flight at once
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 10)]
    pub room_size: usize,
}

#[derive(Args, Debug, Clone)]
pub struct Durable {
    /// Sending connections, each in its own room
    #[arg(long, default_value_t = 100)]
    pub senders: usize,
    /// Unacknowledged sends each sender keeps in flight
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
}

fn main() {
    let cli = Cli::parse();
    let nofile = stats::raise_nofile();
    stats::now_ns();
    let opts = ConnOpts {
        addr: cli.g.addr,
        proto: cli.g.proto,
        read_buffer: cli.g.read_buffer,
        recv_buf: None,
        setup_timeout: Duration::from_secs(60),
    };
    let wanted = match &cli.cmd {
        Cmd::Fanout(t) | Cmd::Latency(t) | Cmd::Rooms(t) | Cmd::Slow(t) | Cmd::Churn(t) => {
            t.conns.unwrap_or(0)
                + if matches!(cli.cmd, Cmd::Churn(_)) {
                    t.churners
                } else {
                    0
                }
        }
        Cmd::Idle(i) => i.conns,
        Cmd::Storm(s) => s.conns,
        Cmd::Durable(d) => d.senders,
        Cmd::Soak(s) => s.rooms * (2 * s.readers + 4),
    };
    // one process holds at most the open-files limit minus headroom; run more processes for more
    if nofile > 0 && wanted as u64 + 200 > nofile {
        eprintln!(
            "confab-bench: {wanted} connections need more than this process's open-files limit ({nofile}) allows; \
             run several processes (at most ~{} connections each)",
            nofile.saturating_sub(200)
        );
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let (json, ok) = local.block_on(&rt, scenarios::run(cli.clone(), opts, nofile));
    let s = json.to_string();
    println!("{s}");
    if let Some(p) = &cli.g.json_out {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "{s}");
        }
    }
    if cli.g.strict && !ok {
        eprintln!("confab-bench: strict check failed");
        std::process::exit(1);
    }
}
