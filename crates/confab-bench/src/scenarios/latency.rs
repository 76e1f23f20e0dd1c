//! Latency: one room of 1,000 members at a fixed 50,000 deliveries/s (a step of at least 10 s when
//! the rate is left at its default): p50, p99 and p99.9 of every delivery.

use serde_json::Value;

use super::traffic::{traffic, Defaults, Kind};
use crate::conn::ConnOpts;
use crate::{Cli, Traffic};

pub(super) const DEFAULTS: Defaults = Defaults {
    conns: 1000,
    room_size: 1000,
    senders_per_room: 1,
    rates: &[50e3],
};

/// Runs the latency scenario (see the module doc).
pub(super) async fn run(cli: &Cli, opts: ConnOpts, t: Traffic) -> (Value, bool) {
    traffic(cli, opts, t, Kind::Latency).await
}
