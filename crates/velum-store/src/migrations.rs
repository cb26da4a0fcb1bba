//! The embedded migrations of each backend. `build.rs` lists them: the
//! backend's own files (`migrations/sqlite`, `migrations/postgres`) and the
//! shared ones (`migrations/shared`, written once in the small dialect its
//! README describes) translated for the backend. The migrators are built
//! from that list as `sqlx::migrate!` builds them from a directory: the same
//! versions, descriptions and checksums (a test compares them), so a
//! database migrated before keeps opening.

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

#[cfg(test)]
#[allow(dead_code, reason = "build.rs uses the rest of this module")]
mod shared;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// SQLite's migrations.
pub(crate) static SQLITE_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| migrator(SQLITE));
/// PostgreSQL's migrations.
pub(crate) static PG_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| migrator(POSTGRES));

fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| migration(version, Cow::Borrowed(description), Cow::Borrowed(sql)))
            .collect(),
    )
}

/// One migration as `sqlx::migrate!` makes it from a file: a simple
/// (forward) migration whose checksum is the SHA-384 of its text, run
/// outside a transaction when its text starts with `-- no-transaction`.
fn migration(version: i64, description: Cow<'static, str>, sql: Cow<'static, str>) -> Migration {
    let no_tx = sql.starts_with("-- no-transaction");
    Migration::new(
        version,
        description,
        MigrationType::Simple,
        AssertSqlSafe(sql).into_sql_str(),
        no_tx,
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sqlx::migrate::Migrator;

    use super::shared::{Dialect, TYPES, plan, translate};
    use super::{PG_MIGRATIONS, SQLITE_MIGRATIONS};

    /// What a database records of a migration, and what it runs.
    fn recorded(m: &sqlx::migrate::Migration) -> (i64, String, Vec<u8>, bool, String) {
        (
            m.version,
            m.description.to_string(),
            m.checksum.to_vec(),
            m.no_tx,
            m.sql.as_str().to_owned(),
        )
    }

    /// Databases migrated by `sqlx::migrate!` keep opening: each migration
    /// of a backend's own directory has the version, description, checksum
    /// and text it had from the macro, and the only others are the shared
    /// ones.
    #[test]
    fn the_backend_migrations_are_the_ones_sqlx_migrate_embedded() {
        let plan = plan(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")).unwrap();
        let pairs: [(&Migrator, Migrator, Dialect); 2] = [
            (
                &SQLITE_MIGRATIONS,
                sqlx::migrate!("./migrations/sqlite"),
                Dialect::Sqlite,
            ),
            (
                &PG_MIGRATIONS,
                sqlx::migrate!("./migrations/postgres"),
                Dialect::Postgres,
            ),
        ];
        for (ours, macro_made, dialect) in pairs {
            assert!(macro_made.iter().count() >= 17, "{dialect:?}");
            let ours: Vec<_> = ours.iter().map(recorded).collect();
            let own: Vec<_> = macro_made.iter().map(recorded).collect();
            let shared: Vec<i64> = plan
                .of(dialect)
                .iter()
                .filter(|m| m.shared)
                .map(|m| m.version)
                .collect();
            let ours_own: Vec<_> = ours.iter().filter(|m| !shared.contains(&m.0)).cloned().collect();
            assert_eq!(ours_own, own, "{dialect:?}");
            assert_eq!(ours.len(), own.len() + shared.len(), "{dialect:?}");
            let versions: Vec<i64> = ours.iter().map(|m| m.0).collect();
            assert!(versions.is_sorted(), "{dialect:?}");
        }
    }

    /// G10: both backends run the same steps, in the same order, under the
    /// same names.
    #[test]
    fn both_backends_have_the_same_migrations_in_order() {
        let names = |m: &Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(!names(&SQLITE_MIGRATIONS).is_empty());
        assert_eq!(names(&SQLITE_MIGRATIONS), names(&PG_MIGRATIONS));
    }

    /// The fixture: a shared migration, and one written per backend.
    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/migrations/fixture")
    }

    /// A shared migration's text, translated: each type word becomes the
    /// backend's type, SQLite's tables are STRICT, and nothing else moves
    /// (comments, layout, the no-transaction line).
    #[test]
    fn a_shared_migration_is_translated_word_for_word() {
        let sql = "-- no-transaction\n-- A uuid: UUID, INT.\nCREATE TABLE t (\n    id uuid NOT NULL,\n    \
                   \"b\" BYTES,\n    n INT DEFAULT 0 CHECK (n >= 0),\n    s TEXT,\n    f BOOL NOT NULL DEFAULT FALSE,\n    \
                   PRIMARY KEY (id)\n);\nCREATE INDEX t_n ON t (n, s);\nALTER TABLE t ADD COLUMN m INT;\n\
                   ALTER TABLE t ADD z BYTES;\nINSERT INTO t (id, f, s) VALUES (x'00', FALSE, 'INT, BYTES');\n";
        assert_eq!(
            translate(sql, Dialect::Sqlite).unwrap(),
            "-- no-transaction\n-- A uuid: UUID, INT.\nCREATE TABLE t (\n    id BLOB NOT NULL,\n    \
             \"b\" BLOB,\n    n INTEGER DEFAULT 0 CHECK (n >= 0),\n    s TEXT,\n    f INTEGER NOT NULL DEFAULT FALSE,\n    \
             PRIMARY KEY (id)\n) STRICT;\nCREATE INDEX t_n ON t (n, s);\nALTER TABLE t ADD COLUMN m INTEGER;\n\
             ALTER TABLE t ADD z BLOB;\nINSERT INTO t (id, f, s) VALUES (x'00', FALSE, 'INT, BYTES');\n"
        );
        assert_eq!(
            translate(sql, Dialect::Postgres).unwrap(),
            "-- no-transaction\n-- A uuid: UUID, INT.\nCREATE TABLE t (\n    id UUID NOT NULL,\n    \
             \"b\" BYTEA,\n    n BIGINT DEFAULT 0 CHECK (n >= 0),\n    s TEXT,\n    f BOOLEAN NOT NULL DEFAULT FALSE,\n    \
             PRIMARY KEY (id)\n);\nCREATE INDEX t_n ON t (n, s);\nALTER TABLE t ADD COLUMN m BIGINT;\n\
             ALTER TABLE t ADD z BYTEA;\nINSERT INTO t (id, f, s) VALUES (x'00', FALSE, 'INT, BYTES');\n"
        );
    }

    /// A type that is not a type word, or table options, are refused with
    /// the line and the column.
    #[test]
    fn a_shared_migration_with_a_backend_type_is_refused() {
        for (sql, says) in [
            (
                "CREATE TABLE t (\n  id UUID,\n  n INTEGER\n);",
                "line 3: column n has type INTEGER",
            ),
            ("CREATE TABLE t (id UUID, b BLOB);", "column b has type BLOB"),
            ("CREATE TABLE t (id UUID, s VARCHAR(9));", "column s has type VARCHAR"),
            ("ALTER TABLE t ADD COLUMN n BIGINT;", "column n has type BIGINT"),
            (
                "CREATE TABLE t (id UUID);\nCREATE TABLE u (id UUID) STRICT;",
                "line 2: a shared migration writes no table options",
            ),
            ("CREATE TABLE t (id);", "column id has no type"),
            ("CREATE TABLE t (id UUID, s TEXT DEFAULT 'x);", "a quote is not closed"),
        ] {
            let err = translate(sql, Dialect::Postgres).unwrap_err();
            assert!(err.contains(says), "{sql}: {err}");
        }
        let err = translate("CREATE TABLE t (n INTEGER);", Dialect::Sqlite).unwrap_err();
        let words: Vec<&str> = TYPES.iter().map(|t| t.0).collect();
        assert!(err.contains(&words.join(", ")), "{err}");
    }

    /// A file of a migration tree: (directory, file name, text).
    type File<'a> = (&'a str, &'a str, &'a str);

    /// A tree under a temporary directory.
    fn tree(files: &[File]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for dir in ["sqlite", "postgres"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        for (dir, name, text) in files {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
            std::fs::write(root.path().join(dir).join(name), text).unwrap();
        }
        root
    }

    /// The build refuses a tree with a version used twice, a backend
    /// migration without its counterpart, or a shared one it cannot
    /// translate, naming each file.
    #[test]
    fn a_bad_migration_tree_is_refused_with_each_file_named() {
        let one = "CREATE TABLE a (id UUID PRIMARY KEY);";
        let cases: [(&[File], &[&str]); 5] = [
            (
                &[
                    ("sqlite", "0001_a.sql", ""),
                    ("postgres", "0001_a.sql", ""),
                    ("shared", "0001_b.sql", one),
                ],
                &[
                    "migrations/sqlite/0001_a.sql and migrations/shared/0001_b.sql: version 1 is used twice",
                    "migrations/postgres/0001_a.sql and migrations/shared/0001_b.sql: version 1 is used twice",
                ],
            ),
            (
                &[("sqlite", "0002_a.sql", "")],
                &["migrations/sqlite/0002_a.sql has no counterpart in migrations/postgres"],
            ),
            (
                &[("postgres", "0002_a.sql", "")],
                &["migrations/postgres/0002_a.sql has no counterpart in migrations/sqlite"],
            ),
            (
                &[("shared", "0003_c.sql", "CREATE TABLE c (id BLOB);")],
                &["migrations/shared/0003_c.sql: line 1: column id has type BLOB"],
            ),
            (
                &[
                    ("shared", "0004_d.sql", one),
                    ("shared", "0004_e.sql", one),
                    ("shared", "x.sql", one),
                ],
                &[
                    "version 4 is used twice",
                    "migrations/shared/x.sql: name it NNNN_description.sql",
                ],
            ),
        ];
        for (files, says) in cases {
            let root = tree(files);
            let err = plan(root.path()).unwrap_err();
            for s in says {
                assert!(err.contains(s), "{files:?}: {err}");
            }
        }
        let ok = tree(&[
            ("sqlite", "0001_a_b.sql", "SELECT 1;"),
            ("postgres", "0001_a_b.sql", "SELECT 1;"),
            ("shared", "0002_c.sql", one),
            ("shared", "README.md", ""),
        ]);
        let plan = plan(ok.path()).unwrap();
        let of = |d: Dialect| {
            plan.of(d)
                .iter()
                .map(|m| (m.version, m.description.clone(), m.shared))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            of(Dialect::Sqlite),
            [(1, "a b".to_owned(), false), (2, "c".to_owned(), true)]
        );
        assert_eq!(of(Dialect::Sqlite), of(Dialect::Postgres));
    }

    /// What the fixture makes of a table: each column's (name, type,
    /// nullable), its indexes that are not unique (the unique ones are in
    /// `Store::schema_keys`), and whether
    /// SQLite checks its types (`STRICT`).
    async fn table(store: &crate::Store, name: &'static str) -> (Vec<(String, String, bool)>, Vec<String>, bool) {
        let sqlite = store.backend() == crate::Backend::Sqlite;
        let (columns, indexes) = if sqlite {
            (
                "SELECT name, lower(type), \"notnull\" = 0 FROM pragma_table_info($1) ORDER BY name",
                "SELECT name FROM pragma_index_list($1) WHERE \"unique\" = 0 ORDER BY name",
            )
        } else {
            (
                "SELECT column_name::text, data_type::text, is_nullable = 'YES' FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY column_name",
                "SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT x.indisunique ORDER BY 1",
            )
        };
        let mut tx = store.begin().await.unwrap();
        let columns: Vec<(String, String, bool)> =
            on_tx!(&mut tx, |c| sqlx::query_as(columns).bind(name).fetch_all(c).await).unwrap();
        let indexes: Vec<String> =
            on_tx!(&mut tx, |c| sqlx::query_scalar(indexes).bind(name).fetch_all(c).await).unwrap();
        let strict = if sqlite {
            on_tx!(&mut tx, |c| sqlx::query_scalar(
                "SELECT strict = 1 FROM pragma_table_list($1)"
            )
            .bind(name)
            .fetch_one(c)
            .await)
            .unwrap()
        } else {
            false
        };
        tx.commit().await.unwrap();
        (columns, indexes, strict)
    }

    /// A migration written once (the fixture's `shared/0001_consents.sql`,
    /// with a step written per backend after it), translated and run on a
    /// real SQLite and a real PostgreSQL: the schemas agree as the contract
    /// test `schema_matches_the_other_backend` compares them (tables,
    /// columns, keys), and also in indexes and nullability; each type word
    /// became its backend's type, and a row of every type goes in and comes
    /// back out unchanged.
    #[tokio::test]
    async fn a_shared_migration_makes_the_same_schema_on_both_backends() {
        use crate::Backend;
        use crate::db::upgrade_tests::{empty, run, skip_without_pg};

        if skip_without_pg() {
            return;
        }
        let plan = plan(&fixture()).unwrap();
        let mut schemas = Vec::new();
        for (backend, dialect) in [
            (Backend::Sqlite, Dialect::Sqlite),
            (Backend::Postgres, Dialect::Postgres),
        ] {
            let migrator = Migrator::with_migrations(
                plan.of(dialect)
                    .iter()
                    .map(|m| super::migration(m.version, m.description.clone().into(), m.sql.clone().into()))
                    .collect(),
            );
            assert_eq!(migrator.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2]);
            let (store, _scratch) = empty(backend).await;
            run(&store, &migrator).await;
            // Run again: nothing is pending, and the checksums still agree.
            run(&store, &migrator).await;

            let (columns, indexes, strict) = table(&store, "consents").await;
            let types: Vec<(&str, &str)> = columns.iter().map(|(n, t, _)| (n.as_str(), t.as_str())).collect();
            let expected: &[(&str, &str)] = match backend {
                Backend::Sqlite => &[
                    ("clinic_id", "blob"),
                    ("form", "text"),
                    ("id", "blob"),
                    ("note", "text"),
                    ("score", "real"),
                    ("signature", "blob"),
                    ("signed_at", "integer"),
                    ("version", "integer"),
                    ("withdrawn", "integer"),
                ],
                Backend::Postgres => &[
                    ("clinic_id", "uuid"),
                    ("form", "text"),
                    ("id", "uuid"),
                    ("note", "text"),
                    ("score", "double precision"),
                    ("signature", "bytea"),
                    ("signed_at", "bigint"),
                    ("version", "bigint"),
                    ("withdrawn", "boolean"),
                ],
            };
            assert_eq!(types, expected, "{backend:?}");
            assert_eq!(strict, backend == Backend::Sqlite);

            let (clinic, id) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
            let row = (
                clinic,
                id,
                "botox".to_owned(),
                vec![0u8, 255, 7],
                i64::MAX,
                true,
                None::<String>,
            );
            let mut tx = store.begin().await.unwrap();
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO consents (clinic_id, id, form, signature, signed_at, withdrawn, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )
            .bind(row.0)
            .bind(row.1)
            .bind(&row.2)
            .bind(&row.3)
            .bind(row.4)
            .bind(row.5)
            .bind(&row.6)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
            let back: (uuid::Uuid, uuid::Uuid, String, Vec<u8>, i64, bool, Option<String>, i64) =
                on_tx!(&mut tx, |c| {
                    sqlx::query_as(
                        "SELECT clinic_id, id, form, signature, signed_at, withdrawn, note, version FROM consents \
                     WHERE clinic_id = $1 AND id = $2",
                    )
                    .bind(clinic)
                    .bind(id)
                    .fetch_one(c)
                    .await
                })
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(
                back,
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6, 1),
                "{backend:?}"
            );

            let nullable: Vec<(String, bool)> = columns.into_iter().map(|(n, _, null)| (n, null)).collect();
            schemas.push((
                store.schema_columns().await.unwrap(),
                store.schema_keys().await.unwrap(),
                nullable,
                indexes,
            ));
        }
        let (pg, sqlite) = (schemas.pop().unwrap(), schemas.pop().unwrap());
        assert!(sqlite.0.contains(&("consents".to_owned(), "note".to_owned())));
        assert_eq!(sqlite.0, pg.0, "the same tables and columns");
        assert!(sqlite.1.iter().any(|k| k.kind == "unique"));
        assert_eq!(sqlite.1, pg.1, "the same primary and unique keys");
        assert!(sqlite.2.contains(&("note".to_owned(), true)));
        assert_eq!(sqlite.2, pg.2, "the same nullable columns");
        assert_eq!(sqlite.3, ["consents_signed"]);
        assert_eq!(sqlite.3, pg.3, "the same other indexes");
    }
}
