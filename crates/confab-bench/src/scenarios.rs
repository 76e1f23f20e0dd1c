//! The scenarios of issue 4. Everything runs on one current-thread runtime (a LocalSet), so the
//! shared state is plain `Cell`/`RefCell` behind an `Rc`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};
use tokio::time::{sleep, sleep_until};
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{find_seq, json_str, trunc, Closed, Conn, ConnOpts, Proto};
use crate::stats::{
    self, lat, new_hist, now_ns, parse_tag, proc_rss_kib, span, CpuMark, Receiver, Seen,
};
use crate::{Cli, Cmd, Traffic};

struct Shared {
    opts: ConnOpts,
    // current step (tag field), its schedule and the per-sender message rate
    step: Cell<u32>,
    step_start: Cell<Instant>,
    step_secs: Cell<f64>,
    rate: Cell<f64>,
    total_senders: Cell<u32>,
    senders_pending: Cell<u32>,
    wake: Notify,
    stop: Cell<bool>,
    // counters
    frames: Cell<u64>,
    unique: Cell<u64>,
    dups: Cell<u64>,
    reorders: Cell<u64>,
    late: Cell<u64>,
    room_sent: RefCell<Vec<u64>>,
    server_errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    hist: RefCell<Histogram<u64>>,
    joined: Cell<usize>,
    failed: Cell<usize>,
    dropped: Cell<usize>,
    close_codes: RefCell<BTreeMap<String, u64>>,
    setup_sem: Semaphore,
    // slow reader
    slow_resume: Notify,
    slow_report: RefCell<Option<Value>>,
    // churn
    churn_cycles: Cell<u64>,
    churn_failed: Cell<u64>,
    // rss sampling
    rss_max: Cell<u64>,
    pad: RefCell<String>,
}

impl Shared {
    /// Opens a connection and joins `room` (within the setup concurrency), counting it as joined or
    /// failed; `None` when it failed.
    async fn open_joined(&self, name: &str, room: &str) -> Option<Conn> {
        let setup = async {
            let _p = self.setup_sem.acquire().await.unwrap();
            let mut c = Conn::open(&self.opts, name, None).await?;
            c.join(room, None).await?;
            anyhow::Ok(c)
        };
        match setup.await {
            Ok(c) => {
                self.joined.set(self.joined.get() + 1);
                Some(c)
            }
            Err(e) => {
                self.error(format!("{name}: {e:#}"));
                self.failed.set(self.failed.get() + 1);
                None
            }
        }
    }

    fn new(opts: ConnOpts, setup_concurrency: usize) -> Rc<Shared> {
        Rc::new(Shared {
            opts,
            step: Cell::new(0),
            step_start: Cell::new(Instant::now()),
            step_secs: Cell::new(0.0),
            rate: Cell::new(0.0),
            total_senders: Cell::new(0),
            senders_pending: Cell::new(0),
            wake: Notify::new(),
            stop: Cell::new(false),
            frames: Cell::new(0),
            unique: Cell::new(0),
            dups: Cell::new(0),
            reorders: Cell::new(0),
            late: Cell::new(0),
            room_sent: RefCell::new(Vec::new()),
            server_errors: Cell::new(0),
            first_error: RefCell::new(None),
            hist: RefCell::new(new_hist()),
            joined: Cell::new(0),
            failed: Cell::new(0),
            dropped: Cell::new(0),
            close_codes: RefCell::new(BTreeMap::new()),
            setup_sem: Semaphore::new(setup_concurrency.max(1)),
            slow_resume: Notify::new(),
            slow_report: RefCell::new(None),
            churn_cycles: Cell::new(0),
            churn_failed: Cell::new(0),
            rss_max: Cell::new(0),
            pad: RefCell::new(String::new()),
        })
    }
    fn error(&self, e: impl std::fmt::Display) {
        let mut f = self.first_error.borrow_mut();
        if f.is_none() {
            *f = Some(trunc(&e.to_string()));
        }
    }
    fn closed(&self, c: &Closed) {
        let k = format!(
            "{}:{}",
            c.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none".into()),
            c.reason
        );
        *self.close_codes.borrow_mut().entry(k).or_default() += 1;
    }
    fn inc(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }
}

fn run_tag() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 100_000_000;
    format!("{}x{}", std::process::id() % 100_000, t)
}

pub async fn run(cli: Cli, opts: ConnOpts, nofile: u64) -> (Value, bool) {
    let g = cli.g.clone();
    let (scenario, mut out, ok) = match cli.cmd.clone() {
        Cmd::Fanout(t) => {
            let (o, ok) = traffic(&cli, opts, t, Kind::Fanout).await;
            ("fanout", o, ok)
        }
        Cmd::Latency(t) => {
            let (o, ok) = traffic(&cli, opts, t, Kind::Latency).await;
            ("latency", o, ok)
        }
        Cmd::Rooms(t) => {
            let (o, ok) = traffic(&cli, opts, t, Kind::Rooms).await;
            ("rooms", o, ok)
        }
        Cmd::Slow(t) => {
            let (o, ok) = traffic(&cli, opts, t, Kind::Slow).await;
            ("slow", o, ok)
        }
        Cmd::Churn(t) => {
            let (o, ok) = traffic(&cli, opts, t, Kind::Churn).await;
            ("churn", o, ok)
        }
        Cmd::Idle(i) => {
            let (o, ok) = idle(&cli, opts, i).await;
            ("idle", o, ok)
        }
        Cmd::Storm(s) => {
            let (o, ok) = storm(&cli, opts, s).await;
            ("storm", o, ok)
        }
        Cmd::Durable(d) => {
            let (o, ok) = durable(&cli, opts, d).await;
            ("durable", o, ok)
        }
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Fanout,
    Latency,
    Rooms,
    Slow,
    Churn,
}

struct MemberSpec {
    idx: usize,
    room: String,
    room_idx: usize,
    sender: Option<u32>,
    phase: f64,
    track: bool,
    slow: bool,
}

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

async fn traffic(cli: &Cli, opts: ConnOpts, t: Traffic, kind: Kind) -> (Value, bool) {
    let g = &cli.g;
    let pid = g.server_pid;
    let (d_conns, d_room, d_senders, d_rates): (usize, usize, usize, Vec<f64>) = match kind {
        Kind::Fanout => (
            1000,
            1000,
            1,
            vec![
                10e3, 20e3, 50e3, 100e3, 150e3, 200e3, 300e3, 500e3, 700e3, 1e6, 1.4e6, 2e6, 3e6,
            ],
        ),
        Kind::Latency => (1000, 1000, 1, vec![50e3]),
        Kind::Rooms => (10000, 10, 10, vec![10e3, 20e3, 50e3, 100e3, 200e3, 400e3]),
        Kind::Slow => (100, 100, 1, vec![50e3]),
        Kind::Churn => (500, 500, 1, vec![50e3]),
    };
    let conns = t.conns.unwrap_or(d_conns);
    let room_size = t.room_size.unwrap_or(d_room).min(conns).max(1);
    let senders_per_room = t
        .senders_per_room
        .unwrap_or(d_senders)
        .min(room_size)
        .max(1);
    let rates = t.rates.clone().unwrap_or(d_rates);
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
    let mut steps = Vec::new();
    let mut held: Option<Value> = None;
    let mut fails_in_row = 0usize;
    let mut all_clean = true;
    let mut any_delivered = false;
    let sampling_done = Rc::new(Cell::new(false));
    sh.rss_max.set(rss_base.unwrap_or(0));
    rss_sampler(sh.clone(), pid, sampling_done.clone());
    for &rate in &rates {
        let s = step(
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
        if pass {
            held = Some(s.clone());
            fails_in_row = 0;
        } else {
            fails_in_row += 1;
        }
        steps.push(s);
        // one step that was not held may be a stall of the shared machine: stop after two in a row
        if fails_in_row >= t.stop_after_fails.max(1) && !t.no_stop_on_fail {
            break;
        }
    }
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
            format!("held {:.0} deliveries/s", held_dps.as_f64().unwrap_or(0.0))
        }
        Kind::Latency => steps.first().map(human_step).unwrap_or_default(),
        Kind::Slow => format!("slow reader: {}", out["slow_reader"]),
        Kind::Churn => format!("churn: memory {}", out["memory_kib"]),
    };
    eprintln!("[{}] {:?}: {}", g.label, kind, summary);
    (out, ok)
}

fn room_of(tag: &str, r: usize) -> String {
    format!("b{tag}r{r}")
}

fn human_step(s: &Value) -> String {
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
    )
}

#[allow(clippy::too_many_arguments)]
async fn step(
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
    sh.dups.set(0);
    sh.reorders.set(0);
    sh.late.set(0);
    sh.server_errors.set(0);
    sh.room_sent.borrow_mut().iter_mut().for_each(|x| *x = 0);
    sh.hist.borrow_mut().reset();
    let dropped0 = sh.dropped.get();
    let m0 = CpuMark::take(pid);
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
    json!({
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

async fn member(sh: Rc<Shared>, m: MemberSpec) {
    let name = format!("u{}", m.idx);
    let setup = async {
        let _permit = sh.setup_sem.acquire().await.unwrap();
        let mut o = sh.opts.clone();
        if m.slow {
            // a small receive buffer, so the server's queue (not the kernel) holds what the slow reader misses
            o.recv_buf = Some(4096);
        }
        let mut c = Conn::open(&o, &name, None).await?;
        c.join(&m.room, None).await?;
        anyhow::Ok(c)
    };
    let mut c = match setup.await {
        Ok(c) => c,
        Err(e) => {
            sh.error(format!("setup of {name}: {e:#}"));
            sh.failed.set(sh.failed.get() + 1);
            return;
        }
    };
    sh.joined.set(sh.joined.get() + 1);
    if m.slow {
        return slow_member(sh, c, m).await;
    }
    let room_json = json_str(&m.room);
    let far = Instant::now() + Duration::from_secs(86400 * 365);
    let mut rx = Receiver::default();
    let mut my_step = sh.step.get();
    let mut sent = 0u64;
    let mut quota = 0u64;
    let mut next_due: Option<Instant> = None;
    let native = c.proto == Proto::Native;
    loop {
        if sh.stop.get() {
            c.close().await;
            return;
        }
        if let Some(_sid) = m.sender {
            let st = sh.step.get();
            if st != my_step {
                my_step = st;
                sent = 0;
                let r = sh.rate.get();
                let secs = sh.step_secs.get();
                quota = ((secs * r - m.phase).max(0.0)).ceil() as u64;
                next_due = if quota > 0 && r > 0.0 {
                    Some(sh.step_start.get() + Duration::from_secs_f64(m.phase / r))
                } else {
                    sh.senders_pending.set(sh.senders_pending.get() - 1);
                    None
                };
            }
        }
        // receivers wait on the socket alone (no per-frame timer/notify bookkeeping);
        // senders also wait on their schedule and on step changes
        let r = if m.sender.is_none() {
            Some(c.ws.next().await)
        } else {
            tokio::select! {
                biased;
                r = c.ws.next() => Some(r),
                _ = sleep_until(next_due.unwrap_or(far).into()), if next_due.is_some() => None,
                _ = sh.wake.notified() => { continue; }
            }
        };
        match r {
            Some(r) => match r {
                Some(Ok(Message::Text(f))) => {
                    let b = f.as_bytes();
                    if native || b != b"2" {
                        // Engine.IO pings do not count: the quiet wait looks for the end of setup traffic
                        Shared::inc(&sh.frames);
                    }
                    if let Some(tg) = parse_tag(b) {
                        if !m.track {
                            continue;
                        }
                        if tg.step != sh.step.get() {
                            Shared::inc(&sh.late);
                            continue;
                        }
                        match rx.see(tg.step, tg.sender, tg.n) {
                            Seen::New { reordered } => {
                                Shared::inc(&sh.unique);
                                if reordered {
                                    Shared::inc(&sh.reorders);
                                }
                                let us = (now_ns().saturating_sub(tg.t) / 1000).max(1);
                                let _ = sh.hist.borrow_mut().record(us);
                                if us > 100_000 && trace() {
                                    eprintln!("slow delivery: step {} sender {} n {} to member {} after {} ms (at {:.3}s into the step)",
                                        tg.step, tg.sender, tg.n, m.idx, us / 1000, sh.step_start.get().elapsed().as_secs_f64());
                                }
                            }
                            Seen::Dup => Shared::inc(&sh.dups),
                        }
                    } else if !native && b == b"2" {
                        if c.send_text("3".into()).await.is_err() {
                            sh.dropped.set(sh.dropped.get() + 1);
                            return;
                        }
                    } else if native
                        && memchr::memmem::find(b, b"\"error\"").is_some()
                        && b.starts_with(b"{\"type\":\"error\"")
                    {
                        Shared::inc(&sh.server_errors);
                        sh.error(format!("server error: {}", f.as_str()));
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    let cl = match f {
                        Some(f) => Closed {
                            code: Some(u16::from(f.code)),
                            reason: f.reason.to_string(),
                        },
                        None => Closed {
                            code: None,
                            reason: String::new(),
                        },
                    };
                    sh.closed(&cl);
                    sh.dropped.set(sh.dropped.get() + 1);
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    sh.error(format!("{name}: {e}"));
                    sh.closed(&Closed {
                        code: None,
                        reason: "error".into(),
                    });
                    sh.dropped.set(sh.dropped.get() + 1);
                    return;
                }
                None => {
                    sh.closed(&Closed {
                        code: None,
                        reason: "eof".into(),
                    });
                    sh.dropped.set(sh.dropped.get() + 1);
                    return;
                }
            },
            None => {
                let sid = m.sender.unwrap();
                let r = sh.rate.get();
                let start = sh.step_start.get();
                let el = start.elapsed().as_secs_f64() * r - m.phase;
                let due = ((el.floor() as i64 + 1).max(0) as u64).min(quota);
                let step_no = my_step;
                let mut n_sent = 0;
                while sent < due {
                    let text = format!("{}{}", stats::tag(step_no, sid, sent), sh.pad.borrow());
                    let cid = format!("m{sid}.{step_no}.{sent}");
                    let frame = c.message_frame(&room_json, &text, &cid);
                    if futures_util::SinkExt::feed(&mut c.ws, Message::Text(frame.into()))
                        .await
                        .is_err()
                    {
                        sh.dropped.set(sh.dropped.get() + 1);
                        return;
                    }
                    sent += 1;
                    n_sent += 1;
                }
                if n_sent > 0 {
                    sh.room_sent.borrow_mut()[m.room_idx] += n_sent;
                    if futures_util::SinkExt::flush(&mut c.ws).await.is_err() {
                        sh.dropped.set(sh.dropped.get() + 1);
                        return;
                    }
                }
                if sent >= quota {
                    next_due = None;
                    sh.senders_pending.set(sh.senders_pending.get() - 1);
                } else {
                    next_due = Some(start + Duration::from_secs_f64((sent as f64 + m.phase) / r));
                }
            }
        }
    }
}

/// The slow reader: reads normally until the measured step starts, then stops reading until told
/// to resume; then drains what is left, records how (and whether) the server closed it, and on the
/// native protocol reconnects and resumes with `since` to check nothing was lost.
async fn slow_member(sh: Rc<Shared>, mut c: Conn, m: MemberSpec) {
    let native = c.proto == Proto::Native;
    let mut last_seq: Option<u64> = None;
    let mut gaps = 0u64;
    let mut tagged = 0u64;
    let see_seq = |f: &[u8], last: &mut Option<u64>, gaps: &mut u64| {
        if let Some(s) = find_seq(f) {
            if let Some(l) = *last {
                if s > l + 1 {
                    *gaps += 1;
                }
                if s <= l {
                    return;
                }
            }
            *last = Some(s);
        }
    };
    // phase 1: normal reading until the first step starts
    while sh.step.get() == 0 && !sh.stop.get() {
        tokio::select! {
            r = c.ws.next() => match r {
                Some(Ok(Message::Text(f))) => { if native && f.starts_with("{\"type\":\"event\"") { see_seq(f.as_bytes(), &mut last_seq, &mut gaps); } }
                Some(Ok(_)) => {}
                _ => { *sh.slow_report.borrow_mut() = Some(json!({"error": "closed before the step"})); return; }
            },
            _ = sh.wake.notified() => {}
        }
    }
    let seq_at_pause = last_seq;
    // phase 2: stop reading
    let paused_at = Instant::now();
    sh.slow_resume.notified().await;
    let paused_s = paused_at.elapsed().as_secs_f64();
    // phase 3: drain until closed or quiet
    let mut closed: Option<Closed> = None;
    let mut frames_after = 0u64;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(f)))) => {
                frames_after += 1;
                if parse_tag(f.as_bytes()).is_some() {
                    tagged += 1;
                }
                if native && f.starts_with("{\"type\":\"event\"") {
                    see_seq(f.as_bytes(), &mut last_seq, &mut gaps);
                }
                if !native && f.as_str() == "2" {
                    let _ = c.send_text("3".into()).await;
                }
            }
            Ok(Some(Ok(Message::Close(f)))) => {
                closed = Some(match f {
                    Some(f) => Closed {
                        code: Some(u16::from(f.code)),
                        reason: f.reason.to_string(),
                    },
                    None => Closed {
                        code: None,
                        reason: String::new(),
                    },
                });
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => {
                use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
                let reason = match e {
                    WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                        "connection ended (EOF/reset) without a close frame".to_string()
                    }
                    e => format!("error: {e}"),
                };
                closed = Some(Closed { code: None, reason });
                break;
            }
            Ok(None) => {
                closed = Some(Closed {
                    code: None,
                    reason: "eof".into(),
                });
                break;
            }
        }
    }
    let mut rep = json!({
        "paused_secs": paused_s, "frames_read_after_resume": frames_after, "messages_read_after_resume": tagged,
        "seq_at_pause": seq_at_pause, "last_seq_before_close": last_seq, "gaps_before_close": gaps,
        "closed": closed.is_some(),
        "close_code": closed.as_ref().and_then(|c| c.code), "close_reason": closed.as_ref().map(|c| c.reason.clone()),
        "sent_msgs": sh.room_sent.borrow()[m.room_idx],
    });
    if let Some(cl) = closed.as_ref() {
        sh.closed(cl);
    }
    if native && closed.is_some() {
        let token = c.token.clone();
        drop(c);
        let resume = async {
            let mut c2 = Conn::open(&sh.opts, "slowresume", token.as_deref()).await?;
            let info = c2.join(&m.room, last_seq).await?;
            let top = info.top_seq.unwrap_or(0);
            let mut last = last_seq.unwrap_or(0);
            let mut gaps2 = 0u64;
            let mut dups2 = 0u64;
            let mut msgs = 0u64;
            let t0 = Instant::now();
            let mut paged = 0u64;
            if info.complete == Some(false) {
                // more was missed than the server replays: page the gap with `history`, as the protocol says
                let mut more = true;
                while more && last < top && t0.elapsed() < Duration::from_secs(30) {
                    let (evs, m2) = c2.history_after(&m.room, last, 200).await?;
                    more = m2;
                    if evs.is_empty() {
                        break;
                    }
                    for (s, is_msg) in evs {
                        if s > top {
                            break;
                        }
                        if s <= last {
                            dups2 += 1;
                            continue;
                        }
                        if s > last + 1 {
                            gaps2 += 1;
                        }
                        last = s;
                        paged += 1;
                        if is_msg {
                            msgs += 1;
                        }
                    }
                }
            }
            while last < top && t0.elapsed() < Duration::from_secs(30) {
                let f = match tokio::time::timeout(Duration::from_secs(5), c2.recv()).await {
                    Ok(r) => r?,
                    Err(_) => break,
                };
                if !f.starts_with("{\"type\":\"event\"") {
                    continue;
                }
                if let Some(s) = find_seq(f.as_bytes()) {
                    if s > top && last >= top {
                        break;
                    }
                    if s <= last {
                        dups2 += 1;
                    } else {
                        if s > last + 1 {
                            gaps2 += 1;
                        }
                        last = s;
                        if parse_tag(f.as_bytes()).is_some() {
                            msgs += 1;
                        }
                    }
                }
            }
            c2.close().await;
            anyhow::Ok(
                json!({"top_seq": top, "replayed": info.replayed, "complete": info.complete, "paged": paged, "reached_seq": last,
                "messages": msgs, "gaps": gaps2, "dups": dups2, "gapless": gaps2 == 0 && last >= top}),
            )
        };
        rep["resume"] = match resume.await {
            Ok(v) => v,
            Err(e) => json!({"error": format!("{e:#}")}),
        };
        let total = tagged + rep["resume"]["messages"].as_u64().unwrap_or(0);
        rep["messages_total"] = json!(total);
        rep["lossless"] = json!(
            total == sh.room_sent.borrow()[m.room_idx] && rep["resume"]["gapless"] == json!(true)
        );
    }
    *sh.slow_report.borrow_mut() = Some(rep);
}

/// A client that keeps connecting, joining `room`, staying `stay_ms` and leaving, until the step ends.
async fn churner(
    sh: Rc<Shared>,
    room: String,
    c_idx: usize,
    stay_ms: u64,
    secs: f64,
    done: Rc<Cell<bool>>,
) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut k = 0u64;
    while Instant::now() < end && !done.get() && !sh.stop.get() {
        k += 1;
        let name = format!("c{c_idx}x{k}");
        let r = async {
            let mut c = Conn::open(&sh.opts, &name, None).await?;
            c.join(&room, None).await?;
            let until = Instant::now() + Duration::from_millis(stay_ms);
            while Instant::now() < until {
                match tokio::time::timeout_at(until.into(), c.recv()).await {
                    Err(_) => break,
                    Ok(r) => {
                        r?;
                    }
                }
            }
            c.close().await;
            anyhow::Ok(())
        };
        match r.await {
            Ok(()) => Shared::inc(&sh.churn_cycles),
            Err(e) => {
                Shared::inc(&sh.churn_failed);
                sh.error(format!("churn: {e:#}"));
                sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

// ---------------------------------------------------------------- idle

async fn idle(cli: &Cli, opts: ConnOpts, a: crate::Idle) -> (Value, bool) {
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
            let Some(mut c) = sh.open_joined(&name, &room).await else { return };
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

// ---------------------------------------------------------------- storm

async fn storm(cli: &Cli, opts: ConnOpts, a: crate::Storm) -> (Value, bool) {
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

// ---------------------------------------------------------------- durable

async fn durable(cli: &Cli, opts: ConnOpts, a: crate::Durable) -> (Value, bool) {
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
            let Some(mut c) = sh.open_joined(&name, &room).await else { return };
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

fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("CONFAB_BENCH_TRACE").is_some())
}
