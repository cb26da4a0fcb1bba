//! A direct connection to a test's database, as a database administrator
//! has it (on SQLite, with the SQLCipher key): for tests that tamper with
//! rows behind the app's back, or read what is stored.

use secrecy::ExposeSecret;
use sqlx::{ConnectOptions, Connection};
use velum_app::DataLocation;

use crate::test_master_key;

/// A direct connection to the database at a [`DataLocation`], either
/// backend. [`on_raw!`](crate::on_raw) runs one expression on whichever it is.
pub enum RawDb {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl RawDb {
    /// Connect to the database at `location` (the test app's, or any
    /// opened with the test kit's master key).
    pub async fn open(location: &DataLocation) -> RawDb {
        match location {
            DataLocation::SqliteFile(path) => {
                let key = test_master_key().sqlcipher_key();
                RawDb::Sqlite(
                    sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(path)
                        .pragma("key", format!("\"{}\"", key.expose_secret()))
                        .busy_timeout(std::time::Duration::from_secs(10))
                        .connect()
                        .await
                        .expect("open the test's SQLite database"),
                )
            }
            DataLocation::Postgres(url) => RawDb::Pg(
                sqlx::PgConnection::connect(url)
                    .await
                    .expect("connect to the test's PostgreSQL database"),
            ),
        }
    }

    /// Run `sql` (one or more statements, no parameters).
    pub async fn exec(&mut self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            RawDb::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            RawDb::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        }
        .expect("run SQL behind the app")
    }

    pub async fn close(self) {
        match self {
            RawDb::Sqlite(c) => c.close().await,
            RawDb::Pg(c) => c.close().await,
        }
        .expect("close the direct connection")
    }
}

/// Run `sql` on the database at `location` behind the app, as a database
/// administrator could: one connection, opened and closed.
pub async fn tamper(location: &DataLocation, sql: &str) {
    let mut db = RawDb::open(location).await;
    db.exec(sql).await;
    db.close().await;
}

/// `on_raw!(raw, |c| body)`: evaluate `body` with `c` bound to the
/// connection inside `raw` (a [`RawDb`], `&mut RawDb` or `&RawDb`), whichever
/// backend it is; `body` is compiled for each.
#[macro_export]
macro_rules! on_raw {
    ($raw:expr, |$c:ident| $body:expr) => {
        match $raw {
            $crate::RawDb::Sqlite($c) => $body,
            $crate::RawDb::Pg($c) => $body,
        }
    };
}

/// `with_db!(t, |c| body)`: open a direct connection to test app `t`'s
/// database (a [`TestApp`](crate::TestApp)), evaluate `body` with `c` the
/// connection (owned and mutable, so `&mut c` is an executor), close it,
/// and give back `body`'s value.
#[macro_export]
macro_rules! with_db {
    ($t:expr, |$c:ident| $body:expr) => {
        match $crate::RawDb::open(&$t.location).await {
            $crate::RawDb::Sqlite(mut $c) => {
                let out = $body;
                $crate::__sqlx::Connection::close($c).await.unwrap();
                out
            }
            $crate::RawDb::Pg(mut $c) => {
                let out = $body;
                $crate::__sqlx::Connection::close($c).await.unwrap();
                out
            }
        }
    };
}
