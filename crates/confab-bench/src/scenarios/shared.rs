//! `Shared`: the state every task of one scenario run sees (the current step and its schedule, the
//! delivery counters, the latency histogram, setup accounting). Everything runs on one current-thread
//! runtime (a LocalSet), so it is plain `Cell`/`RefCell` behind an `Rc`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

use crate::conn::{trunc, Closed, Conn, ConnOpts};
use crate::stats::new_hist;

pub(super) struct Shared {
    pub(super) opts: ConnOpts,
    /// The servers of a multi-node run (`--nodes`); member `i` connects to `nodes[i % len]`.
    /// One entry, `opts.addr`, on a single server.
    pub(super) nodes: RefCell<Vec<SocketAddr>>,
    /// Deliveries of the current step counted per node of the receiving member.
    pub(super) node_unique: RefCell<Vec<u64>>,
    // current step (tag field), its schedule and the per-sender message rate
    pub(super) step: Cell<u32>,
    pub(super) step_start: Cell<Instant>,
    pub(super) step_secs: Cell<f64>,
    pub(super) rate: Cell<f64>,
    pub(super) total_senders: Cell<u32>,
    pub(super) senders_pending: Cell<u32>,
    pub(super) wake: Notify,
    pub(super) stop: Cell<bool>,
    // counters
    pub(super) frames: Cell<u64>,
    pub(super) unique: Cell<u64>,
    pub(super) dups: Cell<u64>,
    pub(super) reorders: Cell<u64>,
    pub(super) late: Cell<u64>,
    pub(super) room_sent: RefCell<Vec<u64>>,
    pub(super) server_errors: Cell<u64>,
    pub(super) first_error: RefCell<Option<String>>,
    pub(super) hist: RefCell<Histogram<u64>>,
    pub(super) joined: Cell<usize>,
    pub(super) failed: Cell<usize>,
    pub(super) dropped: Cell<usize>,
    pub(super) close_codes: RefCell<BTreeMap<String, u64>>,
    pub(super) setup_sem: Semaphore,
    // slow reader
    pub(super) slow_resume: Notify,
    pub(super) slow_report: RefCell<Option<Value>>,
    // churn
    pub(super) churn_cycles: Cell<u64>,
    pub(super) churn_failed: Cell<u64>,
    // rss sampling
    pub(super) rss_max: Cell<u64>,
    pub(super) pad: RefCell<String>,
}

impl Shared {
    /// Opens a connection and joins `room` (within the setup concurrency), counting it as joined or
    /// failed; `None` when it failed.
    pub(super) async fn open_joined(&self, name: &str, room: &str) -> Option<Conn> {
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

    pub(super) fn new(opts: ConnOpts, setup_concurrency: usize) -> Rc<Shared> {
        Rc::new(Shared {
            nodes: RefCell::new(vec![opts.addr]),
            node_unique: RefCell::new(vec![0]),
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
    pub(super) fn error(&self, e: impl std::fmt::Display) {
        let mut f = self.first_error.borrow_mut();
        if f.is_none() {
            *f = Some(trunc(&e.to_string()));
        }
    }
    pub(super) fn closed(&self, c: &Closed) {
        let k = format!(
            "{}:{}",
            c.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none".into()),
            c.reason
        );
        *self.close_codes.borrow_mut().entry(k).or_default() += 1;
    }
    pub(super) fn inc(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }
}
