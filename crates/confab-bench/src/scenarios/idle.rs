//! Idle connections: open as many as asked, each joined to a room, and report server memory per
//! connection (RSS delta / connections).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::time::sleep;

use super::shared::Shared;
use super::{run_tag, wait_quiet, wait_setup};
use crate::conn::{Closed, ConnOpts};
use crate::stats::{proc_rss_kib, span, CpuMark};
use crate::Cli;

/// Opens and holds the idle connections, then reads the server's memory per connection.
pub(super) async fn run(cli: &Cli, opts: ConnOpts, a: crate::Idle) -> (Value, bool) {
    let g = &cli.g;
    let pid = g.server_pid;
    let tag = run_tag();
    let opts = ConnOpts {
        read_buffer: g.read_buffer.min(4096),
        ..opts
    };
    let sh = Shared::new(opts, g.setup_concurrency);
    sleep(Duration::from_millis(500)).await;
    let rss0 = pid.and_then(proc_rss_kib);
    let m0 = CpuMark::take(pid);
    let t0 = Instant::now();
    for i in 0..a.conns {
        let sh = sh.clone();
        let room = format!("i{tag}r{}", i / a.room_size.max(1));
        tokio::task::spawn_local(async move {
            let name = format!("i{i}");
            let Some(mut c) = sh.open_joined(&name, &room).await else {
                return;
            };
            loop {
                tokio::select! {
                    r = c.recv() => match r {
                        Ok(_) => Shared::inc(&sh.frames),
                        Err(e) => {
                            if let Some(cl) = e.downcast_ref::<Closed>() { sh.closed(cl); }
                            sh.dropped.set(sh.dropped.get() + 1);
                            return;
                        }
                    },
                    _ = sh.wake.notified() => {
                        if sh.stop.get() { drop(c); return; }
                    }
                }
            }
        });
    }
    let setup_ok = wait_setup(&sh, a.conns, Duration::from_secs(g.setup_secs)).await;
    let setup_s = t0.elapsed().as_secs_f64();
    let m1 = CpuMark::take(pid);
    wait_quiet(&sh, Duration::from_millis(1000), Duration::from_secs(60)).await;
    sleep(Duration::from_secs_f64(a.settle_secs)).await;
    let rss1 = pid.and_then(proc_rss_kib);
    let joined = sh.joined.get();
    let per_conn = rss0
        .zip(rss1)
        .map(|(a0, a1)| (a1 as f64 - a0 as f64) / joined.max(1) as f64);
    let cs = span(m0, m1);
    sh.stop.set(true);
    sh.wake.notify_waiters();
    sleep(Duration::from_millis(500)).await;
    let ok = setup_ok && sh.dropped.get() == 0;
    eprintln!(
        "[{}] idle: {} connections ({} failed) in {:.1}s; server RSS {:?} -> {:?} KiB: {:.1} KiB per connection",
        g.label, joined, sh.failed.get(), setup_s, rss0, rss1, per_conn.unwrap_or(f64::NAN)
    );
    (
        json!({"params": {"conns": a.conns, "room_size": a.room_size, "settle_secs": a.settle_secs},
               "connected": joined, "failed": sh.failed.get(), "dropped": sh.dropped.get(), "setup_secs": setup_s,
               "connect_rate": joined as f64 / setup_s, "rss_before_kib": rss0, "rss_after_kib": rss1,
               "kib_per_conn": per_conn, "setup_cpu": cs, "first_error": sh.first_error.borrow().clone(),
               "close_codes": *sh.close_codes.borrow()}),
        ok,
    )
}
