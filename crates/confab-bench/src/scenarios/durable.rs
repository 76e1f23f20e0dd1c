//! Durable writes (native protocol only): senders keep a window of unacknowledged sends; each ack
//! comes after the commit, so acks per second is the store's durable write rate.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::sleep;
use tokio_tungstenite::tungstenite::Message;

use super::shared::Shared;
use super::{run_tag, wait_setup};
use crate::conn::{json_str, Closed, ConnOpts, Proto};
use crate::stats::{lat, now_ns, span, CpuMark};
use crate::Cli;

/// Runs the durable-writes scenario and reports acknowledged sends per second and ack latency.
pub(super) async fn run(cli: &Cli, opts: ConnOpts, a: crate::Durable) -> (Value, bool) {
    let g = &cli.g;
    let pid = g.server_pid;
    if opts.proto != Proto::Native {
        return (
            json!({"error": "durable writes need the native protocol (acks after commit)"}),
            false,
        );
    }
    let tag = run_tag();
    let sh = Shared::new(opts, g.setup_concurrency);
    let measuring = Rc::new(Cell::new(false));
    let acked = Rc::new(Cell::new(0u64));
    for i in 0..a.senders {
        let sh = sh.clone();
        let measuring = measuring.clone();
        let acked = acked.clone();
        let window = a.window.max(1);
        let room = format!("d{tag}r{i}");
        tokio::task::spawn_local(async move {
            let name = format!("d{i}");
            let Some(mut c) = sh.open_joined(&name, &room).await else {
                return;
            };
            // wait for the go
            while sh.step.get() == 0 && !sh.stop.get() {
                sh.wake.notified().await;
            }
            let room_json = json_str(&room);
            let mut pending: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
            let mut n = 0u64;
            #[derive(serde::Deserialize)]
            struct A {
                #[serde(rename = "type")]
                ty: String,
                #[serde(default)]
                id: Option<u64>,
                #[serde(default)]
                duplicate: Option<bool>,
            }
            loop {
                if sh.stop.get() {
                    c.close().await;
                    return;
                }
                let mut fed = false;
                while pending.len() < window {
                    let id = c.next_id;
                    let text = format!("~d{i}.{n}~");
                    let cid = format!("d{i}.{n}");
                    let f = c.message_frame(&room_json, &text, &cid);
                    pending.insert(id, now_ns());
                    n += 1;
                    if futures_util::SinkExt::feed(&mut c.ws, Message::Text(f.into()))
                        .await
                        .is_err()
                    {
                        sh.dropped.set(sh.dropped.get() + 1);
                        return;
                    }
                    fed = true;
                }
                if fed && futures_util::SinkExt::flush(&mut c.ws).await.is_err() {
                    sh.dropped.set(sh.dropped.get() + 1);
                    return;
                }
                tokio::select! {
                    r = c.recv() => match r {
                        Ok(f) => {
                            if f.starts_with("{\"type\":\"event\"") {
                                continue;
                            }
                            let Ok(ans) = serde_json::from_str::<A>(&f) else { continue };
                            let Some(id) = ans.id else {
                                if ans.ty == "error" { Shared::inc(&sh.server_errors); sh.error(f.as_str()); }
                                continue;
                            };
                            if let Some(t) = pending.remove(&id) {
                                if ans.ty == "ack" {
                                    if measuring.get() {
                                        acked.set(acked.get() + 1);
                                        let _ = sh.hist.borrow_mut().record(((now_ns() - t) / 1000).max(1));
                                    }
                                    if ans.duplicate == Some(true) { Shared::inc(&sh.dups); }
                                } else {
                                    Shared::inc(&sh.server_errors);
                                    sh.error(f.as_str());
                                }
                            }
                        }
                        Err(e) => {
                            if let Some(cl) = e.downcast_ref::<Closed>() { sh.closed(cl); }
                            sh.error(format!("{name}: {e:#}"));
                            sh.dropped.set(sh.dropped.get() + 1);
                            return;
                        }
                    },
                    _ = sh.wake.notified() => {}
                }
            }
        });
    }
    let setup_ok = wait_setup(&sh, a.senders, Duration::from_secs(g.setup_secs)).await;
    if !setup_ok {
        sh.stop.set(true);
        sh.wake.notify_waiters();
        return (
            json!({"error": "setup failed", "first_error": sh.first_error.borrow().clone()}),
            false,
        );
    }
    sh.step.set(1);
    sh.wake.notify_waiters();
    sleep(Duration::from_secs_f64(a.warmup_secs)).await;
    sh.hist.borrow_mut().reset();
    let m0 = CpuMark::take(pid);
    measuring.set(true);
    sleep(Duration::from_secs_f64(a.secs)).await;
    measuring.set(false);
    let m1 = CpuMark::take(pid);
    let n = acked.get();
    sh.stop.set(true);
    sh.wake.notify_waiters();
    let cs = span(m0, m1);
    let l = lat(&sh.hist.borrow());
    let rate = n as f64 / cs.wall_s;
    let errors = sh.server_errors.get();
    eprintln!(
        "[{}] durable: {:.0} acked sends/s ({} senders × window {}), ack latency p50 {:.2}ms p99 {:.2}ms, errors {}, srv-cpu {:.2} gen-cpu {:.2}{}",
        g.label, rate, a.senders, a.window, l.p50_ms, l.p99_ms, errors,
        cs.server_util.unwrap_or(f64::NAN), cs.gen_util,
        if cs.gen_util >= g.gen_bound { " GENERATOR-BOUND" } else { "" }
    );
    sleep(Duration::from_millis(300)).await;
    let ok = n > 0 && errors == 0 && sh.dropped.get() == 0 && sh.dups.get() == 0;
    (
        json!({"params": {"senders": a.senders, "window": a.window, "secs": a.secs, "warmup_secs": a.warmup_secs},
               "acked": n, "acked_per_s": rate, "ack_latency": l, "errors": errors, "duplicates": sh.dups.get(),
               "dropped": sh.dropped.get(), "cpu": cs,
               "acks_per_server_cpu_s": cs.server_cpu_s.filter(|c| *c > 0.0).map(|c| n as f64 / c),
               "generator_bound": cs.gen_util >= g.gen_bound,
               "first_error": sh.first_error.borrow().clone(), "close_codes": *sh.close_codes.borrow()}),
        ok,
    )
}
