//! The hub: this node's end of the fan-out. It is the bus's [`Inbox`]: committed events of the rooms
//! this node has members in arrive here (this node's own at once, other nodes' through the bus), and
//! it hands them to the subscribed connections, each room in sequence order.
//!
//! - [`feed`]: one room's subscribers and the stage that orders its events, holding what comes past
//!   a gap; the hub fills a gap that stays open from the store, the source of truth.
//! - [`lobby`]: the list of rooms, for every connection that shows it. Only public rooms reach it.
//! - [`people`]: connections by actor, for `direct_opened` and `added_to_room` notices.
//!
//! The hub knows no wire format: it shares protocol-neutral items ([`crate::conn::Encoded`]) and
//! each connection's transport encodes them, once per transport. A full connection queue
//! disconnects that connection as a slow consumer; nothing is dropped for it silently, and nobody
//! else waits for it.

pub mod feed;
pub mod lobby;
pub mod people;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use confab_core::fanout::{Bus, Inbox};
use confab_core::model::{RoomId, RoomKind, RoomSummary};
use confab_core::presence::ConnId;
use confab_core::roster::Roster;
use confab_core::store::{EventRange, Store};
use confab_core::{Event, EventBody, Result};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::conn::{AddedToRoom, ConnShared, DirectOpened, Encoded, MemberList, Outbound};
use feed::{Accepted, Feed};
use lobby::{Lobby, LIST_DELAY};

/// How many events one read from the store brings when a feed fills a gap or catches up.
const FILL_PAGE: usize = 500;
/// Failed fills (the store unreachable, or the missing events not there) before the feed gives up
/// and closes its subscribers with `resync`.
const FILL_ATTEMPTS: u32 = 5;

pub struct Hub {
    /// Itself, for the bus's callbacks (which get `&self`) to start tasks that outlive them.
    me: Weak<Hub>,
    feeds: RwLock<HashMap<RoomId, Arc<Feed>>>,
    lobby: Arc<Lobby>,
    /// This node's connections by actor (for notices to a person: a direct conversation opened).
    pub people: people::People,
    /// Rooms whose member list is due to be sent (see [`LIST_DELAY`]).
    members_due: Mutex<HashSet<RoomId>>,
    /// Who is in each room across the cluster, for member lists.
    roster: Arc<dyn Roster>,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    /// How long a gap may stay open before it is filled from the store: events of one room
    /// committed on two nodes may cross the bus out of order, and a later one arriving first is
    /// not yet a loss.
    gap_wait: Duration,
    /// To the dispatcher task, which hands events to feeds off the caller's thread (the store's
    /// writer calls the bus, which calls us, after every commit).
    dispatch: mpsc::UnboundedSender<(RoomId, Vec<Event>)>,
}

impl Hub {
    /// Creates the hub and starts its dispatcher task (call inside the tokio runtime). Attach it
    /// to the bus as its inbox afterwards.
    pub fn start(store: Arc<dyn Store>, bus: Arc<dyn Bus>, roster: Arc<dyn Roster>, gap_wait: Duration) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(RoomId, Vec<Event>)>();
        let hub = Arc::new_cyclic(|me| Hub {
            me: me.clone(),
            feeds: RwLock::new(HashMap::new()),
            lobby: Arc::new(Lobby::default()),
            people: people::People::default(),
            members_due: Mutex::new(HashSet::new()),
            roster,
            store,
            bus,
            gap_wait,
            dispatch: tx,
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            let mut batches = Vec::new();
            while rx.recv_many(&mut batches, 64).await > 0 {
                let Some(hub) = weak.upgrade() else { break };
                for (room, events) in batches.drain(..) {
                    hub.accept(room, events);
                }
            }
        });
        hub
    }

    fn feed(&self, room: RoomId) -> Option<Arc<Feed>> {
        self.feeds.read().get(&room).cloned()
    }

    fn accept(self: &Arc<Self>, room: RoomId, events: Vec<Event>) {
        self.tell_added(&events);
        if let Some(feed) = self.feed(room) {
            let accepted = feed.accept(events);
            self.follow_up(&feed, accepted);
        }
    }

    /// Tells the local connections of whoever an `added` event names that they are in the room, so
    /// that it appears in their sidebar without their having joined it. The node that committed the
    /// event always sees it; another node sees it only while one of its connections is in the room,
    /// so a person connected only there learns it at their next `my_rooms` (a reconnect, a reload).
    fn tell_added(&self, events: &[Event]) {
        for event in events {
            if let EventBody::Added { target } = &event.body {
                let notice = Encoded::new(AddedToRoom { room: event.room.clone(), by: event.actor.clone() });
                self.people.offer(std::slice::from_ref(&target.id), || Outbound::Added(Arc::clone(&notice)));
            }
        }
    }

    fn follow_up(self: &Arc<Self>, feed: &Arc<Feed>, accepted: Accepted) {
        if accepted.members_changed {
            self.member_list_changed(feed.room);
        }
        if accepted.start_fill {
            self.fill(feed, self.gap_wait);
        }
    }

    /// Reads the feed's room from the store after its last handed-over event, page by page, until
    /// no gap is open and a page comes back short. Used for gaps (after `delay`) and for catching
    /// up after the bus may have lost publications (at once).
    fn fill(self: &Arc<Self>, feed: &Arc<Feed>, delay: Duration) {
        if !feed.begin_fill() {
            return;
        }
        let (hub, feed) = (Arc::clone(self), Arc::clone(feed));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut failures = 0;
            while let Some(last) = feed.last() {
                match hub.store.events(feed.room, EventRange::After(last), FILL_PAGE).await {
                    Ok(events) => {
                        let short = events.len() < FILL_PAGE;
                        // No second fill starts from here: this one is running (`begin_fill`).
                        hub.follow_up(&feed, feed.accept(events));
                        let advanced = feed.last() > Some(last);
                        if !feed.has_gap() && short {
                            break;
                        }
                        if !advanced {
                            failures += 1;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(room = feed.room, error = %e, "could not fill a gap from the store");
                        failures += 1;
                    }
                }
                if failures >= FILL_ATTEMPTS {
                    tracing::error!(room = feed.room, "gap not filled: subscribers resume from the log");
                    hub.follow_up(&feed, feed.give_up());
                    if !feed.has_gap() {
                        break;
                    }
                    failures = 0;
                }
                if failures > 0 {
                    tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(failures)).await;
                }
            }
            feed.end_fill();
            // An event may have been held while the fill was finishing.
            if feed.has_gap() {
                hub.fill(&feed, hub.gap_wait);
            }
        });
    }

    /// Subscribes a connection to a room's live events. The first local subscriber subscribes
    /// this node on the bus and reads the room's top sequence once that is active; every subscriber
    /// waits for that, so the top sequence its join reads afterwards is at or past the feed's start.
    pub async fn subscribe(self: &Arc<Self>, room: RoomId, conn: &Arc<ConnShared>) -> Result<()> {
        let feed = {
            let mut feeds = self.feeds.write();
            let feed = feeds.entry(room).or_insert_with(|| {
                crate::metrics::room_feed_opened();
                Feed::new(room)
            });
            feed.add(conn);
            Arc::clone(feed)
        };
        let started = feed
            .ready
            .get_or_try_init(|| async {
                self.bus.subscribe(room).await?;
                let top = self.store.top_seq(room).await?;
                let accepted = feed.start_after(top);
                self.follow_up(&feed, accepted);
                Ok(())
            })
            .await;
        if let Err(e) = started {
            self.unsubscribe(room, conn.id);
            return Err(e);
        }
        Ok(())
    }

    pub fn unsubscribe(&self, room: RoomId, conn: ConnId) {
        let mut feeds = self.feeds.write();
        if let Some(feed) = feeds.get(&room) {
            if feed.remove(conn) {
                feeds.remove(&room);
                crate::metrics::room_feed_closed();
                // Under the lock, so that a later first subscriber's `subscribe` is called after it.
                self.bus.unsubscribe(room);
            }
        }
    }

    pub fn subscribe_lobby(&self, conn: &Arc<ConnShared>) {
        self.lobby.subscribe(conn);
    }

    /// Forgets a connection everywhere but in rooms (the transport leaves those itself).
    pub fn forget(&self, conn: ConnId) {
        self.lobby.forget(conn);
    }

    /// Records a room that exists (at start-up).
    pub fn known_room(&self, name: &str) {
        self.lobby.known_room(name);
    }

    /// Sends the whole list of rooms to every lobby subscriber, once for a burst of calls.
    pub fn announce_rooms(&self) {
        self.lobby.announce();
    }

    /// Tells the local connections of a new direct room's members that it was opened.
    fn direct_opened(&self, room: String) {
        let Some(hub) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let members = match hub.store.room(&room).await {
                Ok(Some(r)) if r.kind == RoomKind::Direct => hub.store.room_members(r.id).await,
                Ok(_) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
            match members {
                Ok(members) => {
                    let members: Vec<_> = members.into_iter().map(|(m, _)| m).collect();
                    let to: Vec<_> = members.iter().map(|m| m.id.clone()).collect();
                    let notice = Encoded::new(DirectOpened { room, members });
                    hub.people.offer(&to, || Outbound::Direct(Arc::clone(&notice)));
                }
                Err(e) => tracing::warn!(error = %e, "members of a new direct room unavailable; not told"),
            }
        });
    }

    /// Schedules one member-list update for the room's subscribers, unless one is already due.
    fn member_list_changed(self: &Arc<Self>, room: RoomId) {
        if !self.members_due.lock().insert(room) {
            return;
        }
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(LIST_DELAY).await;
            let Some(hub) = hub.upgrade() else { return };
            hub.members_due.lock().remove(&room);
            let members = match hub.roster.members(room).await {
                Ok(members) => members,
                Err(e) => {
                    tracing::warn!(room, error = %e, "member list unavailable; not sent");
                    return;
                }
            };
            if let Some(feed) = hub.feed(room) {
                feed.offer_members(Encoded::new(MemberList { room, members }));
            }
        });
    }
}

impl Inbox for Hub {
    fn events(&self, room: RoomId, events: Vec<Event>) {
        // The dispatcher only stops with the hub, when nothing is left to deliver to.
        let _ = self.dispatch.send((room, events));
    }

    /// Only public rooms reach the lobby: private and direct rooms, and their member counts, are
    /// for their members. A direct room's summary with top sequence 0 is its opening (every later
    /// change of its summary follows a join event, so its top is at least 1): its members'
    /// connections here are told.
    fn room_changed(&self, room: RoomSummary) {
        match room.kind {
            RoomKind::Public => self.lobby.room_changed(room),
            RoomKind::Direct if room.top_seq == 0 => self.direct_opened(room.name),
            RoomKind::Private | RoomKind::Direct => {}
        }
    }

    /// The bus may have lost publications to one room: its feed catches up from the store at once.
    fn resync_room(&self, room: RoomId) {
        if let (Some(hub), Some(feed)) = (self.me.upgrade(), self.feed(room)) {
            hub.fill(&feed, Duration::ZERO);
        }
    }

    /// The bus may have lost publications: every feed catches up from the store at once.
    fn resync(&self) {
        let Some(hub) = self.me.upgrade() else { return };
        let feeds: Vec<Arc<Feed>> = self.feeds.read().values().cloned().collect();
        for feed in feeds {
            hub.fill(&feed, Duration::ZERO);
        }
    }
}
