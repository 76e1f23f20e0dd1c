//! Shared by the PostgreSQL store's tests: the database to use, a schema of its own per test
//! (dropped afterwards), and the conformance suite's backend.
//!
//! The database is `CONFAB_TEST_DATABASE_URL`, by default the local server scripts/test starts
//! (`postgres://postgres@127.0.0.1:5432/test`). Schemas are named `confab_pg_<random>` so that
//! tests, and engineers sharing the server, never see each other's data.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use confab_core::store::{EventSink, Store};
use confab_store_conformance::Backend;
use confab_store_postgres::{PgSettings, PostgresStore};
use rand::Rng;

pub fn database_url() -> String {
    std::env::var("CONFAB_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema name no other test uses. The store creates it when it opens.
pub struct TestSchema {
    pub name: String,
    url: String,
}

impl TestSchema {
    pub fn new() -> TestSchema {
        let tail: String = (0..12).map(|_| char::from(b'a' + rand::rng().random_range(0..26u8))).collect();
        TestSchema { name: format!("confab_pg_{tail}"), url: database_url() }
    }

    /// Settings for a store in this schema: a small pool (the server is shared) and a short timeout.
    pub fn settings(&self) -> PgSettings {
        let mut s = PgSettings::new(self.url.clone()).with_schema(self.name.clone());
        s.pool_size = 4;
        s.timeout = Duration::from_secs(5);
        s
    }
}

impl Drop for TestSchema {
    /// Drops the schema on a thread of its own (a destructor cannot await, and may run inside a
    /// runtime). A failure is only reported: the schema's random name keeps it out of others' way.
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
                let task = tokio::spawn(conn);
                let done = client.batch_execute(&format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE")).await.map_err(|e| e.to_string());
                drop(client);
                let _ = task.await;
                done
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

/// The conformance suite's backend: a fresh schema per test.
pub struct Postgres;

impl Backend for Postgres {
    type Place = TestSchema;

    async fn fresh(&self) -> TestSchema {
        TestSchema::new()
    }

    async fn open(&self, place: &TestSchema, sink: Arc<dyn EventSink>) -> Arc<dyn Store> {
        Arc::new(PostgresStore::open(&place.settings(), sink).await.expect("open the PostgreSQL store"))
    }
}
