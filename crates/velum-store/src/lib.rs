//! Velum's storage port. Owns the database (SQLite encrypted with SQLCipher;
//! PostgreSQL joins behind the same types), the migrations, and every SQL
//! statement. Depends on `velum-core` and `velum-crypto`; never on the app or
//! web layers.
//!
//! Rules this crate keeps:
//! - Every repository function that touches clinic data takes a
//!   [`ClinicScope`] and puts its clinic id in every `WHERE` clause, so a
//!   query cannot reach another clinic's rows.
//! - Writes happen in a [`Tx`]; the app layer writes the audit event in the
//!   same transaction as the action (see [`audit::append`]).
//! - SQL is bound, never formatted from input.

#[macro_use]
mod db;
pub mod audit;
pub mod backup;
mod bind;
pub mod clients;
pub mod clinics;
pub mod jobs;
mod migrations;
pub mod offboard;
pub mod outbox;
pub mod platform;
pub mod sessions;
pub mod settings;
pub mod staff;
pub mod throttle;
pub mod transfer;

pub use db::{Backend, SchemaKey, Store, StoreError, Tx};

/// The clinic whose rows a repository call may touch. It lives in
/// `velum_core` and is made only from an actor or a system job naming its
/// clinic, so a query's scope always says where its clinic came from.
pub use velum_core::ClinicScope;

/// Instants are stored as unix microseconds (UTC) in an integer column: the
/// same on both backends, and it sorts correctly (text timestamps of varying
/// width do not).
pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(v: i64) -> Result<jiff::Timestamp, StoreError> {
    jiff::Timestamp::from_microsecond(v).map_err(|_| StoreError::Corrupt("timestamp out of range"))
}
