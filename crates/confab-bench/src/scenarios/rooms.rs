//! Many rooms: 10,000 connections in rooms of 10, every member sending at a low rate, stepped.

use serde_json::Value;

use super::traffic::{traffic, Defaults, Kind};
use crate::conn::ConnOpts;
use crate::{Cli, Traffic};

pub(super) const DEFAULTS: Defaults = Defaults {
    conns: 10000,
    room_size: 10,
    senders_per_room: 10,
    rates: &[10e3, 20e3, 50e3, 100e3, 200e3, 400e3],
};

/// Runs the many-rooms scenario (see the module doc).
pub(super) async fn run(cli: &Cli, opts: ConnOpts, t: Traffic) -> (Value, bool) {
    traffic(cli, opts, t, Kind::Rooms).await
}
