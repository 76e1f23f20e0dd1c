//! Several store instances on one schema, as several Confab nodes on one database.

mod support;

use std::sync::Arc;

use confab_core::model::{ActorRef, RoomKind};
use confab_core::store::{EventRange, Store};
use confab_store_conformance::{text, Recorder};
use confab_store_postgres::PostgresStore;
use support::TestSchema;

/// Two nodes started at the same moment on a fresh schema both open (the migrations run once, under
/// the advisory lock), then append to one room concurrently: the room's sequence stays 1..=N with no
/// gap or repeat, and each node's sink sees exactly its own events, in increasing sequence order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_appending_to_one_room_stay_gap_free() {
    let schema = TestSchema::new();
    let (sink_a, sink_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let settings = schema.settings();
    let (a, b) = tokio::join!(PostgresStore::open(&settings, sink_a.clone()), PostgresStore::open(&settings, sink_b.clone()));
    let (a, b): (Arc<dyn Store>, Arc<dyn Store>) = (Arc::new(a.expect("node a")), Arc::new(b.expect("node b")));
    let ann = a.create_guest("ann", b"tok-ann").await.expect("guest");
    a.create_room("shared", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let room = b.room("SHARED").await.expect("lookup").expect("node b sees node a's room");

    const PER_TASK: usize = 100;
    let mut tasks = Vec::new();
    for (node, store) in [(0, &a), (1, &b)] {
        for t in 0..4 {
            let (store, room, me) = (Arc::clone(store), room.clone(), ActorRef::from(&ann));
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::with_capacity(PER_TASK);
                for i in 0..PER_TASK {
                    seqs.push(store.append(&room, me.clone(), text(&format!("{node}-{t}-{i}"))).await.expect("append").seq);
                }
                (node, seqs)
            }));
        }
    }
    let mut by_node = [Vec::new(), Vec::new()];
    for task in tasks {
        let (node, seqs) = task.await.expect("appender");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one caller's appends keep its order");
        by_node[node].extend(seqs);
    }
    let total = 8 * PER_TASK as i64;
    let mut all: Vec<i64> = by_node.iter().flatten().copied().collect();
    all.sort();
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "gap-free across nodes, no seq given twice");
    for (node, sink) in [(0, &sink_a), (1, &sink_b)] {
        let published: Vec<i64> = sink.seqs().into_iter().map(|(_, s)| s).collect();
        assert!(published.windows(2).all(|w| w[0] < w[1]), "node {node}'s sink sees increasing seqs");
        let mut mine = by_node[node].clone();
        mine.sort();
        assert_eq!(published, mine, "node {node}'s sink sees exactly its own events");
        assert!(!mine.is_empty());
    }
    let log = b.events(room.id, EventRange::After(0), 10_000).await.expect("events");
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    assert_eq!(a.top_seq(room.id).await.expect("top"), total);

    let (client, conn) = tokio_postgres::connect(&support::database_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    // Every version once, none skipped (not a fixed count: each batch of features adds migrations).
    let sql = format!("SELECT count(*), count(DISTINCT version), max(version) FROM {}.schema_migrations", schema.name);
    let row = client.query_one(&sql, &[]).await.expect("count");
    let (applied, distinct, top): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((applied, distinct), (top, top), "each migration applied once");
}

/// A schema written before full case folding (migration 6 not applied, keys lower-cased only) is
/// rekeyed when a node opens it: `straße` moves to the key of `strasse`; of the old pair `groß` and
/// `gross` (created in that order), `gross` keeps the key it holds and `groß` its old one.
#[tokio::test]
async fn opening_a_schema_from_before_case_folding_rekeys_usernames() {
    use confab_core::accounts::username::{key, legacy_key};
    use confab_core::accounts::NewUser;
    let schema = TestSchema::new();
    let settings = schema.settings();
    let store = PostgresStore::open(&settings, Arc::new(Recorder::default())).await.expect("open");
    let old = |name: &str| NewUser {
        username: name.into(),
        username_key: legacy_key(name),
        display_name: name.into(),
        password_hash: "$argon2id$fake".into(),
        admin: false,
    };
    let strasse = store.create_user(&old("straße")).await.unwrap();
    let gross_old = store.create_user(&old("groß")).await.unwrap();
    let gross_new = store.create_user(&old("gross")).await.unwrap();
    drop(store);
    let (client, conn) = tokio_postgres::connect(&support::database_url(), tokio_postgres::NoTls).await.unwrap();
    let task = tokio::spawn(conn);
    client.batch_execute(&format!("DELETE FROM {}.schema_migrations WHERE version = 6", schema.name)).await.unwrap();
    drop(client);
    let _ = task.await;

    let store = PostgresStore::open(&settings, Arc::new(Recorder::default())).await.expect("reopen");
    assert_eq!(store.user_by_key(&key("STRASSE")).await.unwrap().map(|u| u.actor.id), Some(strasse.actor.id));
    assert_eq!(store.user_by_key(&key("gross")).await.unwrap().map(|u| u.actor.id), Some(gross_new.actor.id));
    let kept = store.user(&gross_old.actor.id).await.unwrap().unwrap();
    assert_eq!(kept.username_key, legacy_key("groß"), "the later-moving one of a colliding pair keeps its old key");
    assert!(store.rekey_usernames().await.unwrap().is_empty(), "done once");
}
