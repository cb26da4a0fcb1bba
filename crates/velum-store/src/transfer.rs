//! Moving one clinic between installations (`velum export` / `velum import`):
//! every row of the clinic in every clinic table, read and written as JSON
//! objects so the same rows go from SQLite to PostgreSQL and back.
//!
//! [`CLINIC_TABLES`] is the one list of what moves, with every column and its
//! type, assembled from the lists each store module keeps of its own
//! tables; [`NOT_MOVED`] is the one list of clinic tables that deliberately
//! do not. A test compares both with the migrated schema, so a table or column
//! added later fails it until someone decides whether it moves.
//!
//! Values in the JSON rows: ids as hyphenated UUID strings, byte strings as
//! standard base64, instants and counters as integers (unix microseconds, as
//! stored), flags as booleans, text as strings, and `null` for SQL NULL. The
//! type differences between the backends (16-byte BLOB vs `uuid`, INTEGER vs
//! BOOLEAN) stay in here: sqlx decodes and binds each column by its declared
//! kind on either backend.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::bind::BindScope;
use crate::{ClinicScope, StoreError, Tx};

/// How a column is stored and carried in an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A UUID: BLOB(16) on SQLite, `uuid` on PostgreSQL; a string in JSON.
    Id,
    /// INTEGER / BIGINT; a JSON integer.
    Int,
    /// INTEGER 0/1 / BOOLEAN; a JSON boolean.
    Bool,
    /// TEXT; a JSON string.
    Text,
    /// BLOB / BYTEA; base64 in JSON.
    Bytes,
}

/// One column of a moved table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// The first export format whose files always carry this column. A file
    /// of an earlier format may lack it (it was written before the column
    /// existed), and the column is then imported as NULL; such a column must
    /// be nullable (a test checks).
    pub since_format: u32,
    /// What the offboarding archive does with it.
    pub archive: Archive,
}

/// What the offboarding archive (`velum-app`'s `offboard.rs`) does with a
/// column. A table without an exporter of its own there is archived by the
/// generic one, which reads exactly this: every column but those left out,
/// under the column's name, in a list named after the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    /// Carried as an export carries it: ids and text as strings, numbers,
    /// flags, bytes in base64, `null` for NULL.
    Carried,
    /// A stored instant (unix microseconds), carried as RFC 3339 in UTC.
    Instant,
    /// Sealed under the key of the row's client (its `client_id` column),
    /// with associated data naming this label, the clinic, the client and
    /// the row's `version` column (`velum_crypto::Aad::record_version`, as
    /// a sealed card section writes it); carried opened, as the JSON it
    /// holds, or `null` when the client's key is gone.
    Sealed(&'static str),
    /// Sealed in a way only its table's own exporter knows how to open (the
    /// history's earlier values); that exporter carries it opened.
    Opened,
    /// A key that opens other rows' sealed values: read by the archive to
    /// open them, never carried.
    Key,
    /// Not in the archive, and why.
    LeftOut(&'static str),
}

impl Column {
    /// This column as an instant (carried as RFC 3339 in the archive).
    #[must_use]
    pub const fn instant(self) -> Column {
        Column {
            archive: Archive::Instant,
            ..self
        }
    }

    /// This column left out of the archive, for the reason given.
    #[must_use]
    pub const fn left_out(self, why: &'static str) -> Column {
        Column {
            archive: Archive::LeftOut(why),
            ..self
        }
    }

    /// This column sealed under its row's client key with `label` in its
    /// associated data ([`Archive::Sealed`]).
    #[must_use]
    pub const fn sealed(self, label: &'static str) -> Column {
        Column {
            archive: Archive::Sealed(label),
            ..self
        }
    }

    /// This column opened by its table's own archive exporter.
    #[must_use]
    pub const fn opened(self) -> Column {
        Column {
            archive: Archive::Opened,
            ..self
        }
    }

    /// This column a key, read by the archive to open others.
    #[must_use]
    pub const fn key(self) -> Column {
        Column {
            archive: Archive::Key,
            ..self
        }
    }
}

/// Why the archive leaves out a row's clinic id.
pub const ONE_CLINIC: &str = "the archive holds one clinic";

/// The export format in which every column of the first schema was
/// carried.
pub const FIRST_FORMAT: u32 = 1;

/// One moved table: its columns, the column naming the clinic, and the
/// order rows are read in (the primary key, so exports are deterministic).
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    pub clinic_column: &'static str,
    pub order_by: &'static str,
    pub columns: &'static [Column],
}

pub const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        since_format: FIRST_FORMAT,
        archive: Archive::Carried,
    }
}

pub const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        since_format: FIRST_FORMAT,
        archive: Archive::Carried,
    }
}

/// A nullable column added after files of earlier formats were handed out:
/// those files lack it, and it is imported from them as NULL.
pub const fn added(name: &'static str, kind: Kind, since_format: u32) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        since_format,
        archive: Archive::Carried,
    }
}

/// Every table whose rows move with a clinic, in an order that satisfies
/// the foreign keys on insert, assembled here from the `TABLES` each store
/// module declares for the tables it owns (in that module's foreign-key
/// order; the modules in the order their tables reference each other). A
/// new clinic table goes in its module's `TABLES` (or in [`NOT_MOVED`],
/// with the reason), or the schema test fails; a new store module with
/// clinic tables adds its `TABLES` to this list.
pub static CLINIC_TABLES: LazyLock<Vec<Table>> = LazyLock::new(|| {
    [
        crate::clinics::TABLES,
        crate::staff::TABLES,
        crate::clients::TABLES,
        crate::platform::TABLES,
        crate::settings::TABLES,
        crate::audit::TABLES,
    ]
    .concat()
});

/// Tables with a `clinic_id` column that deliberately do not move, and why.
/// Sign-in state is per installation: after a move everyone signs in again.
pub const NOT_MOVED: &[(&str, &str)] = &[
    (
        "sessions",
        "sign-in sessions are per installation; staff sign in again on the target",
    ),
    (
        "one_time_tokens",
        "set-up and reset links point at the old installation's URL; issue new ones",
    ),
    (
        "staff_recovery_codes",
        "two-step recovery codes are sign-in state, like sessions; staff make new ones on the target (their account page)",
    ),
    (
        "outbox",
        "mail is delivered by the installation that queued it; deliver it before moving",
    ),
    (
        "jobs",
        "background work is run by the installation that queued it; let it finish before moving",
    ),
    (
        "audit_head_mailings",
        "when the weekly signed head was last mailed is per installation; the target mails its own",
    ),
    (
        "clinic_offboardings",
        "the platform's record of an offboarding; an offboarded clinic has no data left to move",
    ),
    (
        "clinic_leaving",
        "the owner's request to leave this provider, bound to its archive passphrase; ask again on the target",
    ),
    (
        "offboarding_approvals",
        "operators' approvals of an offboarding by this provider; they mean nothing elsewhere",
    ),
];

/// The moved table called `name`.
#[must_use]
pub fn table(name: &str) -> Option<&'static Table> {
    CLINIC_TABLES.iter().find(|t| t.name == name)
}

/// A table's rows, each a JSON object keyed by column name.
#[derive(Clone, Debug, Default)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: Vec<Map<String, Value>>,
}

/// Does a clinic with this id exist here?
///
/// # Errors
/// Database errors.
pub async fn clinic_exists(tx: &mut Tx, scope: &ClinicScope) -> Result<bool, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar("SELECT COUNT(*) FROM clinics WHERE id = $1")
        .bind_scope(scope)
        .fetch_one(c)
        .await)?;
    Ok(n > 0)
}

/// Every row of the clinic in every table of [`CLINIC_TABLES`], in that
/// order. Call it in a transaction from [`crate::Store::begin_snapshot`] so
/// the tables are read at one instant.
///
/// Unscoped by actor on purpose: this is the operator moving the whole
/// clinic (`velum export`), not a staff member's request; the caller records
/// a "clinic exported" event in the same transaction.
///
/// # Errors
/// Database errors; `Corrupt` for a value the declared kind cannot hold.
pub async fn read_clinic(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<TableRows>, StoreError> {
    read_tables(tx, scope, |_| true).await
}

/// The rows of the clinic in the tables of [`CLINIC_TABLES`] that `which`
/// picks, in that order, as [`read_clinic`] reads them.
///
/// # Errors
/// Database errors; `Corrupt` for a value the declared kind cannot hold.
pub async fn read_tables(
    tx: &mut Tx,
    scope: &ClinicScope,
    which: impl Fn(&str) -> bool,
) -> Result<Vec<TableRows>, StoreError> {
    let clinic = scope.clinic_id().as_uuid();
    let mut out = Vec::with_capacity(CLINIC_TABLES.len());
    for t in CLINIC_TABLES.iter().filter(|t| which(t.name)) {
        let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        // Built from the constant table list above, never from input.
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1 ORDER BY {}",
            names.join(", "),
            t.name,
            t.clinic_column,
            t.order_by
        );
        let rows: Vec<Map<String, Value>> = on_tx!(tx, |c| {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(clinic).fetch_all(c).await?;
            rows.iter()
                .map(|r| decode_row(r, t))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        out.push(TableRows { table: t.name, rows });
    }
    Ok(out)
}

/// Where a page of [`read_page`] starts or ends: a key column's value
/// (ids order as their bytes do, as both backends order them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Id(Uuid),
    Int(i64),
    Text(String),
}

/// Which rows of a table [`read_page`] reads.
#[derive(Clone, Debug)]
pub enum Page<'a> {
    /// At most `limit` rows whose `column` (unique among the clinic's rows
    /// of the table) comes after `after` (from the first when `None`), in
    /// that column's order.
    After {
        column: &'a str,
        after: Option<Key>,
        limit: i64,
    },
    /// Every row whose `column` lies in `from..=to`, in the table's order.
    Between { column: &'a str, from: Key, to: Key },
}

/// One page of the clinic's rows in table `t`, read as [`read_clinic`]
/// reads them: so a caller that writes the rows out as it goes (the
/// offboarding archive) holds one page at a time, not the clinic. Read the
/// pages in one transaction from [`crate::Store::begin_snapshot`].
///
/// # Errors
/// `Corrupt` when `column` is not a column of `t`; database errors.
pub async fn read_page(
    tx: &mut Tx,
    scope: &ClinicScope,
    t: &Table,
    page: Page<'_>,
) -> Result<Vec<Map<String, Value>>, StoreError> {
    let column = match &page {
        Page::After { column, .. } | Page::Between { column, .. } => *column,
    };
    // Column names come from the constant table list, never from input.
    if !t.columns.iter().any(|c| c.name == column) {
        return Err(StoreError::Corrupt("a page is keyed on a column its table lacks"));
    }
    let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    let (condition, order, limit) = match &page {
        Page::After { after: None, limit, .. } => (String::new(), column, format!(" LIMIT {limit}")),
        Page::After { limit, .. } => (format!(" AND {column} > $2"), column, format!(" LIMIT {limit}")),
        Page::Between { .. } => (
            format!(" AND {column} >= $2 AND {column} <= $3"),
            t.order_by,
            String::new(),
        ),
    };
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = $1{condition} ORDER BY {order}{limit}",
        names.join(", "),
        t.name,
        t.clinic_column,
    );
    let keys: Vec<Key> = match page {
        Page::After { after, .. } => after.into_iter().collect(),
        Page::Between { from, to, .. } => vec![from, to],
    };
    let clinic = scope.clinic_id().as_uuid();
    Ok(on_tx!(tx, |c| {
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(clinic);
        for k in &keys {
            q = match k {
                Key::Id(id) => q.bind(*id),
                Key::Int(n) => q.bind(*n),
                Key::Text(t) => q.bind(t.clone()),
            };
        }
        let rows = q.fetch_all(c).await?;
        rows.iter()
            .map(|r| decode_row(r, t))
            .collect::<Result<Vec<_>, sqlx::Error>>()
    })?)
}

/// Insert the rows of one clinic, table by table in [`CLINIC_TABLES`]
/// order, as given: same ids, same history, the audit chain verbatim. Every
/// row must carry exactly the table's columns with values of their kinds,
/// and name `scope`'s clinic; anything else is refused before it is written.
/// The rows come from a file of export format `format`: a column added in a
/// later format ([`Column::since_format`]) may be absent, and is then NULL.
///
/// # Errors
/// `Corrupt` for a row that does not fit the schema or names another clinic;
/// `Conflict` (constraint name) for a row that exists already (for example
/// a staff email that has an account here); database errors.
pub async fn write_clinic(
    tx: &mut Tx,
    scope: &ClinicScope,
    tables: &[TableRows],
    format: u32,
) -> Result<(), StoreError> {
    let clinic = scope.clinic_id().as_uuid();
    if tables.iter().any(|g| table(g.table).is_none()) {
        return Err(StoreError::Corrupt("rows for a table that does not move"));
    }
    for t in CLINIC_TABLES.iter() {
        let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        let params: Vec<String> = (1..=t.columns.len()).map(|i| format!("${i}")).collect();
        // Built from the constant table list above, never from input.
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            t.name,
            names.join(", "),
            params.join(", ")
        );
        for given in tables.iter().filter(|g| g.table == t.name) {
            for row in &given.rows {
                let values = encode_row(row, t, clinic, format)?;
                on_tx!(tx, |c| {
                    let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                    for v in values {
                        q = match v {
                            Bound::Id(x) => q.bind(x),
                            Bound::Int(x) => q.bind(x),
                            Bound::Bool(x) => q.bind(x),
                            Bound::Text(x) => q.bind(x),
                            Bound::Bytes(x) => q.bind(x),
                        };
                    }
                    q.execute(c).await.map(|r| r.rows_affected())
                })
                .map_err(StoreError::from_sqlx)?;
            }
        }
    }
    Ok(())
}

/// One bound value, typed by its column's kind (NULL as `None`, so each
/// backend gets a typed NULL).
enum Bound {
    Id(Option<Uuid>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

fn encode_row(row: &Map<String, Value>, t: &Table, clinic: Uuid, format: u32) -> Result<Vec<Bound>, StoreError> {
    if row.keys().any(|k| !t.columns.iter().any(|c| c.name == k)) {
        return Err(StoreError::Corrupt("row has a column the table does not have"));
    }
    let mut out = Vec::with_capacity(t.columns.len());
    for c in t.columns {
        let v = match row.get(c.name) {
            Some(v) => v,
            // Written before the column existed.
            None if c.since_format > format && c.nullable => &Value::Null,
            None => return Err(StoreError::Corrupt("row lacks a column")),
        };
        if v.is_null() && !c.nullable {
            return Err(StoreError::Corrupt("NULL in a NOT NULL column"));
        }
        let bad = || StoreError::Corrupt("value does not fit its column");
        let bound = match c.kind {
            Kind::Id => Bound::Id(v.as_str().map(|s| Uuid::parse_str(s).map_err(|_| bad())).transpose()?),
            Kind::Int => Bound::Int(if v.is_null() {
                None
            } else {
                Some(v.as_i64().ok_or_else(bad)?)
            }),
            Kind::Bool => Bound::Bool(if v.is_null() {
                None
            } else {
                Some(v.as_bool().ok_or_else(bad)?)
            }),
            Kind::Text => Bound::Text(if v.is_null() {
                None
            } else {
                Some(v.as_str().ok_or_else(bad)?.to_owned())
            }),
            Kind::Bytes => Bound::Bytes(v.as_str().map(|s| B64.decode(s).map_err(|_| bad())).transpose()?),
        };
        // A string column given a non-string (or an id given a number)
        // decoded to None above: refuse it rather than store NULL.
        let wrong_null = !v.is_null() && matches!(bound, Bound::Id(None) | Bound::Bytes(None));
        if wrong_null {
            return Err(bad());
        }
        if c.name == t.clinic_column && !matches!(bound, Bound::Id(Some(id)) if id == clinic) {
            return Err(StoreError::Corrupt("row belongs to another clinic"));
        }
        out.push(bound);
    }
    Ok(out)
}

fn decode_row<'r, R>(row: &'r R, t: &Table) -> Result<Map<String, Value>, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    Option<Uuid>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut out = Map::with_capacity(t.columns.len());
    for (i, c) in t.columns.iter().enumerate() {
        let v = match c.kind {
            Kind::Id => row
                .try_get::<Option<Uuid>, _>(i)?
                .map_or(Value::Null, |u| Value::String(u.to_string())),
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::from),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Value::Null, Value::Bool),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::String),
            Kind::Bytes => row
                .try_get::<Option<Vec<u8>>, _>(i)?
                .map_or(Value::Null, |b| Value::String(B64.encode(b))),
        };
        out.insert(c.name.to_owned(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::Store;

    /// Every table of the migrated schema with a `clinic_id` column (and
    /// `clinics` itself) is either moved or named in `NOT_MOVED`, and every
    /// moved table lists exactly the schema's columns. Adding a table or a
    /// column without deciding how it moves fails here.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_moved_tables_are_exactly_the_schemas_clinic_tables() {
        let dir = tempfile::tempdir().unwrap();
        let key = velum_crypto::MasterKey::from_bytes(&[3; 32]).unwrap();
        let store = Store::open_sqlite(
            &dir.path().join("t.db"),
            &key.sqlcipher_key(),
            &key.fingerprint(),
            key.audit_chain_key(),
        )
        .await
        .unwrap();
        let columns = store.schema_columns().await.unwrap();
        store.close().await;
        let mut schema: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (t, c) in columns {
            schema.entry(t).or_default().insert(c);
        }
        let with_clinic: BTreeSet<&str> = schema
            .iter()
            .filter(|(t, cols)| cols.contains("clinic_id") || t.as_str() == "clinics")
            .map(|(t, _)| t.as_str())
            .collect();
        let moved: BTreeSet<&str> = CLINIC_TABLES.iter().map(|t| t.name).collect();
        let excluded: BTreeSet<&str> = NOT_MOVED.iter().map(|(t, _)| *t).collect();
        assert!(moved.is_disjoint(&excluded));
        assert_eq!(
            with_clinic,
            moved.union(&excluded).copied().collect(),
            "a table with clinic_id is neither in CLINIC_TABLES nor in NOT_MOVED (or one listed there is gone)"
        );
        for t in CLINIC_TABLES.iter() {
            let listed: BTreeSet<String> = t.columns.iter().map(|c| c.name.to_owned()).collect();
            assert_eq!(listed.len(), t.columns.len(), "{}: a column is listed twice", t.name);
            assert_eq!(&listed, &schema[t.name], "{}: columns differ from the schema", t.name);
            assert!(listed.contains(t.clinic_column), "{}", t.name);
        }
    }

    /// A sealed column names what opens it: its table has the `client_id`
    /// whose key opens it and the `version` its associated data names, both
    /// read by the archive; the clinic column is never carried.
    #[test]
    fn the_archive_metadata_of_every_column_is_complete() {
        for t in CLINIC_TABLES.iter() {
            let column = |n: &str| t.columns.iter().find(|c| c.name == n);
            for c in t.columns {
                if let Archive::Sealed(label) = c.archive {
                    assert!(!label.is_empty(), "{}.{}", t.name, c.name);
                    assert!(
                        column("client_id").is_some_and(|x| x.kind == Kind::Id && x.archive == Archive::Carried),
                        "{}.{}: a sealed column needs its row's client_id, carried",
                        t.name,
                        c.name
                    );
                    assert!(
                        column("version").is_some_and(|x| x.kind == Kind::Int && x.archive == Archive::Carried),
                        "{}.{}: a sealed column needs its row's version, carried",
                        t.name,
                        c.name
                    );
                }
            }
            if t.name != "clinics" {
                assert!(
                    matches!(column(t.clinic_column).map(|c| c.archive), Some(Archive::LeftOut(_))),
                    "{}: the clinic column is left out of the archive",
                    t.name
                );
            }
        }
    }

    #[test]
    fn rows_of_another_clinic_or_the_wrong_shape_are_refused() {
        let t = table("audit_heads").unwrap();
        let clinic = Uuid::from_u128(1);
        let row = |id: &str, seq: Value, hash: Value| {
            let mut m = Map::new();
            m.insert("clinic_id".into(), Value::String(id.into()));
            m.insert("seq".into(), seq);
            m.insert("hash".into(), hash);
            m
        };
        let good = row(
            &clinic.to_string(),
            Value::from(3),
            Value::String(B64.encode([1u8; 32])),
        );
        assert!(encode_row(&good, t, clinic, 2).is_ok());
        let other = row(
            &Uuid::from_u128(2).to_string(),
            Value::from(3),
            Value::String(B64.encode([1u8; 32])),
        );
        assert!(matches!(
            encode_row(&other, t, clinic, 2),
            Err(StoreError::Corrupt("row belongs to another clinic"))
        ));
        let text_seq = row(
            &clinic.to_string(),
            Value::from("3"),
            Value::String(B64.encode([1u8; 32])),
        );
        assert!(encode_row(&text_seq, t, clinic, 2).is_err());
        let null_hash = row(&clinic.to_string(), Value::from(3), Value::Null);
        assert!(encode_row(&null_hash, t, clinic, 2).is_err());
        let number_hash = row(&clinic.to_string(), Value::from(3), Value::from(7));
        assert!(encode_row(&number_hash, t, clinic, 2).is_err());
        let mut extra = good.clone();
        extra.insert("more".into(), Value::Null);
        assert!(encode_row(&extra, t, clinic, 2).is_err());
    }

    /// An export written before a column existed (format 1, before
    /// migration 0014 added `audit_events.actor_kind`) still imports, with
    /// NULL there; a file of the format that always carries the column must
    /// have it, and no other column may be missing from any format.
    #[test]
    fn a_column_added_after_a_format_may_be_absent_from_that_formats_files_only() {
        for t in CLINIC_TABLES.iter() {
            for c in t.columns.iter().filter(|c| c.since_format > FIRST_FORMAT) {
                assert!(
                    c.nullable,
                    "{}.{}: a column added later must be nullable",
                    t.name, c.name
                );
            }
        }
        let t = table("audit_events").unwrap();
        let clinic = Uuid::from_u128(1);
        let mut old = Map::new();
        for c in t.columns.iter().filter(|c| c.name != "actor_kind") {
            let v = match (c.kind, c.nullable) {
                (_, true) => Value::Null,
                (Kind::Id, false) => Value::String(clinic.to_string()),
                (Kind::Int, false) => Value::from(1),
                (Kind::Bool, false) => Value::Bool(false),
                (Kind::Text, false) => Value::String("x".into()),
                (Kind::Bytes, false) => Value::String(B64.encode([0u8; 32])),
            };
            old.insert(c.name.to_owned(), v);
        }
        let bound = encode_row(&old, t, clinic, 1).unwrap();
        assert_eq!(bound.len(), t.columns.len());
        let at = t.columns.iter().position(|c| c.name == "actor_kind").unwrap();
        assert!(matches!(bound[at], Bound::Text(None)), "imported as NULL");
        assert!(matches!(
            encode_row(&old, t, clinic, 2),
            Err(StoreError::Corrupt("row lacks a column"))
        ));
        let mut with_kind = old.clone();
        with_kind.insert("actor_kind".into(), Value::String("staff".into()));
        assert!(matches!(
            &encode_row(&with_kind, t, clinic, 1).unwrap()[at],
            Bound::Text(Some(k)) if k == "staff"
        ));
        let mut no_action = old.clone();
        no_action.remove("action");
        assert!(matches!(
            encode_row(&no_action, t, clinic, 1),
            Err(StoreError::Corrupt("row lacks a column"))
        ));
    }
}
