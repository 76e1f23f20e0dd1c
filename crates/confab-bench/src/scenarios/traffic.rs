//! The stepped traffic run that fan-out, latency, many rooms, slow reader and churn share: set up
//! the members, warm up, step through the delivery rates, and summarise the held step.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::time::sleep;

use super::ladder::{Ladder, Next};
use super::member::member;
use super::shared::Shared;
use super::step::step;
use super::{churn, fanout, latency, rooms, slow};
use super::{rss_sampler, run_tag, wait_quiet, wait_setup};
use crate::conn::ConnOpts;
use crate::stats::proc_rss_kib;
use crate::{Cli, Traffic};

/// Which traffic scenario is running: it decides the defaults and what happens around the steps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Fanout,
    Latency,
    Rooms,
    Slow,
    Churn,
}

/// A scenario's defaults, used where the command line leaves a knob out.
pub(super) struct Defaults {
    pub(super) conns: usize,
    pub(super) room_size: usize,
    pub(super) senders_per_room: usize,
    pub(super) rates: &'static [f64],
}

/// One member of a traffic run: which room it is in, whether it sends (and its place in the
/// sending schedule), whether its deliveries are counted, and whether it is the slow reader.
pub(super) struct MemberSpec {
    pub(super) idx: usize,
    /// Index of the server (in `--nodes`) this member connects to: round-robin by `idx`.
    pub(super) node: usize,
    pub(super) room: String,
    pub(super) room_idx: usize,
    pub(super) sender: Option<u32>,
    pub(super) phase: f64,
    pub(super) track: bool,
    pub(super) slow: bool,
}

/// Runs one stepped traffic scenario of `kind` and returns its JSON result and whether it passed.
pub(super) async fn traffic(cli: &Cli, opts: ConnOpts, t: Traffic, kind: Kind) -> (Value, bool) {
    let g = &cli.g;
    let pid = g.server_pid;
    let d = match kind {
        Kind::Fanout => fanout::DEFAULTS,
        Kind::Latency => latency::DEFAULTS,
        Kind::Rooms => rooms::DEFAULTS,
        Kind::Slow => slow::DEFAULTS,
        Kind::Churn => churn::DEFAULTS,
    };
    let conns = t.conns.unwrap_or(d.conns);
    let room_size = t.room_size.unwrap_or(d.room_size).min(conns).max(1);
    let senders_per_room = t
        .senders_per_room
        .unwrap_or(d.senders_per_room)
        .min(room_size)
        .max(1);
    let rates = t.rates.clone().unwrap_or_else(|| d.rates.to_vec());
    let step_secs = if kind == Kind::Latency && t.rates.is_none() {
        t.step_secs.max(10.0)
    } else {
        t.step_secs
    };
    let warmup = if kind == Kind::Slow {
        0.0
    } else {
        t.warmup_secs
    };
    let rooms = conns.div_ceil(room_size);
    let tag = run_tag();
    let sh = Shared::new(opts.clone(), g.setup_concurrency);
    let nodes = if g.nodes.is_empty() {
        vec![g.addr]
    } else {
        g.nodes.clone()
    };
    let n_nodes = nodes.len();
    *sh.node_unique.borrow_mut() = vec![0; n_nodes];
    *sh.nodes.borrow_mut() = nodes;
    *sh.room_sent.borrow_mut() = vec![0; rooms];
    *sh.pad.borrow_mut() = "x".repeat(t.pad);

    let mut tracked = vec![0u64; rooms];
    let mut room_senders = vec![0u64; rooms];
    let mut total_senders = 0u32;
    let mut specs = Vec::with_capacity(conns);
    for i in 0..conns {
        let r = i / room_size;
        let k = i % room_size;
        let slow = kind == Kind::Slow && i == conns - 1;
        let sender = if k < senders_per_room && !slow {
            total_senders += 1;
            room_senders[r] += 1;
            Some(total_senders - 1)
        } else {
            None
        };
        if !slow {
            tracked[r] += 1;
        }
        specs.push(MemberSpec {
            idx: i,
            node: i % n_nodes,
            room: format!("b{tag}r{r}"),
            room_idx: r,
            sender,
            phase: 0.0,
            track: !slow,
            slow,
        });
    }
    for s in specs.iter_mut() {
        if let Some(id) = s.sender {
            s.phase = id as f64 / total_senders as f64; // fraction of one period, spread evenly
        }
    }
    sh.total_senders.set(total_senders);
    // deliveries per message, averaged over senders (each message reaches its room's tracked members)
    let dpm: f64 = (0..rooms)
        .map(|r| (room_senders[r] * tracked[r]) as f64)
        .sum::<f64>()
        / total_senders.max(1) as f64;

    let t_setup = Instant::now();
    for s in specs {
        tokio::task::spawn_local(member(sh.clone(), s));
    }
    let setup_ok = wait_setup(&sh, conns, Duration::from_secs(g.setup_secs)).await;
    let setup_s = t_setup.elapsed().as_secs_f64();
    let quiet_s = wait_quiet(
        &sh,
        Duration::from_millis(1000),
        Duration::from_secs(g.setup_secs.min(120)),
    )
    .await
    .as_secs_f64();
    eprintln!(
        "[{}] {:?} {} conns in {} rooms: set up in {:.1}s (+{:.1}s until quiet), {} failed",
        g.label,
        kind,
        sh.joined.get(),
        rooms,
        setup_s,
        quiet_s,
        sh.failed.get()
    );
    let mut out = json!({
        "params": {"conns": conns, "room_size": room_size, "senders_per_room": senders_per_room, "rooms": rooms,
                    "rates": rates, "step_secs": step_secs, "warmup_secs": warmup, "pad": t.pad,
                    "p99_bound_ms": t.p99_ms, "deliveries_per_message": dpm},
        "setup": {"secs": setup_s, "quiet_secs": quiet_s, "joined": sh.joined.get(), "failed": sh.failed.get(),
                  "first_error": sh.first_error.borrow().clone()},
    });
    if !setup_ok {
        sh.stop.set(true);
        sh.wake.notify_waiters();
        eprintln!("[{}] setup failed: {:?}", g.label, sh.first_error.borrow());
        out["error"] = json!("setup failed");
        return (out, false);
    }
    let churn = kind == Kind::Churn;
    let rss_setup = pid.and_then(proc_rss_kib);

    // warm-up (unrecorded)
    if warmup > 0.0 {
        let _ = step(
            &sh,
            g,
            &t,
            rates[0],
            warmup,
            dpm,
            &tracked,
            churn.then_some(room_of(&tag, 0)),
        )
        .await;
    }
    let mut rss_base = pid.and_then(proc_rss_kib);
    if churn {
        sleep(Duration::from_secs_f64(t.settle_secs)).await;
        rss_base = pid.and_then(proc_rss_kib);
    }
    let mut steps: Vec<Value> = Vec::new();
    // only the stepped scenarios retry: the others measure one step whose first try is the figure
    // (the slow reader's pause, the churn's memory), and a second try would change what they measure
    let retries = if matches!(kind, Kind::Fanout | Kind::Rooms) {
        t.retries
    } else {
        0
    };
    let mut ladder = Ladder::new(retries, (!t.no_stop_on_fail).then_some(t.stop_after_fails));
    let mut all_clean = true;
    let mut any_delivered = false;
    let sampling_done = Rc::new(Cell::new(false));
    sh.rss_max.set(rss_base.unwrap_or(0));
    rss_sampler(sh.clone(), pid, sampling_done.clone());
    let mut i = 0;
    while let Some(&rate) = rates.get(i) {
        let mut s = step(
            &sh,
            g,
            &t,
            rate,
            step_secs,
            dpm,
            &tracked,
            churn.then_some(room_of(&tag, 0)),
        )
        .await;
        let pass = s["held"].as_bool().unwrap_or(false);
        all_clean &= s["clean"].as_bool().unwrap_or(false);
        any_delivered |= s["unique"].as_u64().unwrap_or(0) > 0;
        eprintln!("[{}] {}", g.label, human_step(&s));
        let next = ladder.record(rate, pass);
        s["retried"] = json!(next == Next::Retry);
        steps.push(s);
        match next {
            Next::Retry => {}
            Next::Advance => i += 1,
            Next::Stop => break,
        }
    }
    let held = ladder.highest_held().map(|o| steps[o.step].clone());
    // after the measured steps
    let mut extra = json!({});
    if kind == Kind::Slow {
        sh.slow_resume.notify_one();
        let t0 = Instant::now();
        while sh.slow_report.borrow().is_none() && t0.elapsed() < Duration::from_secs(90) {
            sleep(Duration::from_millis(50)).await;
        }
        extra["slow_reader"] = sh
            .slow_report
            .borrow()
            .clone()
            .unwrap_or(json!({"error": "no report"}));
    }
    if churn || kind == Kind::Slow {
        sleep(Duration::from_secs_f64(t.settle_secs)).await;
    }
    sampling_done.set(true);
    let rss_end = pid.and_then(proc_rss_kib);
    extra["memory_kib"] = json!({"after_setup": rss_setup, "baseline": rss_base, "peak": sh.rss_max.get(), "end": rss_end,
        "end_minus_baseline": rss_end.zip(rss_base).map(|(e, b)| e as i64 - b as i64),
        "peak_minus_baseline": rss_base.map(|b| sh.rss_max.get() as i64 - b as i64)});
    if churn {
        extra["churn"] = json!({"cycles": sh.churn_cycles.get(), "failed": sh.churn_failed.get()});
    }
    sh.stop.set(true);
    sh.wake.notify_waiters();
    sleep(Duration::from_millis(300)).await;

    let held_dps = held
        .as_ref()
        .map(|h| h["achieved_dps"].clone())
        .unwrap_or(json!(0));
    out["steps"] = json!(steps);
    out["held"] = held.clone().unwrap_or(Value::Null);
    out["held_dps"] = held_dps.clone();
    out["held_offered_dps"] = held
        .as_ref()
        .map(|h| h["offered_dps"].clone())
        .unwrap_or(json!(0));
    let first_unheld = ladder.first_unheld();
    out["first_unheld_offered_dps"] = json!(first_unheld.map(|o| o.rate));
    out["first_unheld"] = first_unheld
        .map(|o| steps[o.step].clone())
        .unwrap_or(Value::Null);
    out["held_below_first_unheld_dps"] = ladder
        .held_below_first_unheld()
        .map(|o| steps[o.step]["achieved_dps"].clone())
        .unwrap_or(json!(0));
    out["rates_tried"] = json!(ladder
        .outcomes()
        .iter()
        .map(|o| json!({"offered_dps": o.rate, "held": o.held}))
        .collect::<Vec<_>>());
    out["close_codes"] = json!(*sh.close_codes.borrow());
    for (k, v) in extra.as_object().unwrap() {
        out[k] = v.clone();
    }
    let mut ok = all_clean && any_delivered;
    if kind == Kind::Slow {
        // the others must hold; on the native protocol the slow one must be cut with 4000 and resume gaplessly
        ok = steps
            .first()
            .map(|s| s["clean"].as_bool() == Some(true))
            .unwrap_or(false);
    }
    let summary = match kind {
        Kind::Fanout | Kind::Rooms => {
            format!(
                "held {:.0} deliveries/s; first rate not held {}; every rate held up to {:.0}/s",
                held_dps.as_f64().unwrap_or(0.0),
                out["first_unheld_offered_dps"],
                out["held_below_first_unheld_dps"].as_f64().unwrap_or(0.0)
            )
        }
        Kind::Latency => steps.first().map(human_step).unwrap_or_default(),
        Kind::Slow => format!("slow reader: {}", out["slow_reader"]),
        Kind::Churn => format!("churn: memory {}", out["memory_kib"]),
    };
    eprintln!("[{}] {:?}: {}", g.label, kind, summary);
    (out, ok)
}

/// The name of room `r` of the run tagged `tag`.
pub(super) fn room_of(tag: &str, r: usize) -> String {
    format!("b{tag}r{r}")
}

/// One step on one line, for stderr.
pub(super) fn human_step(s: &Value) -> String {
    format!(
        "offered {:>9.0}/s achieved {:>9.0}/s p50 {:.2}ms p99 {:.2}ms p99.9 {:.2}ms lost {} dup {} reord {} drop {} srv-cpu {:.2} gen-cpu {:.2} {:.0} deliv/srv-cpu-s{}{}",
        s["offered_dps"].as_f64().unwrap_or(0.0),
        s["achieved_dps"].as_f64().unwrap_or(0.0),
        s["latency"]["p50_ms"].as_f64().unwrap_or(0.0),
        s["latency"]["p99_ms"].as_f64().unwrap_or(0.0),
        s["latency"]["p999_ms"].as_f64().unwrap_or(0.0),
        s["lost"],
        s["dups"],
        s["reorders"],
        s["dropped"],
        s["server_util"].as_f64().unwrap_or(f64::NAN),
        s["gen_util"].as_f64().unwrap_or(0.0),
        s["deliveries_per_server_cpu_s"].as_f64().unwrap_or(0.0),
        if s["generator_bound"].as_bool() == Some(true) { " GENERATOR-BOUND" } else { "" },
        if s["held"].as_bool() == Some(true) { " held" } else { " NOT held" },
    ) + &match (s["loadavg_1m"].as_f64(), s["cpu_pressure_avg10"].as_f64()) {
        (Some(l), Some(p)) => format!(" (load {l:.1}, cpu pressure {p:.0}%)"),
        (Some(l), None) => format!(" (load {l:.1})"),
        _ => String::new(),
    }
}
