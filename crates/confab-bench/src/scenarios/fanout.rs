//! Fan-out: one room of 1,000 members, one sender, stepped delivery rates from 10 k to 3 M/s. The
//! figure is the highest step held (every delivery exactly once and in order, p99 under the bound).

use serde_json::Value;

use super::traffic::{traffic, Defaults, Kind};
use crate::conn::ConnOpts;
use crate::{Cli, Traffic};

pub(super) const DEFAULTS: Defaults = Defaults {
    conns: 1000,
    room_size: 1000,
    senders_per_room: 1,
    rates: &[
        10e3, 20e3, 50e3, 100e3, 150e3, 200e3, 300e3, 500e3, 700e3, 1e6, 1.4e6, 2e6, 3e6,
    ],
};

/// Runs the fan-out scenario (see the module doc).
pub(super) async fn run(cli: &Cli, opts: ConnOpts, t: Traffic) -> (Value, bool) {
    traffic(cli, opts, t, Kind::Fanout).await
}
