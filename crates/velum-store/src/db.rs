use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use velum_crypto::MasterKey;
use velum_crypto::chain::ChainKey;

/// Embedded migrations, one tree per backend with the same numbers (a test
/// checks the numbers and the resulting tables and columns match).
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The key does not open this database (wrong master key, or not a Velum database).
    #[error("the database cannot be opened with this master key (wrong key, or not a Velum database)")]
    WrongKey,
    /// The database was written by a newer Velum.
    #[error("the database schema (version {found}) is newer than this Velum binary supports (version {supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    /// The database URL is not one Velum understands.
    #[error("{0}")]
    BadUrl(String),
    /// The database server could not be reached.
    #[error("cannot connect to PostgreSQL: {0}")]
    Unreachable(String),
    /// A uniqueness rule was broken (constraint name given).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] velum_crypto::CryptoError),
}

impl StoreError {
    /// PostgreSQL refused a write that raced another transaction under
    /// `REPEATABLE READ` (SQLSTATE 40001); running it again is safe.
    #[must_use]
    pub fn is_serialization_failure(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40001"))
    }

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

/// Which database engine holds the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded, SQLCipher-encrypted file.
    Sqlite,
    /// A PostgreSQL server (hosted, multi-clinic).
    Postgres,
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// The database. Cheap to clone (a pool inside). Which backend it is stays
/// inside this crate: the app and web layers never see it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// The master key, handed over by the app ([`Store::with_master_key`])
    /// for one purpose: sealing outbox mail and job payloads under their
    /// clinic's key inside the transaction that queues them, and opening
    /// them to send or run ([`crate::outbox`], [`crate::jobs`]). Nothing
    /// else in the store uses it.
    keys: Option<Arc<MasterKey>>,
    /// Makes and checks the audit chain's keyed (v2) links; every
    /// transaction carries it, so every append and every verification is
    /// keyed without its callers passing it.
    chain: Arc<ChainKey>,
}

pub(crate) enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

/// One transaction. Every write goes through one; the audit event of an
/// action is appended in the same one.
pub struct Tx {
    pub(crate) inner: TxInner,
    /// The store's master key, for the outbox (see [`Store`]).
    pub(crate) keys: Option<Arc<MasterKey>>,
    pub(crate) chain: Arc<ChainKey>,
}

/// Run one query on whichever backend `tx` is on. The body is written once
/// and compiled for each backend, so the SQL must be in the dialect both
/// share (`$n` placeholders, `RETURNING`, `ON CONFLICT`, `TRUE`/`FALSE`);
/// where they differ, branch on [`Tx::backend`].
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match &mut $tx.inner {
            $crate::db::TxInner::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxInner::Pg(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

impl Tx {
    /// # Errors
    /// The commit failed; nothing of the transaction was kept.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Pg(t) => t.commit().await?,
        }
        Ok(())
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Pg(_) => Backend::Postgres,
        }
    }
}

/// How strict TLS to PostgreSQL must be (docs/deploy/postgres.md): a
/// server anywhere but on this machine is reached with
/// `sslmode=verify-full` (encrypted, certificate chained to a trusted CA and
/// naming the host), since the connection carries the clinics' sealed data
/// and the credentials. A URL without `sslmode` gets `verify-full`; a URL
/// that asks for anything weaker (`disable`, `allow`, `prefer`, `require`,
/// `verify-ca`) is refused rather than quietly changed. A loopback host
/// (127.0.0.0/8, `::1`, `localhost`) or a Unix socket (a host that is a path,
/// in the authority or a `host=` parameter) keeps what the URL says. An
/// explicit `sslrootcert` (or `PGSSLROOTCERT`) is honoured: the server's
/// certificate may then chain to that CA as well as to a public one.
///
/// # Errors
/// `BadUrl`, one line that never repeats the URL (it may hold a password).
pub fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let opts = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::BadUrl("the database URL could not be parsed".into()))?;
    let local = opts.get_socket().is_some() || is_loopback_host(opts.get_host());
    if local {
        return Ok(opts);
    }
    if matches!(opts.get_ssl_mode(), PgSslMode::VerifyFull) {
        return Ok(opts);
    }
    // Anything weaker: refused when the URL asked for it, upgraded when it
    // came from the default (`prefer`) or `PGSSLMODE`.
    if url_sslmode(url).is_some() {
        return Err(StoreError::BadUrl(
            "a database server that is not on this machine must be reached with sslmode=verify-full \
             (or no sslmode, which means verify-full); weaker modes are refused"
                .into(),
        ));
    }
    Ok(opts.ssl_mode(PgSslMode::VerifyFull))
}

/// The `sslmode` the URL itself names (the last one, as the driver reads them).
fn url_sslmode(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "sslmode" || *k == "ssl-mode")
        .map(|(_, v)| v.to_owned())
        .next_back()
}

/// 127.0.0.0/8, `::1` (with or without brackets) and `localhost`.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Store {
    /// Open (creating if needed) the encrypted SQLite database at `path`,
    /// keyed with `key` (SQLCipher raw-key literal from the master key), and
    /// bring its schema up to date.
    ///
    /// # Errors
    /// `WrongKey` when the key does not open the file; `SchemaTooNew` when a
    /// newer Velum wrote it; database errors otherwise.
    pub async fn open_sqlite(
        path: &Path,
        key: &SecretString,
        fingerprint: &str,
        chain: ChainKey,
    ) -> Result<Store, StoreError> {
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
            // 64 MiB of decrypted pages: SQLCipher decrypts a page on every
            // cache miss, so the working set should stay hot.
            .pragma("cache_size", "-65536")
            // Deleted rows are overwritten with zeros, not left in free
            // pages (offboarding and crypto-shredding delete key rows).
            // The bundled SQLCipher defaults to it already; set here so that
            // a build with another default cannot turn it off unnoticed.
            .pragma("secure_delete", "ON")
            // Statement logging would print the key pragma: never.
            .disable_statement_logging();
        // One connection. Every use case writes (its audit event), and
        // SQLite runs one writer at a time anyway, so more connections add no
        // concurrency; they would only throw away each other's page caches
        // (a connection discards its cache when another one has written),
        // and with SQLCipher every cache miss is a page decryption.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(opts)
            .await
            .map_err(not_a_database)?;
        let store = Store {
            pool: Pool::Sqlite(pool),
            keys: None,
            chain: Arc::new(chain),
        };
        store.migrate().await?;
        store.check_key(fingerprint).await?;
        Ok(store)
    }

    /// Connect to PostgreSQL at `url` and bring its schema up to date.
    ///
    /// # Errors
    /// `BadUrl` for a URL that is not `postgres://`; connection errors;
    /// `SchemaTooNew`; `WrongKey` when the data was written under another
    /// master key.
    pub async fn open_postgres(url: &str, fingerprint: &str, chain: ChainKey) -> Result<Store, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::BadUrl(
                "the database URL must start with postgres://".into(),
            ));
        }
        let opts = pg_options(url)?.disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        let store = Store {
            pool: Pool::Pg(pool),
            keys: None,
            chain: Arc::new(chain),
        };
        store.migrate().await?;
        store.check_key(fingerprint).await?;
        Ok(store)
    }

    /// Give the store the master key, so the outbox can seal mail under
    /// its clinic's key as it is queued (see [`crate::outbox`]). Without
    /// it, queueing mail fails.
    #[must_use]
    pub fn with_master_key(mut self, master: Arc<MasterKey>) -> Store {
        self.keys = Some(master);
        self
    }

    /// After a large deletion (an offboarding): on SQLite, `VACUUM`
    /// rebuilds the file so it has no free pages left (with `secure_delete`
    /// on, deleted rows were zeroed already; this also returns the space),
    /// then the write-ahead log is checkpointed and truncated.
    /// Returns the file's free-page count afterwards (0). On PostgreSQL it
    /// does nothing and returns `None`: `VACUUM` there only marks dead rows'
    /// space reusable and does not overwrite it; see docs/SECURITY.md.
    ///
    /// # Errors
    /// Database errors (SQLite cannot vacuum inside a transaction or while
    /// another connection reads; the pool has one connection).
    pub async fn vacuum_after_delete(&self) -> Result<Option<i64>, StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("VACUUM").execute(p).await?;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await?;
                let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(p).await?;
                Ok(Some(free))
            }
            Pool::Pg(_) => Ok(None),
        }
    }

    /// `PRAGMA secure_delete` and `PRAGMA freelist_count` on a pool
    /// connection (SQLite; `None` on PostgreSQL): what tests check after an
    /// offboarding.
    ///
    /// # Errors
    /// Database errors.
    pub async fn sqlite_deletion_state(&self) -> Result<Option<(i64, i64)>, StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let secure: i64 = sqlx::query_scalar("PRAGMA secure_delete").fetch_one(p).await?;
                let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(p).await?;
                Ok(Some((secure, free)))
            }
            Pool::Pg(_) => Ok(None),
        }
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Pg(_) => Backend::Postgres,
        }
    }

    /// Apply pending migrations; refuse a schema newer than this binary.
    ///
    /// # Errors
    /// See [`Store::open_sqlite`].
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Pg(_) => &PG_MIGRATIONS,
        };
        let supported = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let sql = "SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE";
        let found: Result<Option<i64>, sqlx::Error> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
            Pool::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        };
        let found = match found {
            Ok(v) => v,
            // No migrations table yet: a fresh database.
            Err(sqlx::Error::Database(e)) if !is_not_a_database_code(e.code().as_deref()) => None,
            Err(e) => return Err(not_a_database(e)),
        };
        if let Some(found) = found
            && found > supported
        {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        match &self.pool {
            Pool::Sqlite(p) => migrator.run(p).await?,
            Pool::Pg(p) => migrator.run(p).await?,
        }
        Ok(())
    }

    /// The master key's fingerprint is stored with the data on first use;
    /// a different key is refused at start-up, before anything is written
    /// (on SQLite, SQLCipher refuses it even earlier).
    async fn check_key(&self, fingerprint: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let stored: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT value FROM meta WHERE key = 'master_key_fingerprint'"
        )
        .fetch_optional(c)
        .await)?;
        match stored {
            Some(s) if s == fingerprint => Ok(()),
            Some(_) => Err(StoreError::WrongKey),
            None => {
                on_tx!(tx, |c| sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ('master_key_fingerprint', $1)"
                )
                .bind(fingerprint)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
                tx.commit().await
            }
        }
    }

    /// Begin a write transaction. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout
    /// instead of failing when they upgrade a read lock. PostgreSQL uses
    /// row locks where an order matters (the audit chain head).
    ///
    /// # Errors
    /// The database could not start a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Pg(p) => TxInner::Pg(p.begin().await?),
        };
        Ok(Tx {
            inner,
            keys: self.keys.clone(),
            chain: self.chain.clone(),
        })
    }

    /// Begin a write transaction whose reads all see one instant: the
    /// write lock on SQLite (`BEGIN IMMEDIATE`, so nobody writes meanwhile),
    /// `REPEATABLE READ` on PostgreSQL (one snapshot; a write to a row
    /// another transaction changed after the snapshot fails with a
    /// serialization error instead of mixing two instants). For moving a
    /// whole clinic, where the audit chain and its head must agree.
    ///
    /// # Errors
    /// The database could not start a transaction.
    pub async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        if tx.backend() == Backend::Postgres {
            on_tx!(tx, |c| sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(tx)
    }

    /// Begin a read-only transaction (no write lock taken up front).
    ///
    /// # Errors
    /// The database could not start a transaction.
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin().await?),
            Pool::Pg(p) => TxInner::Pg(p.begin().await?),
        };
        Ok(Tx {
            inner,
            keys: self.keys.clone(),
            chain: self.chain.clone(),
        })
    }

    /// Close the pool (on SQLite this checkpoints the WAL).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Pg(p) => p.close().await,
        }
    }

    /// Every table and its columns, for the schema-parity test.
    ///
    /// # Errors
    /// Database errors.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
                     ORDER BY m.name, p.name",
                )
                .fetch_all(p)
                .await?
            }
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
                     ORDER BY table_name, column_name",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows)
    }

    /// Every primary key, foreign key and unique index, as (table, kind,
    /// columns in key order), sorted. A column of an index that is an
    /// expression (such as `lower(name)`) is listed as `(expression)`. Kind is `primary key`, `unique`, or
    /// `foreign key -> <referenced table>`. For the schema-parity test and
    /// the check that clinic_id leads every key of clinic data.
    ///
    /// # Errors
    /// Database errors.
    pub async fn schema_keys(&self) -> Result<Vec<SchemaKey>, StoreError> {
        let rows: Vec<(String, String, String, i64, String)> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(
                    "WITH t AS (SELECT name FROM sqlite_master WHERE type = 'table' \
                                AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations') \
                     SELECT t.name, 'primary key', '', p.pk, p.name FROM t JOIN pragma_table_info(t.name) p \
                       WHERE p.pk > 0 \
                     UNION ALL \
                     SELECT t.name, 'foreign key -> ' || f.\"table\", CAST(f.id AS TEXT), f.seq, f.\"from\" \
                       FROM t JOIN pragma_foreign_key_list(t.name) f \
                     UNION ALL \
                     SELECT t.name, 'unique', il.name, ii.seqno, COALESCE(ii.name, '(expression)') \
                       FROM t JOIN pragma_index_list(t.name) il JOIN pragma_index_info(il.name) ii \
                       WHERE il.\"unique\" = 1 AND il.origin <> 'pk'",
                )
                .fetch_all(p)
                .await?
            }
            Pool::Pg(p) => {
                sqlx::query_as(
                    "SELECT t.relname::text, \
                            CASE c.contype WHEN 'p' THEN 'primary key' \
                                 ELSE 'foreign key -> ' || (SELECT r.relname::text FROM pg_class r WHERE r.oid = c.confrelid) END, \
                            c.conname::text, k.ord, a.attname::text \
                     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                     WHERE n.nspname = current_schema() AND c.contype IN ('p', 'f') AND t.relname <> '_sqlx_migrations' \
                     UNION ALL \
                     SELECT t.relname::text, 'unique', ic.relname::text, k.ord, COALESCE(a.attname::text, '(expression)') \
                     FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                     LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                     WHERE n.nspname = current_schema() AND i.indisunique AND NOT i.indisprimary \
                       AND t.relname <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?
            }
        };
        let mut keys: std::collections::BTreeMap<(String, String, String), Vec<(i64, String)>> =
            std::collections::BTreeMap::new();
        for (table, kind, group, ord, column) in rows {
            keys.entry((table, kind, group)).or_default().push((ord, column));
        }
        let mut out: Vec<SchemaKey> = keys
            .into_iter()
            .map(|((table, kind, _), mut columns)| {
                columns.sort();
                SchemaKey {
                    table,
                    kind,
                    columns: columns.into_iter().map(|(_, c)| c).collect(),
                }
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

/// One key of the migrated schema (see [`Store::schema_keys`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaKey {
    pub table: String,
    pub kind: String,
    pub columns: Vec<String>,
}

/// SQLITE_NOTADB (26): what SQLCipher reports for a wrong key.
fn is_not_a_database_code(code: Option<&str>) -> bool {
    code == Some("26")
}

fn not_a_database(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if is_not_a_database_code(db.code().as_deref()) => StoreError::WrongKey,
        _ => StoreError::Database(e),
    }
}

/// Parse helper shared by the repositories.
pub(crate) fn parse_enum<T: FromStr>(s: &str, what: &'static str) -> Result<T, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt(what))
}

#[cfg(test)]
mod tests {
    /// G10: both migration trees carry the same numbers (and so the same
    /// steps); the contract suite compares the migrated schemas.
    #[test]
    fn both_backends_have_the_same_migration_numbers() {
        let numbers = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| {
                    e.unwrap()
                        .file_name()
                        .to_string_lossy()
                        .split('_')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            v.sort();
            v
        };
        let sqlite = numbers("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, numbers("postgres"));
    }
}

/// Upgrades from the previous schema, with data in it, on both backends
/// (the PostgreSQL half runs when `VELUM_TEST_PG_URL` is set).
#[cfg(test)]
mod upgrade_tests {
    use sqlx::migrate::Migrator;
    use uuid::Uuid;

    use super::*;
    use crate::{outbox, sessions, staff};

    #[expect(
        clippy::disallowed_methods,
        reason = "the test server is named by the environment, as in the testkit"
    )]
    fn pg_url() -> Option<String> {
        std::env::var("VELUM_TEST_PG_URL").ok()
    }

    /// True (after saying so) when no PostgreSQL server is configured; under
    /// CI (`CI` set) a missing server fails the test instead.
    #[expect(
        clippy::disallowed_methods,
        reason = "CI is named by the environment, as in the testkit"
    )]
    fn skip_without_pg() -> bool {
        if pg_url().is_some() {
            return false;
        }
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty());
        assert!(!ci, "PostgreSQL upgrade test: VELUM_TEST_PG_URL is not set and CI is");
        eprintln!("SKIPPED: PostgreSQL upgrade test: VELUM_TEST_PG_URL is not set");
        true
    }

    /// A test's temporary directory and, on PostgreSQL, its own database:
    /// both deleted when this is dropped, also when the test fails.
    struct Scratch {
        _dir: tempfile::TempDir,
        /// The admin URL and the database's name.
        pg: Option<(String, String)>,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let Some((admin, name)) = self.pg.take() else { return };
            // Its own thread and runtime: this may run inside a runtime.
            let dropped = std::thread::spawn(move || {
                use sqlx::Connection;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.ok()?;
                    conn.close().await.ok()
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(()))) {
                eprintln!("warning: a PostgreSQL upgrade test's database was not dropped");
            }
        }
    }

    async fn at_version(backend: Backend, version: i64) -> (Store, Scratch) {
        let dir = tempfile::tempdir().unwrap();
        let mut pg = None;
        let (all, pool) = match backend {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::new()
                    .filename(dir.path().join("u.db"))
                    .create_if_missing(true)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await
                    .unwrap();
                (&SQLITE_MIGRATIONS, Pool::Sqlite(pool))
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = pg_url().unwrap();
                let name = format!("velum_u_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let url = match admin.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => unreachable!("a PostgreSQL URL has a path"),
                };
                pg = Some((admin, name));
                (&PG_MIGRATIONS, Pool::Pg(PgPool::connect(&url).await.unwrap()))
            }
        };
        let older = Migrator::with_migrations(all.iter().filter(|m| m.version <= version).cloned().collect());
        match &pool {
            Pool::Sqlite(p) => older.run(p).await.unwrap(),
            Pool::Pg(p) => older.run(p).await.unwrap(),
        }
        let chain = Arc::new(velum_crypto::MasterKey::from_bytes(&[9; 32]).unwrap().audit_chain_key());
        (
            Store {
                pool,
                keys: None,
                chain,
            },
            Scratch { _dir: dir, pg },
        )
    }

    /// Migration 0006 keys sessions, links and mail by clinic first and moves
    /// the sign-in email rule into `staff_logins`: existing accounts still
    /// sign in, queued mail is kept (mail of no clinic goes under the
    /// platform's id), and sessions from before end.
    async fn clinic_first_keys_keep_accounts_and_queued_mail(backend: Backend) {
        let (store, _dir) = at_version(backend, 5).await;
        let clinic = Uuid::from_u128(0x0a);
        let person = Uuid::from_u128(0x0b);
        let mut tx = store.begin().await.unwrap();
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO clinics (id, name, created_at) VALUES ($1, 'Alpha', 1)"
        )
        .bind(clinic)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO staff (clinic_id, id, email, display_name, role, created_at, updated_at) \
             VALUES ($1, $2, 'p@alpha.example', 'P', 'practitioner', 1, 1)"
        )
        .bind(clinic)
        .bind(person)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO sessions (token_hash, clinic_id, staff_id, kind, stage, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, 'web', 'full', 'x', 1, 1, 9)"
        )
        .bind(vec![1u8; 32])
        .bind(clinic)
        .bind(person)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
        for (id, owner) in [(Uuid::from_u128(1), Some(clinic)), (Uuid::from_u128(2), None)] {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO outbox (id, clinic_id, to_addr, subject, body, created_at, next_attempt_at) \
                 VALUES ($1, $2, 'p@alpha.example', 's', 'b', 1, 1)"
            )
            .bind(id)
            .bind(owner)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
        }
        tx.commit().await.unwrap();

        store.migrate().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let s = staff::find_for_sign_in(&mut tx, "p@alpha.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((s.clinic_id.as_uuid(), s.id.as_uuid()), (clinic, person));
        let scope = velum_core::actor::PublicActor::of(velum_core::ClinicId::from_uuid(clinic)).scope();
        assert!(sessions::find(&mut tx, &scope, &[1u8; 32]).await.unwrap().is_none());
        let now = jiff::Timestamp::from_second(1).unwrap();
        let mut due: Vec<(Uuid, Uuid)> = due_mail(&mut tx, now)
            .await
            .into_iter()
            .map(|m| (m.clinic_id.as_uuid(), m.id))
            .collect();
        due.sort();
        assert_eq!(due, [(Uuid::nil(), Uuid::from_u128(2)), (clinic, Uuid::from_u128(1))]);
        // The same email cannot get a second account, in this clinic or another.
        let again = staff::insert(
            &mut tx,
            &scope,
            velum_core::StaffId::from_uuid(Uuid::from_u128(0x0c)),
            "p@alpha.example",
            "Q",
            velum_core::Role::Receptionist,
            None,
            now,
        )
        .await;
        assert!(matches!(again, Err(StoreError::Conflict(c)) if c == "staff_email"));
        drop(tx);
        store.close().await;
    }

    /// The queued mail due at `now`: its jobs (made by migration 0015 for
    /// mail already queued) claimed, and each message taken.
    async fn due_mail(tx: &mut Tx, now: jiff::Timestamp) -> Vec<outbox::Message> {
        let filter = crate::jobs::KindFilter {
            only: Some(outbox::JOB_KIND),
            except: None,
        };
        let jobs = crate::jobs::claim(tx, now, jiff::SignedDuration::from_mins(1), 10, filter)
            .await
            .unwrap();
        let mut due = Vec::new();
        for job in jobs {
            due.extend(outbox::take(tx, job.clinic_id, job.id).await.unwrap());
        }
        due
    }

    /// Migration 0013 seals the outbox: mail already sent loses its
    /// recipient and subject at once; mail still queued stays deliverable
    /// (the app seals it when it starts, see `outbox::seal_plaintext`).
    async fn sealed_outbox_clears_sent_mail_and_keeps_queued_mail(backend: Backend) {
        let (store, _dir) = at_version(backend, 12).await;
        let clinic = Uuid::from_u128(0x0a);
        let mut tx = store.begin().await.unwrap();
        for (id, sent_at) in [(Uuid::from_u128(1), None), (Uuid::from_u128(2), Some(5_i64))] {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO outbox (id, clinic_id, to_addr, subject, body, created_at, next_attempt_at, sent_at) \
                 VALUES ($1, $2, 'p@alpha.example', 's', 'b', 1, 1, $3)"
            )
            .bind(id)
            .bind(clinic)
            .bind(sent_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
        }
        tx.commit().await.unwrap();

        store.migrate().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let left: Vec<(Uuid, String, String)> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT id, to_addr, subject FROM outbox WHERE sent_at IS NOT NULL"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        assert_eq!(left, [(Uuid::from_u128(2), String::new(), String::new())]);
        let now = jiff::Timestamp::from_second(1).unwrap();
        let due = due_mail(&mut tx, now).await;
        assert_eq!(due.len(), 1);
        let mail = due[0].mail.as_ref().expect("still readable until sealed");
        assert_eq!((mail.to_addr.as_str(), mail.body.as_str()), ("p@alpha.example", "b"));
        drop(tx);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_sealed_outbox_clears_sent_mail_and_keeps_queued_mail() {
        sealed_outbox_clears_sent_mail_and_keeps_queued_mail(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_sealed_outbox_clears_sent_mail_and_keeps_queued_mail() {
        if skip_without_pg() {
            return;
        }
        sealed_outbox_clears_sent_mail_and_keeps_queued_mail(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_clinic_first_keys_keep_accounts_and_queued_mail() {
        clinic_first_keys_keep_accounts_and_queued_mail(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_clinic_first_keys_keep_accounts_and_queued_mail() {
        if skip_without_pg() {
            return;
        }
        clinic_first_keys_keep_accounts_and_queued_mail(Backend::Postgres).await;
    }

    async fn link_versions(tx: &mut Tx, clinic: Uuid) -> Vec<i64> {
        on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT link_version FROM audit_events WHERE clinic_id = $1 ORDER BY seq"
        )
        .bind(clinic)
        .fetch_all(c)
        .await)
        .unwrap()
    }

    /// Migration 0009: events written before it keep their plain SHA-256
    /// links, as link version 1, and it leaves the marker asking for the
    /// upgrade; the upgrade re-links an intact chain under the key (one
    /// keyed event after its v1 events), leaves an edited one alone, clears
    /// the marker, and does nothing the second time.
    async fn keyed_chain_upgrade_keeps_old_links(backend: Backend) {
        use velum_core::ClinicId;

        use crate::audit;

        let (store, _dir) = at_version(backend, 7).await;
        let (good, bad) = (Uuid::from_u128(0x1a), Uuid::from_u128(0x1b));
        let mut tx = store.begin().await.unwrap();
        for (n, clinic) in [good, bad].into_iter().enumerate() {
            let mut prev = velum_crypto::chain::GENESIS;
            for seq in 1..=2_i64 {
                let id = Uuid::from_u128(0x100 * (n as u128 + 1) + seq as u128);
                let bytes = velum_core::audit::CanonicalFields {
                    id,
                    seq,
                    at_micros: seq,
                    clinic,
                    actor: None,
                    client: None,
                    sections: "",
                    action: "sign_in",
                    purpose: "security",
                    source: None,
                    detail: None,
                    actor_kind: None,
                }
                .encode();
                let hash = velum_crypto::chain::link(&prev, &bytes);
                on_tx!(&mut tx, |c| sqlx::query(
                    "INSERT INTO audit_events (clinic_id, seq, id, at, sections, action, purpose, prev_hash, hash) \
                     VALUES ($1, $2, $3, $2, '', 'sign_in', 'security', $4, $5)"
                )
                .bind(clinic)
                .bind(seq)
                .bind(id)
                .bind(prev.as_slice())
                .bind(hash.as_slice())
                .execute(c)
                .await
                .map(|r| r.rows_affected()))
                .unwrap();
                prev = hash;
            }
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO audit_heads (clinic_id, seq, hash) VALUES ($1, 2, $2)"
            )
            .bind(clinic)
            .bind(prev.as_slice())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
        }
        // The second chain was edited (its hashes not recomputed).
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE audit_events SET action = 'sign_out' WHERE clinic_id = $1 AND seq = 1"
        )
        .bind(bad)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
        tx.commit().await.unwrap();

        store.migrate().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        assert_eq!(link_versions(&mut tx, good).await, [1, 1]);
        assert!(audit::chain_upgrade_pending(&mut tx).await.unwrap());
        let (_, b) = audit::verify_chain(&mut tx, ClinicId::from_uuid(good)).await.unwrap();
        assert!(b.unwrap().reason.contains("unkeyed (v1)"), "not upgraded yet");

        let at = jiff::Timestamp::from_second(10).unwrap();
        let report = audit::upgrade_chains(&mut tx, at).await.unwrap();
        assert_eq!(report.upgraded, [(ClinicId::from_uuid(good), 2)]);
        assert_eq!(report.already_keyed, 0);
        assert_eq!(report.broken.len(), 1);
        assert_eq!(report.broken[0].clinic_id, ClinicId::from_uuid(bad));
        assert!(!audit::chain_upgrade_pending(&mut tx).await.unwrap());
        assert_eq!(
            audit::verify_chain(&mut tx, ClinicId::from_uuid(good)).await.unwrap(),
            (3, None)
        );
        assert_eq!(link_versions(&mut tx, good).await, [1, 1, 2]);
        assert_eq!(
            link_versions(&mut tx, bad).await,
            [1, 1],
            "a broken chain is not sealed"
        );

        let again = audit::upgrade_chains(&mut tx, at).await.unwrap();
        assert!(again.upgraded.is_empty());
        assert_eq!((again.already_keyed, again.broken.len()), (1, 1));
        tx.commit().await.unwrap();
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_keyed_chain_upgrade_keeps_old_links() {
        keyed_chain_upgrade_keeps_old_links(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_keyed_chain_upgrade_keeps_old_links() {
        if skip_without_pg() {
            return;
        }
        keyed_chain_upgrade_keeps_old_links(Backend::Postgres).await;
    }
}

/// TLS to PostgreSQL: verify-full unless the server is on this machine.
#[cfg(test)]
mod pg_tls_tests {
    use sqlx::ConnectOptions;

    use super::{StoreError, pg_options};

    /// The mode the connection will use (`PgSslMode` has no `PartialEq`).
    fn mode(url: &str) -> String {
        format!(
            "{:?}",
            pg_options(url).unwrap_or_else(|e| panic!("{url}: {e}")).get_ssl_mode()
        )
    }

    #[test]
    fn a_remote_server_gets_verify_full_when_the_url_names_no_sslmode() {
        assert_eq!(mode("postgres://velum@db.internal/velum"), "VerifyFull");
        assert_eq!(mode("postgresql://velum@10.0.0.5:5433/velum"), "VerifyFull");
        assert_eq!(
            mode("postgres://velum@db.internal/velum?sslmode=verify-full"),
            "VerifyFull"
        );
        assert_eq!(
            mode("postgres://velum@db.internal/velum?sslmode=VERIFY-FULL"),
            "VerifyFull"
        );
    }

    #[test]
    fn a_weaker_sslmode_for_a_remote_server_is_refused_without_repeating_the_url() {
        for weak in ["disable", "allow", "prefer", "require", "verify-ca"] {
            for url in [
                format!("postgres://velum:hunter2@db.internal/velum?sslmode={weak}"),
                format!("postgres://velum:hunter2@[2001:db8::1]/velum?sslmode={weak}"),
                // `host=` names the server the driver actually reaches.
                format!("postgres://velum:hunter2@127.0.0.1/velum?host=db.internal&sslmode={weak}"),
                // A second, encoded key cannot undo the first.
                format!("postgres://velum:hunter2@db.internal/velum?sslmode=verify-full&ssl%6Dode={weak}"),
            ] {
                let Err(StoreError::BadUrl(msg)) = pg_options(&url) else {
                    panic!("{url} was accepted");
                };
                assert!(msg.contains("sslmode=verify-full"), "{msg}");
                assert!(!msg.contains("hunter2") && !msg.contains("db.internal"), "{msg}");
            }
        }
    }

    #[test]
    fn loopback_and_unix_sockets_keep_what_the_url_says() {
        for url in [
            "postgres://postgres@127.0.0.1:55432/postgres",
            "postgres://postgres@127.8.9.10/postgres?sslmode=disable",
            "postgres://postgres@[::1]/postgres?sslmode=disable",
            "postgres://postgres@localhost/postgres?sslmode=disable",
            "postgres://postgres@LocalHost/postgres?sslmode=disable",
            "postgres:///velum?host=/var/run/postgresql&sslmode=disable",
            "postgres://%2Fvar%2Frun%2Fpostgresql/velum?sslmode=disable",
        ] {
            assert_ne!(mode(url), "VerifyFull", "{url}");
        }
        assert_eq!(
            mode("postgres://postgres@127.0.0.1/postgres?sslmode=require"),
            "Require"
        );
    }

    #[test]
    fn an_explicit_sslrootcert_is_honoured() {
        let opts = pg_options("postgres://velum@db.internal/velum?sslrootcert=/etc/velum/db-ca.pem").unwrap();
        assert_eq!(format!("{:?}", opts.get_ssl_mode()), "VerifyFull");
        let back = opts.to_url_lossy();
        assert!(
            back.query_pairs()
                .any(|(k, v)| k == "sslrootcert" && v.ends_with("/etc/velum/db-ca.pem")),
            "{back}"
        );
    }
}
