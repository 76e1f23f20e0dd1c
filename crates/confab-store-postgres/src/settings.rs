//! How to reach the database and how much of it to use: the connection URL, the schema, the pool,
//! the writer's queue and batch, and the timeout that bounds every wait on PostgreSQL.

use std::time::Duration;

use crate::OpenError;

#[derive(Debug, Clone)]
pub struct PgSettings {
    /// A libpq-style URL (`postgres://user@host:port/db?...`) or key=value string.
    pub url: String,
    /// Schema holding Confab's tables, created if missing; `None` uses the URL's search_path
    /// (normally `public`). Lower-case letters, digits and `_` only.
    pub schema: Option<String>,
    /// Connections open at most, shared by the writer (one at a time) and readers.
    pub pool_size: usize,
    /// Appends waiting for the writer at most; beyond it an append fails at once with
    /// `unavailable` rather than holding memory while the database is slow or away.
    pub queue: usize,
    /// Appends committed in one transaction at most.
    pub batch: usize,
    /// Longest wait for PostgreSQL: a connection from the pool, a connect, a read, one group
    /// commit. Past it the request fails with `unavailable` and the connection is discarded.
    pub timeout: Duration,
}

impl PgSettings {
    pub const DEFAULT_POOL_SIZE: usize = 16;
    pub const DEFAULT_QUEUE: usize = 10_000;
    pub const DEFAULT_BATCH: usize = 1_000;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Settings with the defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        PgSettings {
            url: url.into(),
            schema: None,
            pool_size: Self::DEFAULT_POOL_SIZE,
            queue: Self::DEFAULT_QUEUE,
            batch: Self::DEFAULT_BATCH,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The driver's connection settings: the URL, then the schema as every connection's search_path
    /// (set in the startup packet, so a pooled connection can never run without it), the timeout
    /// for connecting, and TCP keepalives so that a dead peer is noticed on idle connections.
    pub(crate) fn pg_config(&self) -> Result<tokio_postgres::Config, OpenError> {
        if self.pool_size < 2 || self.queue == 0 || self.batch == 0 || self.timeout.is_zero() {
            return Err(OpenError::Settings(
                "the pool needs at least 2 connections (one writes); queue, batch and timeout must be above 0".into(),
            ));
        }
        let mut config: tokio_postgres::Config =
            self.url.parse().map_err(|e| OpenError::Settings(format!("database URL: {e}")))?;
        // Appended to the URL's own options. NOTICEs ("schema already exists, skipping" at every
        // start) would otherwise be logged as the driver's info lines.
        let mut options = config.get_options().unwrap_or_default().to_string();
        options.push_str(" -c client_min_messages=warning");
        if let Some(schema) = &self.schema {
            check_schema_name(schema)?;
            options.push_str(&format!(" -c search_path={schema}"));
        }
        config.options(options.trim_start());
        config.application_name("confab");
        config.connect_timeout(self.timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        Ok(config)
    }
}

/// A schema name that needs no quoting anywhere (SQL, the startup packet's options).
fn check_schema_name(schema: &str) -> Result<(), OpenError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(OpenError::Settings(format!(
            "schema {schema:?}: use 1 to 63 lower-case letters, digits or '_', not starting with a digit"
        )))
    }
}
