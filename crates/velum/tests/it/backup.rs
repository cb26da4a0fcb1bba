//! `velum backup` and `velum restore` from the outside, on the backend the
//! suite runs on (`VELUM_TEST_BACKEND`): a backup taken while clients are
//! being written restores into an empty target with the same client count
//! and an intact audit chain; a changed file is refused; a restore never
//! goes into a target that holds anything.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use velum_core::Role;
use velum_synthetic::Synthetic;
use velum_testkit::cli::{data_dir_with_key, ok, refused, s, sqlite};
use velum_testkit::{Backend, PgDatabase, TEST_KEY, clock_now, fresh_pg_database, open_app, seed_staff};

const BIN: &str = env!("CARGO_BIN_EXE_velum");

/// Where an installation's data is: a data dir holding the test key, and on
/// PostgreSQL the test's own database.
struct Place {
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

impl Place {
    async fn new(backend: Backend) -> Place {
        Place {
            dir: data_dir_with_key(TEST_KEY),
            pg: match backend {
                Backend::Sqlite => None,
                Backend::Postgres => Some(fresh_pg_database().await),
            },
        }
    }

    fn location(&self) -> velum_app::DataLocation {
        match &self.pg {
            None => sqlite(self.dir.path()),
            Some(db) => velum_app::DataLocation::Postgres(db.url().to_owned()),
        }
    }

    /// `--data-dir DIR` and, on PostgreSQL, `--database-url URL`.
    fn args(&self) -> Vec<String> {
        let mut a = vec!["--data-dir".to_owned(), s(self.dir.path()).to_owned()];
        if let Some(db) = &self.pg {
            a.extend(["--database-url".to_owned(), db.url().to_owned()]);
        }
        a
    }
}

fn velum(args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    velum_testkit::cli::run(BIN, &args)
}

fn backup_args(place: &Place, to: &Path) -> Vec<String> {
    let mut a = vec!["backup".to_owned()];
    a.extend(place.args());
    a.extend(["--to".to_owned(), s(to).to_owned()]);
    a
}

fn restore_args(place: &Place, from: &Path) -> Vec<String> {
    let mut a = vec!["restore".to_owned()];
    a.extend(place.args());
    a.extend(["--from".to_owned(), s(from).to_owned()]);
    a
}

/// The manifest line of a backup file.
fn manifest(file: &Path) -> Value {
    let bytes = std::fs::read(file).unwrap();
    let line = bytes.split(|&b| b == b'\n').nth(1).unwrap();
    serde_json::from_slice(line).unwrap()
}

/// An installation with one clinic and `n` clients; returns the app open
/// on it and the owner acting.
async fn seeded(place: &Place, n: usize) -> (velum_app::App, velum_core::Actor) {
    let app = open_app(&place.location(), clock_now(), None).await;
    let clinic = app.fixture_clinic("Backup Clinic").await.unwrap();
    let (owner, _) = seed_staff(
        &app,
        clinic,
        "owner@backup.example",
        "Olive Owner",
        Role::Owner,
        "correct horse battery staple",
    )
    .await;
    app.fixture_clients(&owner, n, &mut Synthetic::new(11)).await.unwrap();
    (app, owner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_restores_the_same_clients_with_an_intact_chain() {
    let backend = Backend::from_env();
    let source = Place::new(backend).await;
    let (app, owner) = seeded(&source, 30).await;
    let before = app.table_counts().await.unwrap()["clients"];

    // Keep writing clients (each its own transactions, with audit events)
    // while the backup runs in another process.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            let mut rng = Synthetic::new(12);
            let mut written = 0;
            while !stop.load(Ordering::Relaxed) {
                app.fixture_clients(&owner, 1, &mut rng).await.unwrap();
                written += 1;
            }
            written
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("velum.backup");
    let args = backup_args(&source, &file);
    let backup = tokio::task::spawn_blocking(move || velum(&args)).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    let printed = ok(&backup);
    assert!(printed.contains("Backup written"), "{printed}");
    let after = app.table_counts().await.unwrap()["clients"];
    app.close().await;
    assert!(written > 0 && after > before, "the writer wrote during the test");

    let m = manifest(&file);
    let in_backup = m["counts"]["clients"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&in_backup),
        "the backup holds {in_backup} clients, between {before} and {after}"
    );
    let sum = std::fs::read_to_string(file.with_extension("backup.sha256")).unwrap();
    assert!(
        sum.ends_with("  velum.backup\n") && sum.len() == 64 + 2 + 12 + 1,
        "{sum}"
    );

    let target = Place::new(backend).await;
    let restored = ok(&velum(&restore_args(&target, &file)));
    assert!(restored.contains("audit trail intact"), "{restored}");
    assert!(restored.contains("row counts match the manifest"), "{restored}");
    assert!(!restored.contains(" 0 medical summaries opened"), "{restored}");

    // The restored copy serves the same clients, and its chain verifies.
    let app = open_app(&target.location(), clock_now(), None).await;
    assert_eq!(app.table_counts().await.unwrap()["clients"], in_backup);
    assert!(app.verify_audit().await.unwrap().first_break.is_none());
    app.close().await;
    let mut verify = vec!["audit".to_owned(), "verify".to_owned()];
    verify.extend(target.args());
    assert!(ok(&velum(&verify)).contains("Audit trail intact"));
}

#[tokio::test]
async fn a_changed_backup_is_refused_and_nothing_is_restored() {
    let backend = Backend::from_env();
    let source = Place::new(backend).await;
    let (app, _) = seeded(&source, 5).await;
    app.close().await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("velum.backup");
    ok(&velum(&backup_args(&source, &file)));
    let sum_path = file.with_extension("backup.sha256");
    let original = std::fs::read(&file).unwrap();

    // One byte of the sealed body changed: the checksum no longer holds.
    let mut changed = original.clone();
    let at = changed.len() - 100;
    changed[at] ^= 0x01;
    std::fs::write(&file, &changed).unwrap();
    let target = Place::new(backend).await;
    refused(
        &velum(&restore_args(&target, &file)),
        &["--from", "does not match its checksum"],
    );

    // The same change with a checksum made to match: the sealed body
    // itself refuses it.
    let sum = velum_app::backup::file_sha256(&file, &|_| {}).unwrap();
    std::fs::write(&sum_path, format!("{sum}  velum.backup\n")).unwrap();
    refused(
        &velum(&restore_args(&target, &file)),
        &["--from", "damaged", "nothing was restored"],
    );

    // A changed row count in the manifest: the manifest is bound to the body.
    let text = original.clone();
    let nl = text.iter().skip(13).position(|&b| b == b'\n').unwrap() + 13;
    let header = String::from_utf8(text[13..nl].to_vec()).unwrap();
    let edited = header.replacen("\"clients\":5", "\"clients\":6", 1);
    assert_ne!(edited, header);
    let mut forged = text[..13].to_vec();
    forged.extend_from_slice(edited.as_bytes());
    forged.extend_from_slice(&text[nl..]);
    std::fs::write(&file, &forged).unwrap();
    let sum = velum_app::backup::file_sha256(&file, &|_| {}).unwrap();
    std::fs::write(&sum_path, format!("{sum}  velum.backup\n")).unwrap();
    refused(&velum(&restore_args(&target, &file)), &["--from", "damaged"]);

    // Nothing was left behind: the target is still empty and takes the
    // untouched file.
    if target.pg.is_none() {
        let left: Vec<_> = std::fs::read_dir(target.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("master.key")]);
    }
    std::fs::write(&file, &original).unwrap();
    let sum = velum_app::backup::file_sha256(&file, &|_| {}).unwrap();
    std::fs::write(&sum_path, format!("{sum}  velum.backup\n")).unwrap();
    ok(&velum(&restore_args(&target, &file)));
}

/// A backup is verified against its manifest's row counts before anything
/// is migrated, so one of another schema (another release's migrations)
/// is refused with what to do, and nothing is restored.
#[tokio::test]
async fn a_backup_of_another_schema_is_refused_by_name() {
    let backend = Backend::from_env();
    let source = Place::new(backend).await;
    let (app, _) = seeded(&source, 2).await;
    app.close().await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("velum.backup");
    ok(&velum(&backup_args(&source, &file)));

    // The same body under a manifest that says one migration fewer, sealed
    // and checksummed as a real backup of that schema would be.
    let key = velum_testkit::test_master_key();
    let reader = std::io::BufReader::new(std::fs::File::open(&file).unwrap());
    let (mut manifest, mut body) = velum_app::backup::open(&key, reader).unwrap();
    let ours = velum_app::backup::migrations_applied();
    assert_eq!(manifest.counts.get("_sqlx_migrations"), Some(&ours));
    manifest.counts.insert("_sqlx_migrations".to_owned(), ours - 1);
    let older = out_dir.path().join("older.backup");
    let mut writer =
        velum_app::backup::BackupWriter::start(&key, &manifest, std::fs::File::create(&older).unwrap()).unwrap();
    std::io::copy(&mut body, &mut writer).unwrap();
    writer.finish().unwrap();
    let sum = velum_app::backup::file_sha256(&older, &|_| {}).unwrap();
    std::fs::write(older.with_extension("backup.sha256"), format!("{sum}  older.backup\n")).unwrap();

    let target = Place::new(backend).await;
    refused(
        &velum(&restore_args(&target, &older)),
        &[
            "--from",
            &format!("schema {}", ours - 1),
            "restore it with the release that made it",
        ],
    );
    if target.pg.is_none() {
        let left: Vec<_> = std::fs::read_dir(target.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("master.key")]);
    }
}

#[tokio::test]
async fn restore_refuses_a_target_that_holds_data_or_a_missing_checksum() {
    let backend = Backend::from_env();
    let source = Place::new(backend).await;
    let (app, _) = seeded(&source, 3).await;
    app.close().await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("velum.backup");
    ok(&velum(&backup_args(&source, &file)));
    refused(&velum(&backup_args(&source, &file)), &["--to", "already exists"]);

    // Into the installation it came from: refused, nothing touched.
    let err = refused(&velum(&restore_args(&source, &file)), &["not empty"]);
    match backend {
        Backend::Sqlite => assert!(err.contains("--data-dir") && err.contains("velum.db"), "{err}"),
        Backend::Postgres => assert!(err.contains("--database-url"), "{err}"),
    }
    if backend == Backend::Sqlite {
        // A directory holding anything besides the key is refused too.
        let target = Place::new(backend).await;
        std::fs::write(target.dir.path().join("notes.txt"), "x").unwrap();
        refused(
            &velum(&restore_args(&target, &file)),
            &["--data-dir", "not empty", "notes.txt"],
        );
    }
    std::fs::remove_file(file.with_extension("backup.sha256")).unwrap();
    let target = Place::new(backend).await;
    refused(
        &velum(&restore_args(&target, &file)),
        &["--from", "velum.backup.sha256"],
    );
}
