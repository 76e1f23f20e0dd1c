//! The numbered migrations, applied at open. Several nodes may start at once against one database,
//! so the whole check-and-apply runs under a session advisory lock; each migration runs in its own
//! transaction and is recorded in `schema_migrations`.

use deadpool_postgres::Object;

use crate::OpenError;

/// Migrations in order; each runs once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_accounts.sql")),
    (3, include_str!("../migrations/0003_rooms.sql")),
    (4, include_str!("../migrations/0004_direct.sql")),
    (5, include_str!("../migrations/0005_guest_expiry.sql")),
    (6, include_str!("../migrations/0006_username_case_folding.sql")),
];

/// Creates the schema if asked for, and applies what is missing. The advisory lock is keyed by the
/// schema's name, so that nodes sharing a schema wait for each other and other schemas do not.
pub async fn migrate(client: &mut Object, schema: Option<&str>) -> Result<(), OpenError> {
    let key = format!("confab-migrations:{}", schema.unwrap_or("(search_path)"));
    client.execute("SELECT pg_advisory_lock(hashtext($1))", &[&key]).await.map_err(OpenError::migrate)?;
    let applied = apply(client, schema).await;
    // When unlocking fails the connection is dropped by the caller's error path, which ends the
    // session and with it the lock.
    let unlocked = client.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key]).await;
    applied?;
    unlocked.map(drop).map_err(OpenError::migrate)
}

async fn apply(client: &mut Object, schema: Option<&str>) -> Result<(), OpenError> {
    if let Some(schema) = schema {
        // The name was checked to need no quoting (settings::check_schema_name).
        client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.map_err(OpenError::migrate)?;
    }
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .await
        .map_err(OpenError::migrate)?;
    for (version, sql) in MIGRATIONS {
        let done = client
            .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version])
            .await
            .map_err(OpenError::migrate)?
            .is_some();
        if done {
            continue;
        }
        let tx = client.transaction().await.map_err(OpenError::migrate)?;
        tx.batch_execute(sql).await.map_err(OpenError::migrate)?;
        if *version == REKEY_VERSION {
            rekey_usernames(&tx).await?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &confab_core::model::now_ms()],
        )
        .await
        .map_err(OpenError::migrate)?;
        tx.commit().await.map_err(OpenError::migrate)?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

/// Migration 6's Rust part: username keys by full Unicode case folding (`straße` and `strasse`
/// are one name). Accounts that the new rule makes one keep their old key
/// (`confab_core::accounts::username::rekey`). In the migration's transaction, under the
/// migrations' advisory lock.
const REKEY_VERSION: i64 = 6;

async fn rekey_usernames(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), OpenError> {
    use confab_core::accounts::username;
    let rows = tx.query(crate::accounts::REKEY_SELECT, &[]).await.map_err(OpenError::migrate)?;
    let stored = rows.iter().map(crate::accounts::stored_key).collect::<Result<Vec<_>, _>>().map_err(|e| OpenError::Migrate(e.to_string()))?;
    let moves = username::rekey(&stored);
    for (id, key) in &moves {
        tx.execute(crate::accounts::REKEY_UPDATE, &[key, id]).await.map_err(OpenError::migrate)?;
    }
    if !moves.is_empty() {
        tracing::info!(changed = moves.len(), "recomputed username keys with full case folding");
    }
    Ok(())
}
