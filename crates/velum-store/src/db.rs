use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Sqlite, SqlitePool, Transaction};

/// Embedded migrations, one tree per backend with the same numbers.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The key does not open this database (wrong master key, or not a Velum database).
    #[error("the database cannot be opened with this master key (wrong key, or not a Velum data file)")]
    WrongKey,
    /// The database was written by a newer Velum.
    #[error("the database schema (version {found}) is newer than this Velum binary supports (version {supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    /// A uniqueness rule was broken (constraint name given).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] velum_crypto::CryptoError),
}

impl StoreError {
    /// Map a unique-constraint violation to `Conflict`, leave others alone.
    pub(crate) fn from_sqlx(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned());
        }
        StoreError::Database(e)
    }
}

/// The database. Cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// One transaction. Every write goes through one; the audit event of an
/// action is appended in the same one.
pub struct Tx {
    pub(crate) inner: Transaction<'static, Sqlite>,
}

impl Tx {
    pub(crate) fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.inner
    }

    /// # Errors
    /// The commit failed; nothing of the transaction was kept.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await.map_err(StoreError::from)
    }
}

impl Store {
    /// Open (creating if needed) the encrypted SQLite database at `path`,
    /// keyed with `key` (SQLCipher raw-key literal from the master key), and
    /// bring its schema up to date.
    ///
    /// # Errors
    /// `WrongKey` when the key does not open the file; `SchemaTooNew` when a
    /// newer Velum wrote it; database errors otherwise.
    pub async fn open_sqlite(path: &Path, key: &SecretString) -> Result<Store, StoreError> {
        // The key pragma must be the first statement on each connection; sqlx
        // sends pragmas in insertion order and `key` first. Its value is a
        // quoted SQL literal and is never logged.
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .pragma("key", format!("\"{}\"", key.expose_secret()))
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Statement logging would print the key pragma: never.
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| {
                if is_not_a_database(&e) {
                    StoreError::WrongKey
                } else {
                    StoreError::Database(e)
                }
            })?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Apply pending migrations; refuse a schema newer than this binary.
    ///
    /// # Errors
    /// See [`Store::open_sqlite`].
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let supported = SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_optional(&self.pool)
            .await
            .or_else(|e| match e {
                // No migrations table yet: a fresh database.
                sqlx::Error::Database(_) => Ok(None),
                other => Err(other),
            })
            .map_err(|e| {
                if is_not_a_database(&e) {
                    StoreError::WrongKey
                } else {
                    StoreError::Database(e)
                }
            })?
            .flatten();
        if let Some(found) = found
            && found > supported
        {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        SQLITE_MIGRATIONS.run(&self.pool).await?;
        Ok(())
    }

    /// Begin a write transaction. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout
    /// instead of failing when they upgrade a read lock.
    ///
    /// # Errors
    /// The database could not start a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Tx { inner })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begin a read-only transaction (no write lock taken up front).
    ///
    /// # Errors
    /// The database could not start a transaction.
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        let inner = self.pool.begin().await?;
        Ok(Tx { inner })
    }

    /// Close the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The names of every table and its columns, for the schema-parity test.
    ///
    /// # Errors
    /// Database errors.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
             ORDER BY m.name, p.name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

fn is_not_a_database(e: &sqlx::Error) -> bool {
    match e {
        // SQLITE_NOTADB (26): what SQLCipher reports for a wrong key.
        sqlx::Error::Database(db) => db.code().as_deref() == Some("26"),
        _ => false,
    }
}

/// Parse helper shared by the repositories.
pub(crate) fn parse_enum<T: FromStr>(s: &str, what: &'static str) -> Result<T, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt(what))
}
