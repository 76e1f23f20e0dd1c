//! Soak: mixed traffic on both protocols at once for a given time, sampling the server's memory and
//! the delivery latency per interval, and saying whether they stay flat.
//!
//! Per room (`--rooms`): readers of both protocols that stay joined and check each delivery (native
//! readers: every room event in sequence, no gap, no repeat); one native and one Socket.IO sender at
//! `--rate` / rooms / 2 messages a second each; a native "chores" client that cycles send (waiting
//! for the ack), edit, history, delete, and every few cycles leaves and joins again or reconnects
//! and resumes with `since`; and a Socket.IO client that connects, joins, sends, leaves and
//! disconnects over and over. Every `--interval-secs` a sample: server RSS, p50/p99 of the
//! deliveries in the interval, how many. At the end, least-squares slopes over the samples (the first
//! one, warm-up, left out), and again over the second half of the run (after the caches have filled):
//! memory is flat when it grew by less than 10 % of its mean over the span, latency when p99 grew by
//! less than max(5 ms, half its median). `ok` needs deliveries, no gap and
//! no error; flatness is reported beside it (a shared machine can make latency drift).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::time::sleep;

use crate::conn::{find_seq, json_str, Conn, ConnOpts, Proto};
use crate::stats::{self, new_hist, now_ns, proc_rss_kib};
use crate::{Cli, Soak};

#[derive(Default)]
struct Counts {
    deliveries: Cell<u64>,
    sends: Cell<u64>,
    edits: Cell<u64>,
    deletes: Cell<u64>,
    histories: Cell<u64>,
    joins: Cell<u64>,
    leaves: Cell<u64>,
    reconnects: Cell<u64>,
    gaps: Cell<u64>,
    errors: Cell<u64>,
}

struct State {
    opts: ConnOpts,
    stop: Cell<bool>,
    /// Delivery latency in the current interval, µs.
    lat: RefCell<Histogram<u64>>,
    n: Counts,
    first_error: RefCell<Option<String>>,
}

fn inc(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

impl State {
    fn error(&self, what: &str, e: &anyhow::Error) {
        inc(&self.n.errors);
        self.first_error.borrow_mut().get_or_insert_with(|| format!("{what}: {e:#}"));
    }

    fn opts(&self, proto: Proto) -> ConnOpts {
        ConnOpts { proto, ..self.opts.clone() }
    }

    /// A delivered message's latency, from the `~k<nanos>~` its text carries.
    fn delivered(&self, frame: &[u8]) {
        let Some(p) = memchr::memmem::find(frame, b"~k") else { return };
        let digits = frame[p + 2..].iter().take_while(|b| b.is_ascii_digit());
        let sent = digits.fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
        let us = now_ns().saturating_sub(sent) / 1000;
        let _ = self.lat.borrow_mut().record(us.max(1));
        inc(&self.n.deliveries);
    }
}

fn text() -> String {
    format!("soak ~k{}~", now_ns())
}

/// Runs `body` again (after a short pause) whenever it fails, until the run stops.
async fn forever<F, Fut>(st: Rc<State>, what: &'static str, mut body: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    while !st.stop.get() {
        if let Err(e) = body().await {
            if st.stop.get() {
                return;
            }
            st.error(what, &e);
            sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A native reader: joined, checking that room events come in sequence.
async fn native_reader(st: Rc<State>, room: String, name: String) -> Result<()> {
    let mut c = Conn::open(&st.opts(Proto::Native), &name, None).await?;
    let mut last = c.join(&room, None).await?.top_seq.unwrap_or(0);
    inc(&st.n.joins);
    while !st.stop.get() {
        let f = match tokio::time::timeout(Duration::from_millis(200), c.recv()).await {
            Err(_) => continue,
            Ok(f) => f?,
        };
        let b = f.as_bytes();
        if memchr::memmem::find(b, b"\"type\":\"event\"").is_none() {
            continue;
        }
        let seq = find_seq(b).context("an event without seq")?;
        if seq != last + 1 {
            inc(&st.n.gaps);
            st.first_error.borrow_mut().get_or_insert_with(|| format!("{room}: seq {seq} after {last}"));
        }
        last = last.max(seq);
        if memchr::memmem::find(b, b"\"kind\":\"message\"").is_some() {
            st.delivered(b);
        }
    }
    c.close().await;
    Ok(())
}

/// A Socket.IO reader: joined, timing every message.
async fn sio_reader(st: Rc<State>, room: String, name: String) -> Result<()> {
    let mut c = Conn::open(&st.opts(Proto::Sio), &name, None).await?;
    c.join(&room, None).await?;
    inc(&st.n.joins);
    while !st.stop.get() {
        let f = match tokio::time::timeout(Duration::from_millis(200), c.recv()).await {
            Err(_) => continue,
            Ok(f) => f?,
        };
        if f.starts_with("42[\"room_message\"") {
            st.delivered(f.as_bytes());
        }
    }
    c.close().await;
    Ok(())
}

/// A sender at `per_sec` messages a second, reading what comes back meanwhile.
async fn sender(st: Rc<State>, proto: Proto, room: String, name: String, per_sec: f64) -> Result<()> {
    let mut c = Conn::open(&st.opts(proto), &name, None).await?;
    c.join(&room, None).await?;
    inc(&st.n.joins);
    let room_json = json_str(&room);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec.max(0.1)));
    let mut n = 0u64;
    while !st.stop.get() {
        tokio::select! {
            _ = tick.tick() => {
                n += 1;
                let frame = c.message_frame(&room_json, &text(), &format!("{name}-{n}"));
                c.send_text(frame).await?;
                inc(&st.n.sends);
            }
            f = c.recv() => {
                let f = f?;
                if f.contains("\"type\":\"error\"") || f.starts_with("42[\"error\"") {
                    bail!("a send was refused: {}", crate::conn::trunc(&f));
                }
            }
        }
    }
    c.close().await;
    Ok(())
}

/// Sends `fields` as a native request and waits for its answer: the ack's JSON, or an error.
async fn request(c: &mut Conn, kind: &str, fields: Value) -> Result<Value> {
    let id = c.take_id();
    let mut frame = fields;
    frame["type"] = json!(kind);
    frame["id"] = json!(id);
    c.send_text(frame.to_string()).await?;
    loop {
        let f = c.recv().await?;
        if !f.contains(&format!("\"id\":{id}")) {
            continue;
        }
        let v: Value = serde_json::from_str(&f)?;
        if v["id"] != json!(id) {
            continue;
        }
        if v["type"] != "ack" {
            bail!("{kind} refused: {}", crate::conn::trunc(&f));
        }
        return Ok(v);
    }
}

/// The native chores: send, edit, history, delete; leave and join again every 5th cycle; reconnect
/// and resume with `since` every 10th.
async fn native_chores(st: Rc<State>, room: String, name: String, every: Duration) -> Result<()> {
    let mut c = Conn::open(&st.opts(Proto::Native), &name, None).await?;
    let mut top = c.join(&room, None).await?.top_seq.unwrap_or(0);
    inc(&st.n.joins);
    let mut cycle = 0u64;
    while !st.stop.get() {
        cycle += 1;
        let sent = request(&mut c, "send", json!({"room": room, "text": text(), "client_id": format!("{name}-{cycle}")})).await?;
        inc(&st.n.sends);
        let id = sent["message_id"].clone();
        top = top.max(sent["seq"].as_u64().unwrap_or(top));
        request(&mut c, "edit", json!({"room": room, "message_id": id, "text": "edited"})).await?;
        inc(&st.n.edits);
        request(&mut c, "history", json!({"room": room, "before": top + 1, "limit": 50})).await?;
        inc(&st.n.histories);
        request(&mut c, "delete", json!({"room": room, "message_id": id})).await?;
        inc(&st.n.deletes);
        if cycle.is_multiple_of(10) {
            let token = c.token.clone();
            c.close().await;
            c = Conn::open(&st.opts(Proto::Native), &name, token.as_deref()).await?;
            top = c.join(&room, Some(top)).await?.top_seq.unwrap_or(top);
            inc(&st.n.reconnects);
        } else if cycle.is_multiple_of(5) {
            request(&mut c, "leave", json!({"room": room})).await?;
            inc(&st.n.leaves);
            top = c.join(&room, None).await?.top_seq.unwrap_or(top);
            inc(&st.n.joins);
        }
        sleep(every).await;
    }
    c.close().await;
    Ok(())
}

/// A Socket.IO client that connects, joins, sends, leaves and disconnects, over and over.
async fn sio_visitor(st: Rc<State>, room: String, name: String, every: Duration) -> Result<()> {
    let mut k = 0u64;
    while !st.stop.get() {
        k += 1;
        let mut c = Conn::open(&st.opts(Proto::Sio), &format!("{name}v{k}"), None).await?;
        c.join(&room, None).await?;
        inc(&st.n.joins);
        let frame = c.message_frame(&json_str(&room), &text(), &format!("{name}-v{k}"));
        c.send_text(frame).await?;
        inc(&st.n.sends);
        c.send_text(format!(r#"42["leave_room",{{"room":{}}}]"#, json_str(&room))).await?;
        inc(&st.n.leaves);
        sleep(Duration::from_millis(100)).await;
        c.close().await;
        inc(&st.n.reconnects);
        sleep(every).await;
    }
    Ok(())
}

/// How memory and p99 moved over a run of samples: least-squares slopes per minute. Memory is flat
/// when it grew by less than 10 % of its mean over the span, latency when p99 grew by less than
/// max(5 ms, half its median).
struct Trend {
    span_min: f64,
    rss_slope: f64,
    rss_mean: f64,
    p99_slope: f64,
    p99_median: f64,
    has_rss: bool,
}

impl Trend {
    fn of(samples: &[&Value]) -> Trend {
        let mins: Vec<f64> = samples.iter().map(|v| v["t_s"].as_f64().unwrap_or(0.0) / 60.0).collect();
        let rss: Vec<f64> = samples.iter().filter_map(|v| v["rss_kib"].as_f64()).collect();
        let p99: Vec<f64> = samples.iter().map(|v| v["p99_ms"].as_f64().unwrap_or(0.0)).collect();
        let has_rss = rss.len() == mins.len() && !rss.is_empty();
        let (rss_slope, rss_mean) =
            if has_rss { (slope(&mins, &rss), rss.iter().sum::<f64>() / rss.len() as f64) } else { (0.0, 0.0) };
        Trend {
            span_min: mins.last().copied().unwrap_or(0.0) - mins.first().copied().unwrap_or(0.0),
            rss_slope,
            rss_mean,
            p99_slope: slope(&mins, &p99),
            p99_median: median(&p99),
            has_rss,
        }
    }

    fn rss_flat(&self) -> bool {
        !self.has_rss || self.rss_slope * self.span_min < 0.1 * self.rss_mean
    }

    fn latency_flat(&self) -> bool {
        self.p99_slope * self.span_min < (0.5 * self.p99_median).max(5.0)
    }

    fn rss_slope_kib_per_min(&self) -> f64 {
        (self.rss_slope * 10.0).round() / 10.0
    }

    fn p99_slope_ms_per_min(&self) -> f64 {
        (self.p99_slope * 1000.0).round() / 1000.0
    }
}

/// Least-squares slope of `ys` over `xs` (per unit of x).
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs the soak (see the module doc).
pub(super) async fn run(cli: &Cli, opts: ConnOpts, s: Soak) -> (Value, bool) {
    let st = Rc::new(State {
        opts,
        stop: Cell::new(false),
        lat: RefCell::new(new_hist()),
        n: Counts::default(),
        first_error: RefCell::new(None),
    });
    let tag = super::run_tag();
    let per_sender = s.rate / (s.rooms.max(1) as f64) / 2.0;
    let chores = Duration::from_millis(s.chore_ms);
    for r in 0..s.rooms {
        let room = format!("soak-{tag}-{r}");
        for m in 0..s.readers {
            let (st2, room2) = (st.clone(), room.clone());
            tokio::task::spawn_local(forever(st.clone(), "native reader", move || {
                native_reader(st2.clone(), room2.clone(), format!("rn{r}x{m}"))
            }));
            let (st2, room2) = (st.clone(), room.clone());
            tokio::task::spawn_local(forever(st.clone(), "socket.io reader", move || {
                sio_reader(st2.clone(), room2.clone(), format!("rs{r}x{m}"))
            }));
        }
        for proto in [Proto::Native, Proto::Sio] {
            let (st2, room2) = (st.clone(), room.clone());
            tokio::task::spawn_local(forever(st.clone(), "sender", move || {
                sender(st2.clone(), proto, room2.clone(), format!("s{r}{proto:?}"), per_sender)
            }));
        }
        let (st2, room2) = (st.clone(), room.clone());
        tokio::task::spawn_local(forever(st.clone(), "native chores", move || {
            native_chores(st2.clone(), room2.clone(), format!("c{r}"), chores)
        }));
        let (st2, room2) = (st.clone(), room.clone());
        tokio::task::spawn_local(forever(st.clone(), "socket.io visitor", move || {
            sio_visitor(st2.clone(), room2.clone(), format!("v{r}"), chores * 2)
        }));
    }

    let started = Instant::now();
    let interval = Duration::from_secs_f64(s.interval_secs.max(0.5));
    let mut samples = Vec::new();
    let mut last_deliveries = 0;
    while started.elapsed().as_secs_f64() < s.secs {
        sleep(interval).await;
        let h = std::mem::replace(&mut *st.lat.borrow_mut(), new_hist());
        let l = stats::lat(&h);
        let deliveries = st.n.deliveries.get();
        samples.push(json!({
            "t_s": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "rss_kib": cli.g.server_pid.and_then(proc_rss_kib),
            "deliveries": deliveries - last_deliveries,
            "p50_ms": l.p50_ms,
            "p99_ms": l.p99_ms,
            "max_ms": l.max_ms,
            "errors": st.n.errors.get(),
            "loadavg_1m": stats::loadavg_1m(),
        }));
        last_deliveries = deliveries;
    }
    st.stop.set(true);
    sleep(Duration::from_millis(700)).await;

    // Slopes over the samples after the first (warm-up), and over the second half of the run: caches
    // that fill for the first minutes make the whole run's memory slope say little about a leak.
    let steady: Vec<&Value> = samples.iter().skip(1).collect();
    let whole = Trend::of(&steady);
    let half_from = steady.last().and_then(|v| v["t_s"].as_f64()).unwrap_or(0.0) / 2.0;
    let second_half: Vec<&Value> =
        steady.iter().copied().filter(|v| v["t_s"].as_f64().unwrap_or(0.0) >= half_from).collect();
    let late = Trend::of(&second_half);
    let n = &st.n;
    let ok = n.deliveries.get() > 0 && n.gaps.get() == 0 && n.errors.get() == 0;
    let out = json!({
        "secs": started.elapsed().as_secs_f64(),
        "rooms": s.rooms,
        "readers_per_room_per_protocol": s.readers,
        "rate": s.rate,
        "counts": {
            "deliveries": n.deliveries.get(), "sends": n.sends.get(), "edits": n.edits.get(),
            "deletes": n.deletes.get(), "histories": n.histories.get(), "joins": n.joins.get(),
            "leaves": n.leaves.get(), "reconnects": n.reconnects.get(), "gaps": n.gaps.get(),
            "errors": n.errors.get(),
        },
        "rss_slope_kib_per_min": whole.rss_slope_kib_per_min(),
        "rss_mean_kib": whole.rss_mean.round(),
        "rss_flat": whole.rss_flat(),
        "p99_slope_ms_per_min": whole.p99_slope_ms_per_min(),
        "p99_median_ms": whole.p99_median,
        "latency_flat": whole.latency_flat(),
        "second_half": {
            "from_s": half_from.round(),
            "rss_slope_kib_per_min": late.rss_slope_kib_per_min(),
            "rss_mean_kib": late.rss_mean.round(),
            "rss_flat": late.rss_flat(),
            "p99_slope_ms_per_min": late.p99_slope_ms_per_min(),
            "p99_median_ms": late.p99_median,
            "latency_flat": late.latency_flat(),
        },
        "first_error": st.first_error.borrow().clone(),
        "samples": samples,
    });
    (out, ok)
}
