//! Churn: clients keep connecting, joining, staying briefly and leaving a room while it carries
//! fan-out traffic; the members must be unaffected and server memory must come back to its baseline.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::time::sleep;

use super::shared::Shared;
use super::traffic::{traffic, Defaults, Kind};
use crate::conn::{Conn, ConnOpts};
use crate::{Cli, Traffic};

/// A client that keeps connecting, joining `room`, staying `stay_ms` and leaving, until the step ends.
pub(super) async fn churner(
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

pub(super) const DEFAULTS: Defaults = Defaults {
    conns: 500,
    room_size: 500,
    senders_per_room: 1,
    rates: &[50e3],
};

/// Runs the churn scenario: a fan-out room with churning clients, memory before and after.
pub(super) async fn run(cli: &Cli, opts: ConnOpts, t: Traffic) -> (Value, bool) {
    traffic(cli, opts, t, Kind::Churn).await
}
