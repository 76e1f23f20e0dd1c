//! One measured step at a fixed delivery rate: pace the senders, wait for the drain, then count
//! loss, duplicates, reordering, latency and CPU for that step alone.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::time::sleep;

use super::churn::churner;
use super::shared::Shared;
use crate::stats::{self, lat, proc_cpu, span, CpuMark};
use crate::Traffic;

/// Runs one step at `rate_dps` for `secs`, drains, and returns its figures (held or not).
#[allow(clippy::too_many_arguments)]
pub(super) async fn step(
    sh: &Rc<Shared>,
    g: &crate::Global,
    t: &Traffic,
    rate_dps: f64,
    secs: f64,
    dpm: f64,
    tracked: &[u64],
    churn_room: Option<String>,
) -> Value {
    let pid = g.server_pid;
    let msgs_per_s = rate_dps / dpm.max(1.0);
    let per_sender = msgs_per_s / sh.total_senders.get().max(1) as f64;
    sh.unique.set(0);
    sh.node_unique.borrow_mut().iter_mut().for_each(|x| *x = 0);
    sh.dups.set(0);
    sh.reorders.set(0);
    sh.late.set(0);
    sh.server_errors.set(0);
    sh.room_sent.borrow_mut().iter_mut().for_each(|x| *x = 0);
    sh.hist.borrow_mut().reset();
    let dropped0 = sh.dropped.get();
    let m0 = CpuMark::take(pid);
    let node_cpu0: Vec<Option<f64>> = g.node_pids.iter().map(|p| proc_cpu(*p)).collect();
    sh.step.set(sh.step.get() + 1);
    sh.step_start.set(Instant::now());
    sh.step_secs.set(secs);
    sh.rate.set(per_sender);
    sh.senders_pending.set(sh.total_senders.get());
    sh.wake.notify_waiters();
    let churn_done = Rc::new(Cell::new(false));
    if let Some(room) = churn_room {
        for c in 0..t.churners {
            tokio::task::spawn_local(churner(
                sh.clone(),
                room.clone(),
                c,
                t.stay_ms,
                secs,
                churn_done.clone(),
            ));
        }
    }
    sleep(Duration::from_secs_f64(secs)).await;
    // senders that lag (generator saturated) finish their quota late; the send window ends when they are done
    let t_lag = Instant::now();
    while sh.senders_pending.get() > 0 && t_lag.elapsed() < Duration::from_secs_f64(secs.max(5.0)) {
        sleep(Duration::from_millis(5)).await;
    }
    let send_lag_s = t_lag.elapsed().as_secs_f64();
    let m1 = CpuMark::take(pid);
    // drain
    let expected = || -> u64 {
        sh.room_sent
            .borrow()
            .iter()
            .zip(tracked)
            .map(|(s, t)| s * t)
            .sum()
    };
    let t_drain = Instant::now();
    let mut last = sh.unique.get();
    let mut last_change = Instant::now();
    while sh.unique.get() < expected() && t_drain.elapsed() < Duration::from_secs_f64(t.drain_secs)
    {
        sleep(Duration::from_millis(10)).await;
        if sh.unique.get() != last {
            last = sh.unique.get();
            last_change = Instant::now();
        } else if last_change.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let drain_s = t_drain.elapsed().as_secs_f64();
    churn_done.set(true);
    let m2 = CpuMark::take(pid);
    let node_cpu2: Vec<Option<f64>> = g.node_pids.iter().map(|p| proc_cpu(*p)).collect();
    let send_span = span(m0, m1);
    let all_span = span(m0, m2);
    let exp = expected();
    let unique = sh.unique.get();
    let sent: u64 = sh.room_sent.borrow().iter().sum();
    let l = lat(&sh.hist.borrow());
    let lost = exp.saturating_sub(unique);
    let dropped = sh.dropped.get() - dropped0;
    let clean = lost == 0
        && sh.dups.get() == 0
        && sh.reorders.get() == 0
        && dropped == 0
        && unique > 0
        && sh.server_errors.get() == 0;
    let gen_bound = send_span.gen_util >= g.gen_bound;
    let held = clean && l.p99_ms < t.p99_ms;
    let nodes = per_node(sh, &node_cpu0, &node_cpu2, send_span.wall_s);
    json!({
        "nodes": nodes,
        "loadavg_1m": stats::loadavg_1m(), "cpu_pressure_avg10": stats::cpu_pressure_avg10(),
        "offered_dps": rate_dps, "msgs_per_s": msgs_per_s, "secs": secs,
        "sent_msgs": sent, "expected": exp, "unique": unique, "lost": lost, "dups": sh.dups.get(),
        "reorders": sh.reorders.get(), "late": sh.late.get(), "dropped": dropped, "server_errors": sh.server_errors.get(),
        "first_error": sh.first_error.borrow().clone(),
        "achieved_dps": unique as f64 / send_span.wall_s,
        "send_lag_s": send_lag_s, "drain_s": drain_s,
        "latency": l,
        "server_cpu_s": all_span.server_cpu_s, "server_util": send_span.server_util,
        "deliveries_per_server_cpu_s": all_span.server_cpu_s.filter(|c| *c > 0.0).map(|c| unique as f64 / c),
        "gen_cpu_s": all_span.gen_cpu_s, "gen_util": send_span.gen_util,
        "generator_bound": gen_bound,
        "clean": clean, "held": held,
    })
}

/// Per-node figures of a multi-node step: deliveries received through each node (and per second
/// of the sending window), that node's CPU over the step and its drain, and the whole cluster's
/// deliveries per CPU-second (which, set beside one node's, is the cost of the hop between nodes).
/// `null` on a single server.
fn per_node(sh: &Shared, cpu0: &[Option<f64>], cpu2: &[Option<f64>], wall_s: f64) -> Value {
    let nodes = sh.nodes.borrow();
    if nodes.len() < 2 {
        return Value::Null;
    }
    let unique = sh.node_unique.borrow();
    let cpu: Vec<Option<f64>> = (0..nodes.len())
        .map(|i| {
            match (
                cpu0.get(i).copied().flatten(),
                cpu2.get(i).copied().flatten(),
            ) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            }
        })
        .collect();
    let total_cpu: Option<f64> = cpu.iter().copied().sum();
    let total: u64 = unique.iter().sum();
    json!({
        "per_node": nodes.iter().enumerate().map(|(i, a)| json!({
            "addr": a.to_string(), "unique": unique[i], "achieved_dps": unique[i] as f64 / wall_s,
            "server_cpu_s": cpu[i],
        })).collect::<Vec<_>>(),
        "cluster_server_cpu_s": total_cpu,
        "deliveries_per_cluster_cpu_s": total_cpu.filter(|c| *c > 0.0).map(|c| total as f64 / c),
    })
}
