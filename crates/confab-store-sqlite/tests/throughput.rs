//! Durable acknowledged appends per second on SQLite (ignored by default: a measurement, not a
//! check). `cargo test --release -p confab-store-sqlite --test throughput -- --ignored --nocapture`

use std::sync::Arc;
use std::time::Duration;

use confab_store_conformance::{throughput, Recorder};
use confab_store_sqlite::SqliteStore;

/// 200 appenders, each awaiting its acknowledgement before the next, for 5 s: one room, then 20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn acknowledged_appends_per_second() {
    for rooms in [1, 20] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path(), Arc::new(Recorder::default())).expect("open");
        let result = throughput::measure(Arc::new(store), 200, rooms, Duration::from_secs(5)).await;
        println!("sqlite: {result}");
        assert!(result.acked > 0);
    }
}
