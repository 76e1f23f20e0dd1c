//! One room member of a traffic run: receives and checks every delivery; the room's first members
//! also send on the step's schedule.

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use super::shared::Shared;
use super::slow::slow_member;
use super::trace;
use super::traffic::MemberSpec;
use crate::conn::{json_str, Closed, Conn, Proto};
use crate::stats::{self, now_ns, parse_tag, Receiver, Seen};

/// Connects and joins (to its node, round-robin), then receives and checks deliveries until the
/// run stops; a sender also sends its quota of each step on the schedule.
pub(super) async fn member(sh: Rc<Shared>, m: MemberSpec) {
    let name = format!("u{}", m.idx);
    let setup = async {
        let _permit = sh.setup_sem.acquire().await.unwrap();
        let mut o = sh.opts.clone();
        o.addr = sh.nodes.borrow()[m.node];
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
                                sh.node_unique.borrow_mut()[m.node] += 1;
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
