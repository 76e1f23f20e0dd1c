//! The [`Store`] contract as tests, for every backend. The contract's words are in
//! `confab_core::store`; each function here checks one promise through the trait alone, so SQLite,
//! PostgreSQL and any later backend run the very same checks.
//!
//! A backend implements [`Backend`] (how to get a fresh, empty place for data, and how to open a
//! store on it), then either writes `confab_store_conformance::conformance_tests!(MyBackend::new());`
//! in an integration test, which makes one `#[tokio::test]` per check (failures are named), or awaits
//! [`run_all`].
//!
//! - [`accounts`]: accounts, 2FA steps and recovery codes, sessions and API tokens, invites.
//! - [`sequencing`]: gap-free sequence numbers, call order, publication order, failures in a batch.
//! - [`messages`]: idempotency, lookups, edits and deletes in history, history ranges, recent messages.
//! - [`rooms`]: room names, roles, tokens, renames, and reopening a store.
//! - [`moderation`]: memberships changed by moderation events, bans, and invites.
//! - [`direct`]: direct rooms (one per set of people), my rooms, webhooks.
//! - [`sessions`]: idle guest sessions expire, keeping the guest's id and name.
//! - [`throughput`]: not a check: a bounded measurement of acknowledged appends per second.

pub mod accounts;
pub mod direct;
pub mod messages;
pub mod moderation;
pub mod rooms;
pub mod sequencing;
pub mod sessions;
pub mod throughput;

use std::future::Future;
use std::sync::Arc;

use confab_core::model::{Actor, ActorRef, Content, Room, RoomKind};
use confab_core::store::{EventSink, NewEvent, Store};
use confab_core::Event;
use parking_lot::Mutex;

/// A store backend under test.
pub trait Backend: Send + Sync + 'static {
    /// Where one test's data lives (a temporary directory, a database schema); dropping it may
    /// delete the data.
    type Place: Send + Sync;
    /// A fresh, empty place, unknown to any other test.
    fn fresh(&self) -> impl Future<Output = Self::Place> + Send;
    /// Opens a store on `place` that hands committed events to `sink`. Called again on the same
    /// place (after the previous store was dropped) to check that reopening keeps everything.
    fn open(&self, place: &Self::Place, sink: Arc<dyn EventSink>) -> impl Future<Output = Arc<dyn Store>> + Send;
}

/// A sink that keeps every event it is handed, in the order it got them.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn committed(&self, events: Vec<Event>) {
        self.0.lock().extend(events);
    }
}

impl Recorder {
    /// (room, seq) of every event received.
    pub fn seqs(&self) -> Vec<(String, i64)> {
        self.0.lock().iter().map(|e| (e.room.clone(), e.seq)).collect()
    }
}

/// One test's store, its sink, and where its data lives.
pub struct Fixture<B: Backend> {
    pub store: Arc<dyn Store>,
    pub sink: Arc<Recorder>,
    pub place: B::Place,
}

/// Opens a fresh store with a recording sink.
pub async fn fixture<B: Backend>(backend: &B) -> Fixture<B> {
    let place = backend.fresh().await;
    let sink = Arc::new(Recorder::default());
    let store = backend.open(&place, sink.clone()).await;
    Fixture { store, sink, place }
}

/// A guest and a public room it owns.
pub async fn guest_and_room(store: &dyn Store, guest: &str, room: &str) -> (Actor, Room) {
    let actor = store.create_guest(guest, format!("hash-{guest}").as_bytes()).await.expect("create guest");
    let room = store.create_room(room, RoomKind::Public, &ActorRef::from(&actor)).await.expect("create room");
    (actor, room)
}

pub fn text(t: &str) -> NewEvent {
    NewEvent::Message { content: Content { text: t.into() }, client_id: None }
}

pub fn text_with_id(client_id: &str, t: &str) -> NewEvent {
    NewEvent::Message { content: Content { text: t.into() }, client_id: Some(client_id.into()) }
}

/// Every check, in one list: [`conformance_tests!`] and [`run_all`] both read it.
#[macro_export]
macro_rules! for_each_check {
    ($m:ident ! ($($args:tt)*)) => {
        $crate::$m!($($args)*;
            sequencing::concurrent_appends_are_gap_free_and_published_in_order,
            sequencing::events_are_published_before_the_append_resolves,
            sequencing::one_bad_request_does_not_fail_its_batch,
            sequencing::a_request_the_database_refuses_fails_alone,
            sequencing::a_failure_in_a_batch_of_several_rooms_leaves_no_gap,
            messages::a_client_id_is_idempotent_per_author_and_room,
            messages::message_lookups_match_exact_keys,
            messages::edits_and_deletes_show_in_history,
            messages::history_ranges_page_both_ways,
            messages::recent_messages_are_the_newest_live_ones,
            rooms::room_names_are_case_insensitive_and_unique,
            rooms::roles_and_memberships,
            rooms::the_log_lists_who_joined_and_did_not_leave,
            rooms::tokens_and_renames,
            rooms::reopening_keeps_everything,
            moderation::moderation_events_change_memberships,
            moderation::invites_are_used_up_and_expire,
            accounts::accounts_are_unique_by_key_and_change,
            accounts::two_factor_steps_and_recovery_codes_are_used_once,
            accounts::credentials_are_found_listed_revoked_and_rechecked,
            accounts::sessions_expire_when_idle_or_old_and_tokens_never,
            accounts::username_keys_are_recomputed_and_collisions_keep_their_old_key,
            accounts::invites_are_single_use_and_expire,
            direct::one_direct_room_per_set_of_people,
            direct::my_rooms_and_actors,
            direct::webhooks_are_created_found_and_revoked,
            sessions::idle_guests_expire_and_keep_their_name
        );
    };
}

/// Makes one `#[tokio::test]` per check, each with a backend built by `$backend`.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::for_each_check!(__confab_conformance_test!($backend));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __confab_conformance_test {
    ($backend:expr; $($module:ident :: $name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::$module::$name(&$backend).await
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __confab_run_each {
    ($backend:expr; $($module:ident :: $name:ident),*) => {
        $(
            $crate::$module::$name($backend).await;
        )*
    };
}

/// Runs every check, one after the other.
pub async fn run_all<B: Backend>(backend: &B) {
    for_each_check!(__confab_run_each!(backend));
}
