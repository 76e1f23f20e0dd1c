//! Leaves the roster could not take (Redis unreachable), kept in order and announced once it answers
//! again, so that the member list and the log agree after an outage (docs/scaling.md, "A node is
//! cut off from Redis").
//!
//! `Chat::depart` queues a departure whose roster call failed; the leave stays applied on this node
//! meanwhile. A task tries the queue every `Limits::departure_retry`, oldest first, each with its
//! (room, actor) gate held: an actor present on this node again is dropped from the queue (it never
//! left the cluster's list, and its return announced nothing); otherwise the roster is asked again,
//! and the leave appended if this was the last node holding it. The queue holds at most
//! `Limits::departure_queue` departures; beyond it a leave is logged and not announced, as before.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use super::Chat;
use crate::event::LeaveReason;
use crate::model::{ActorRef, Room};
use crate::store::NewEvent;

/// A departure waiting for the roster.
#[derive(Clone)]
pub(super) struct Departure {
    pub room: Room,
    pub actor: ActorRef,
    pub reason: LeaveReason,
}

#[derive(Default)]
pub(super) struct Departures {
    pub queue: parking_lot::Mutex<VecDeque<Departure>>,
    /// Wakes the retry task when the queue stops being empty (and when the chat service is dropped).
    pub waiting: tokio::sync::Notify,
}

/// Tries the queued departures until the chat service goes away.
pub(super) async fn retry(chat: Weak<Chat>, departures: Arc<Departures>) {
    loop {
        let notified = departures.waiting.notified();
        if departures.queue.lock().is_empty() {
            notified.await;
        }
        let Some(wait) = chat.upgrade().map(|c| c.limits.departure_retry) else { return };
        tokio::time::sleep(wait).await;
        let Some(chat) = chat.upgrade() else { return };
        chat.replay_departures().await;
    }
}

impl Chat {
    /// Keeps a departure the roster could not take; false when the queue is full.
    pub(super) fn queue_departure(&self, departure: Departure) -> bool {
        let mut queue = self.departures.queue.lock();
        if queue.len() >= self.limits.departure_queue {
            return false;
        }
        queue.push_back(departure);
        drop(queue);
        self.departures.waiting.notify_one();
        true
    }

    /// How many departures wait for the roster.
    pub fn departures_waiting(&self) -> usize {
        self.departures.queue.lock().len()
    }

    /// Hands the queued departures to the roster, oldest first, until it fails again or none is left.
    async fn replay_departures(&self) {
        loop {
            let Some(next) = self.departures.queue.lock().front().cloned() else { return };
            let Departure { room, actor, reason } = next;
            let pending = {
                let _gate = self.gate.enter(room.id, &actor.id).await;
                let outcome = if self.presence.has(room.id, &actor.id) {
                    // Back on this node since: it is a member, and its return announced nothing.
                    Ok(None)
                } else {
                    match self.roster.depart(&room, &actor.id).await {
                        Ok(true) => Ok(Some(self.store.append(&room, actor.clone(), NewEvent::Leave { reason }))),
                        Ok(false) => Ok(None),
                        Err(e) => Err(e),
                    }
                };
                match outcome {
                    Ok(pending) => {
                        self.departures.queue.lock().pop_front();
                        pending
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "roster still unavailable; departures wait");
                        return;
                    }
                }
            };
            if let Some(pending) = pending {
                tracing::info!(room = %room.name, actor = %actor.id.as_str(), "leave announced after the roster came back");
                if let Err(e) = pending.await {
                    tracing::warn!(room = %room.name, error = %e, "could not store a queued leave");
                }
                self.sink.room_changed(&self.room_summary(&room).await);
            }
        }
    }
}
