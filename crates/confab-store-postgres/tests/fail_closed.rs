//! Values in the database that this version does not know are refused, never read as a default.

mod support;

use std::sync::Arc;

use confab_core::model::{ActorRef, RoomKind};
use confab_core::store::Store;
use confab_core::ErrorCode;
use confab_store_conformance::Recorder;
use confab_store_postgres::PostgresStore;
use support::TestSchema;

/// A room kind, actor kind or role written by a newer version (or by hand) makes the read fail with
/// `internal`: an unknown room kind read as public would open a private room to everyone.
#[tokio::test]
async fn unknown_room_and_actor_kinds_and_roles_are_errors() {
    let schema = TestSchema::new();
    let store = PostgresStore::open(&schema.settings(), Arc::new(Recorder::default())).await.expect("open");
    let ann = store.create_guest("ann", b"tok").await.expect("guest");
    let room = store.create_room("vault", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let (client, conn) = tokio_postgres::connect(&support::database_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    let s = &schema.name;
    client
        .batch_execute(&format!(
            "UPDATE {s}.rooms SET kind = 'secret'; UPDATE {s}.actors SET kind = 'robot'; UPDATE {s}.memberships SET role = 'king'"
        ))
        .await
        .expect("update");
    assert_eq!(store.room("vault").await.expect_err("unknown room kind").code, ErrorCode::Internal);
    assert_eq!(store.rooms().await.expect_err("unknown room kind").code, ErrorCode::Internal);
    assert_eq!(store.actor_by_token(b"tok").await.expect_err("unknown actor kind").code, ErrorCode::Internal);
    assert_eq!(store.role(room.id, &ann.id).await.expect_err("unknown role").code, ErrorCode::Internal);
}
