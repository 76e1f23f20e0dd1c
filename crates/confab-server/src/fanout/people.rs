//! This node's connections by actor: for notices that concern a person rather than a room. Today
//! one: a direct conversation was opened with you (`direct_opened`), so it appears in your sidebar
//! while you are connected, on every connection you have here. Other nodes tell their own
//! connections: the opening crosses the cluster as a room change (see [`super::Hub`]).

use std::collections::HashMap;
use std::sync::Arc;

use confab_core::model::ActorId;
use confab_core::presence::ConnId;
use parking_lot::Mutex;

use crate::conn::{ConnShared, DirectOpened, Encoded, Outbound};

#[derive(Default)]
pub struct People {
    conns: Mutex<HashMap<ActorId, Vec<Arc<ConnShared>>>>,
}

impl People {
    /// The connection speaks for `actor` from now on (called again for the same pair: no change).
    pub fn add(&self, actor: &ActorId, conn: &Arc<ConnShared>) {
        let mut conns = self.conns.lock();
        let list = conns.entry(actor.clone()).or_default();
        if !list.iter().any(|c| c.id == conn.id) {
            list.push(Arc::clone(conn));
        }
    }

    pub fn remove(&self, actor: &ActorId, conn: ConnId) {
        let mut conns = self.conns.lock();
        if let Some(list) = conns.get_mut(actor) {
            list.retain(|c| c.id != conn);
            if list.is_empty() {
                conns.remove(actor);
            }
        }
    }

    /// Hands the notice to every local connection of each actor in `to`.
    pub fn offer(&self, to: &[ActorId], notice: &Arc<Encoded<DirectOpened>>) {
        let conns = self.conns.lock();
        for conn in to.iter().filter_map(|a| conns.get(a)).flatten() {
            conn.offer(Outbound::Direct(Arc::clone(notice)));
        }
    }

    #[cfg(test)]
    pub fn count(&self, actor: &ActorId) -> usize {
        self.conns.lock().get(actor).map_or(0, Vec::len)
    }
}
