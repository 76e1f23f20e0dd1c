//! Values in the database that this version does not know are refused, never read as a default.

use std::sync::Arc;

use confab_core::model::{ActorRef, RoomKind};
use confab_core::store::Store;
use confab_core::ErrorCode;
use confab_store_conformance::Recorder;
use confab_store_sqlite::SqliteStore;

/// A room kind or actor kind written by a newer version (or by hand) makes the read fail with
/// `internal`: an unknown room kind read as public would open a private room to everyone.
#[tokio::test]
async fn unknown_room_and_actor_kinds_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path(), Arc::new(Recorder::default())).expect("open");
    let ann = store.create_guest("ann", b"tok").await.expect("guest");
    store.create_room("vault", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let c = rusqlite::Connection::open(dir.path().join("confab.db")).expect("open db");
    c.execute_batch("UPDATE rooms SET kind = 'secret'; UPDATE actors SET kind = 'robot';").expect("update");
    assert_eq!(store.room("vault").await.expect_err("unknown room kind").code, ErrorCode::Internal);
    assert_eq!(store.rooms().await.expect_err("unknown room kind").code, ErrorCode::Internal);
    assert_eq!(store.actor_by_token(b"tok").await.expect_err("unknown actor kind").code, ErrorCode::Internal);
}
