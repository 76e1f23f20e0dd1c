//! The store contract (`confab-store-conformance`), checked against SQLite: each check is its own
//! test, on its own temporary directory.

use std::sync::Arc;

use confab_core::store::{EventSink, Store};
use confab_store_conformance::Backend;
use confab_store_sqlite::SqliteStore;

struct Sqlite;

impl Backend for Sqlite {
    type Place = tempfile::TempDir;

    async fn fresh(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    async fn open(&self, place: &tempfile::TempDir, sink: Arc<dyn EventSink>) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(place.path(), sink).expect("open the SQLite store"))
    }
}

confab_store_conformance::conformance_tests!(Sqlite);
