//! Connection storm: many new connections at once; connections per second and the time from TCP
//! connect to the join being confirmed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::time::sleep;

use super::shared::Shared;
use super::{run_tag, wait_setup};
use crate::conn::{Conn, ConnOpts};
use crate::stats::{lat, now_ns, span, CpuMark};
use crate::Cli;

/// Opens the storm's connections, `concurrency` at a time, and holds them until all are done.
pub(super) async fn run(cli: &Cli, opts: ConnOpts, a: crate::Storm) -> (Value, bool) {
    let g = &cli.g;
    let pid = g.server_pid;
    let tag = run_tag();
    let opts = ConnOpts {
        read_buffer: g.read_buffer.min(4096),
        ..opts
    };
    let sh = Shared::new(opts, a.concurrency);
    let held: Rc<RefCell<Vec<Conn>>> = Rc::new(RefCell::new(Vec::with_capacity(a.conns)));
    let m0 = CpuMark::take(pid);
    let t0 = Instant::now();
    let last_done = Rc::new(Cell::new(t0));
    for i in 0..a.conns {
        let sh = sh.clone();
        let held = held.clone();
        let last_done = last_done.clone();
        let room = format!("s{tag}r{}", i / a.room_size.max(1));
        tokio::task::spawn_local(async move {
            let name = format!("s{i}");
            let _p = sh.setup_sem.acquire().await.unwrap();
            let ts = now_ns();
            let r = async {
                let mut c = Conn::open(&sh.opts, &name, None).await?;
                c.join(&room, None).await?;
                anyhow::Ok(c)
            }
            .await;
            match r {
                Ok(c) => {
                    let us = ((now_ns() - ts) / 1000).max(1);
                    let _ = sh.hist.borrow_mut().record(us);
                    last_done.set(Instant::now());
                    held.borrow_mut().push(c);
                    sh.joined.set(sh.joined.get() + 1);
                }
                Err(e) => {
                    sh.error(format!("{name}: {e:#}"));
                    sh.failed.set(sh.failed.get() + 1);
                }
            }
        });
    }
    let ok = wait_setup(&sh, a.conns, Duration::from_secs(g.setup_secs)).await;
    let wall = (last_done.get() - t0).as_secs_f64().max(1e-9);
    let m1 = CpuMark::take(pid);
    let cs = span(m0, m1);
    let l = lat(&sh.hist.borrow());
    let joined = sh.joined.get();
    let rate = joined as f64 / wall;
    eprintln!(
        "[{}] storm: {} connections ({} failed) in {:.2}s = {:.0}/s; handshake to first event p50 {:.1}ms p99 {:.1}ms; srv-cpu {:.2} gen-cpu {:.2}{}",
        g.label, joined, sh.failed.get(), wall, rate, l.p50_ms, l.p99_ms,
        cs.server_util.unwrap_or(f64::NAN), cs.gen_util,
        if cs.gen_util >= g.gen_bound { " GENERATOR-BOUND" } else { "" }
    );
    let conns: Vec<Conn> = held.borrow_mut().drain(..).collect();
    drop(conns);
    sleep(Duration::from_millis(500)).await;
    (
        json!({"params": {"conns": a.conns, "concurrency": a.concurrency, "room_size": a.room_size},
               "connected": joined, "failed": sh.failed.get(), "secs": wall, "conns_per_s": rate,
               "first_event_latency": l, "cpu": cs,
               "conns_per_server_cpu_s": cs.server_cpu_s.filter(|c| *c > 0.0).map(|c| joined as f64 / c),
               "generator_bound": cs.gen_util >= g.gen_bound,
               "first_error": sh.first_error.borrow().clone()}),
        ok,
    )
}
