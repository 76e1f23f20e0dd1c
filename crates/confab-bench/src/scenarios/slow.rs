//! Slow reader: one member of a fan-out room stops reading for the whole step. The others must stay
//! clean; the slow one must be cut and (native protocol) resume from the log without loss or gap.

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::shared::Shared;
use super::traffic::{traffic, Defaults, Kind, MemberSpec};
use crate::conn::{find_seq, Closed, Conn, ConnOpts, Proto};
use crate::stats::parse_tag;
use crate::{Cli, Traffic};

/// The slow reader: reads normally until the measured step starts, then stops reading until told
/// to resume; then drains what is left, records how (and whether) the server closed it, and on the
/// native protocol reconnects and resumes with `since` to check nothing was lost.
pub(super) async fn slow_member(sh: Rc<Shared>, mut c: Conn, m: MemberSpec) {
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

pub(super) const DEFAULTS: Defaults = Defaults {
    conns: 100,
    room_size: 100,
    senders_per_room: 1,
    rates: &[50e3],
};

/// Runs the slow-reader scenario: a fan-out room whose last member is the slow reader.
pub(super) async fn run(cli: &Cli, opts: ConnOpts, t: Traffic) -> (Value, bool) {
    traffic(cli, opts, t, Kind::Slow).await
}
