//! What `velum backup` and `velum restore` need from the database: a
//! consistent copy of the embedded file taken while the server runs
//! (`VACUUM INTO`, one read transaction, written under the same SQLCipher
//! key), an exported snapshot on PostgreSQL for `pg_dump --snapshot`, the
//! row count of every table as of that snapshot, whether a PostgreSQL
//! database is empty, and a sample of medical summaries to open.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::Connection as _;
use velum_core::id::{ClientId, ClinicId};

use crate::db::{Backend, Pool, Store, StoreError, Tx, pg_options};

impl Store {
    /// Write a consistent copy of the embedded database to `path` (which
    /// must not exist) with `VACUUM INTO`: it reads the whole database in
    /// one read transaction, so writers carry on meanwhile, and SQLCipher
    /// writes the copy under the main database's key, so it is as encrypted
    /// as the original. `None` on PostgreSQL (use `pg_dump`).
    ///
    /// # Errors
    /// Database errors (a path that exists, no room).
    pub async fn sqlite_snapshot_into(&self, path: &Path) -> Result<Option<()>, StoreError> {
        let Pool::Sqlite(p) = &self.pool else {
            return Ok(None);
        };
        let target = path
            .to_str()
            .ok_or(StoreError::Corrupt("the backup path is not UTF-8"))?
            .to_owned();
        sqlx::query("VACUUM INTO $1").bind(target).execute(p).await?;
        Ok(Some(()))
    }

    /// Whether the PostgreSQL database at `url` holds no table in the
    /// `public` schema (a fresh database to restore into). Connects without
    /// migrating anything.
    ///
    /// # Errors
    /// `BadUrl`, `Unreachable`, database errors.
    pub async fn postgres_is_empty(url: &str) -> Result<bool, StoreError> {
        let opts = pg_options(url)?;
        let mut conn = sqlx::PgConnection::connect_with(&opts)
            .await
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        let tables: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
                .fetch_one(&mut conn)
                .await?;
        conn.close().await?;
        Ok(tables == 0)
    }
}

/// On PostgreSQL, export `tx`'s snapshot for `pg_dump --snapshot` (the
/// transaction must be `REPEATABLE READ`, [`Store::begin_snapshot`], and
/// stay open until `pg_dump` has started its own). `None` on SQLite.
///
/// # Errors
/// Database errors.
pub async fn export_snapshot(tx: &mut Tx) -> Result<Option<String>, StoreError> {
    match &mut tx.inner {
        crate::db::TxInner::Sqlite(_) => Ok(None),
        crate::db::TxInner::Pg(t) => Ok(Some(
            sqlx::query_scalar("SELECT pg_export_snapshot()")
                .fetch_one(&mut **t)
                .await?,
        )),
    }
}

/// How many migrations this build applies (the same on both backends): the
/// row count of `_sqlx_migrations` in a database it has migrated, so a
/// backup's manifest says which schema it holds.
#[must_use]
pub fn migrations_applied() -> i64 {
    i64::try_from(crate::migrations::SQLITE_MIGRATIONS.iter().count()).unwrap_or(i64::MAX)
}

/// The number of rows of every table of the schema (the migrations' own
/// table included), as `tx` sees them.
///
/// # Errors
/// Database errors.
pub async fn table_counts(tx: &mut Tx) -> Result<BTreeMap<String, i64>, StoreError> {
    let sql = match tx.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    let names: Vec<String> = on_tx!(tx, |c| sqlx::query_scalar(sql).fetch_all(c).await)?;
    let mut counts = BTreeMap::new();
    for name in names {
        // The names come from the catalogue; quoted all the same.
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_one(c)
            .await)?;
        counts.insert(name, n);
    }
    Ok(counts)
}

/// Up to `limit` clients that have a medical summary, across clinics, for a
/// restored copy to prove it opens: a system check over the whole
/// installation, not a clinic's use case, so it is not scoped to one clinic.
///
/// # Errors
/// Database errors.
pub async fn medical_sample(tx: &mut Tx, limit: i64) -> Result<Vec<(ClinicId, ClientId)>, StoreError> {
    let rows: Vec<(uuid::Uuid, uuid::Uuid)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT clinic_id, client_id FROM client_medical ORDER BY clinic_id, client_id LIMIT $1"
    )
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(clinic, client)| (ClinicId::from_uuid(clinic), ClientId::from_uuid(client)))
        .collect())
}

/// The size of the database in bytes: `pg_database_size` on PostgreSQL,
/// pages times page size on SQLite.
///
/// # Errors
/// Database errors.
pub async fn pg_database_size(tx: &mut Tx) -> Result<u64, StoreError> {
    let n: i64 = match tx.backend() {
        Backend::Postgres => on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT pg_database_size(current_database())"
        )
        .fetch_one(c)
        .await)?,
        Backend::Sqlite => on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        )
        .fetch_one(c)
        .await)?,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
