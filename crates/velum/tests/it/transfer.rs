//! `velum export` / `velum import`: a clinic moves between the embedded file
//! and PostgreSQL with its ids, contact details, sealed medical data,
//! change history, access log and audit chain, and staff can sign in on the
//! other side. Bad files and repeated imports are refused and change nothing.
//! SQLite → SQLite always; SQLite → PostgreSQL → SQLite whenever
//! `VELUM_TEST_PG_URL` is set (otherwise it prints SKIPPED).

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use velum_app::clients::{ClientPatch, Marketing};
use velum_app::{Actor, App, AppError, ClientId, ClinicId, Clock, DataLocation, FixedClock, Role, Section, StaffId};
use velum_core::client::{ClientDetails, ClientInput, MedicalInput, MedicalSummary};
use velum_testkit::{code_at, open_app};

const BIN: &str = env!("CARGO_BIN_EXE_velum");
const PASSWORD: &str = "harbour-thistle-copper-meadow";
/// testkit's master key (`open_app` uses it); the CLI reads it from DIR/master.key.
const TEST_KEY: [u8; 32] = [7; 32];

fn velum(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("VELUM_MASTER_KEY_FILE")
        .env_remove("VELUM_DATABASE_URL")
        .env_remove("VELUM_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn velum_with_key(args: &[&str], key: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env("VELUM_MASTER_KEY_FILE", key)
        .env_remove("VELUM_DATABASE_URL")
        .env_remove("VELUM_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(o.status.success(), "velum failed: {}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A refusal: failure, one line on stderr naming `expect`.
#[track_caller]
fn refused(o: &Output, expect: &[&str]) -> String {
    let err = bad_flags(o, expect);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

/// Refused by the argument parser (which adds a usage line).
#[track_caller]
fn bad_flags(o: &Output, expect: &[&str]) -> String {
    assert!(!o.status.success(), "velum should have refused: {}", text(o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in {err}");
    }
    err
}

/// A data directory holding `key` as master.key (mode 0600).
fn data_dir(key: [u8; 32]) -> tempfile::TempDir {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.path().join("master.key"))
        .unwrap();
    f.write_all(&key).unwrap();
    dir
}

fn sqlite(dir: &Path) -> DataLocation {
    DataLocation::SqliteFile(dir.join("velum.db"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn audit_verify(args: &[&str]) -> String {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let out = ok(&velum(&all));
    assert!(out.contains("Audit trail intact"), "{out}");
    out
}

fn input(n: u32, family: &str) -> ClientInput {
    ClientInput {
        given_name: "Imogen".into(),
        family_name: family.into(),
        date_of_birth: "1979-11-02".into(),
        email: format!("imogen.{n}@movetest.example"),
        mobile: format!("07400 {:06}", 300_100 + n),
        line1: format!("{n} Quarry Lane"),
        line2: String::new(),
        town: "Harrogate".into(),
        postcode: "HG1 2AB".into(),
    }
}

/// The seeded clinic: an owner with TOTP, a practitioner, three clients
/// with edits (history), medical summaries, reads (audit), one archived,
/// one with marketing consent; and a second clinic that must not move.
struct Seeded {
    clinic: ClinicId,
    other: ClinicId,
    owner: Actor,
    owner_email: String,
    owner_totp: String,
    clients: Vec<ClientId>,
    /// A session made on the source: sessions do not move.
    session: String,
}

async fn seed(app: &App, clock: &FixedClock) -> Seeded {
    let clinic = app.fixture_clinic("Alpha Move").await.unwrap();
    let owner_email = "owner@alpha-move.example".to_owned();
    let (owner_id, owner_totp) = app
        .fixture_staff(clinic, &owner_email, "Olive Owner", Role::Owner, PASSWORD)
        .await
        .unwrap();
    let (prac_id, _) = app
        .fixture_staff(
            clinic,
            "prac@alpha-move.example",
            "Pat Practitioner",
            Role::Practitioner,
            PASSWORD,
        )
        .await
        .unwrap();
    let owner = actor(clinic, owner_id, Role::Owner);
    let prac = actor(clinic, prac_id, Role::Practitioner);
    let mut clients = Vec::new();
    for (n, family) in ["Quillfeather", "Ravensworth", "Stonebridge"].iter().enumerate() {
        let id = app
            .create_client(&owner, &input(u32::try_from(n).unwrap(), family), false)
            .await
            .unwrap()
            .header
            .id;
        clients.push(id);
    }
    clock.advance(SignedDuration::from_secs(60));
    app.update_client(
        &owner,
        clients[0],
        ClientPatch {
            postcode: Some("LS1 4AP".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for (i, allergy) in [(0, "Lidocaine"), (1, "Hyaluronidase"), (1, "Latex")] {
        clock.advance(SignedDuration::from_secs(60));
        let medical = MedicalInput {
            allergies: vec![allergy.into()],
            medications: vec!["Isotretinoin".into()],
            notes: "Bruises easily".into(),
            ..Default::default()
        };
        app.put_medical(&prac, clients[i], &medical).await.unwrap();
    }
    app.set_client_archived(&owner, clients[2], true).await.unwrap();
    app.set_marketing(
        &owner,
        clients[1],
        Marketing {
            email: true,
            sms: false,
        },
    )
    .await
    .unwrap();
    for id in &clients {
        app.open_card(&prac, *id, &[Section::Contact, Section::Medical])
            .await
            .unwrap();
    }
    // A second clinic, with a client of its own: it stays where it is.
    let other = app.fixture_clinic("Beta Stay").await.unwrap();
    let (other_owner, _) = app
        .fixture_staff(other, "owner@beta-stay.example", "Bea Owner", Role::Owner, PASSWORD)
        .await
        .unwrap();
    app.create_client(&actor(other, other_owner, Role::Owner), &input(9, "Tarrant"), false)
        .await
        .unwrap();
    // The owner signs in on the source: the code's step is then used up,
    // and that must still hold after the move.
    clock.advance(SignedDuration::from_secs(30));
    let session = app
        .api_sign_in(&owner_email, PASSWORD, &code_at(&owner_totp, clock.now()), None)
        .await
        .unwrap()
        .token;
    Seeded {
        clinic,
        other,
        owner,
        owner_email,
        owner_totp,
        clients,
        session,
    }
}

fn actor(clinic_id: ClinicId, staff_id: StaffId, role: Role) -> Actor {
    Actor::Staff(velum_core::StaffActor {
        staff_id,
        clinic_id,
        role,
        source: None,
    })
}

type Access = (
    i64,
    Timestamp,
    Option<StaffId>,
    Option<String>,
    String,
    Vec<Section>,
    String,
);

/// What a client's card shows, through the use cases.
#[derive(Debug, PartialEq)]
struct ClientView {
    id: ClientId,
    details: ClientDetails,
    archived: bool,
    marketing: Option<Marketing>,
    contact_version: i64,
    medical: Option<(MedicalSummary, i64)>,
    changes: Vec<(String, Timestamp, Option<String>, bool)>,
    /// The access log, newest first, as it stood before this view was taken.
    access: Vec<Access>,
}

/// Each client's card, medical summary, history and access log. The access
/// log is read first; this view's own three reads (log, card, history) are
/// then the newest events of the client on whatever installation it is
/// read next.
async fn views(app: &App, owner: &Actor, clients: &[ClientId]) -> Vec<ClientView> {
    let mut out = Vec::new();
    for id in clients {
        let (_, log) = app.access_log(owner, *id, None).await.unwrap();
        let access = log
            .items
            .into_iter()
            .skip(1) // the read of the log itself
            .map(|e| {
                (
                    e.seq,
                    e.at,
                    e.actor_id,
                    e.actor_name,
                    e.action.as_str().to_owned(),
                    e.sections,
                    e.purpose,
                )
            })
            .collect();
        let card = app
            .open_card(owner, *id, &[Section::Contact, Section::Medical, Section::Marketing])
            .await
            .unwrap();
        let contact = card.contact.unwrap();
        let (_, changes) = app.client_changes(owner, *id).await.unwrap();
        out.push(ClientView {
            id: card.header.id,
            details: contact.details,
            archived: card.header.archived,
            marketing: card.marketing,
            contact_version: contact.version,
            medical: card.medical.map(|m| (m.summary, m.version)),
            changes: changes.into_iter().map(|c| (c.section, c.at, c.by, c.first)).collect(),
            access,
        });
    }
    out
}

/// The target shows what the source showed when it was exported: the same
/// cards, and the same access log below the reads made since.
fn assert_same(before: &[ClientView], after: &[ClientView]) {
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(after) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.details, b.details, "contact details");
        assert_eq!(a.archived, b.archived);
        assert_eq!(a.marketing, b.marketing);
        assert_eq!(a.contact_version, b.contact_version);
        assert_eq!(a.medical, b.medical, "medical summary decrypts the same");
        assert_eq!(a.changes, b.changes, "change history");
        // Newest first: the previous view's log, card and history reads.
        assert!(!b.access.is_empty());
        assert_eq!(a.access.len(), b.access.len() + 3);
        assert_eq!(a.access[3..], b.access[..], "access log");
    }
    assert!(before.iter().any(|v| v.medical.is_some()));
    assert!(before.iter().any(|v| v.changes.len() > 1));
}

/// The owner signs in on `app`: the code already used on the source is
/// refused (its TOTP state moved), the next one works.
async fn owner_signs_in(app: &App, clock: &FixedClock, seeded: &Seeded) {
    let used = code_at(&seeded.owner_totp, clock.now());
    assert!(matches!(
        app.api_sign_in(&seeded.owner_email, PASSWORD, &used, None).await,
        Err(AppError::BadCredentials)
    ));
    clock.advance(SignedDuration::from_secs(30));
    let fresh = code_at(&seeded.owner_totp, clock.now());
    let session = app
        .api_sign_in(&seeded.owner_email, PASSWORD, &fresh, None)
        .await
        .unwrap();
    assert!(app.session(&session.token).await.is_ok());
    assert!(app.session(&seeded.session).await.is_err(), "sessions do not move");
}

/// The newest event of the clinic's trail before the trail read itself.
async fn last_action(app: &App, owner: &Actor) -> String {
    let trail = app.audit_trail(owner, None).await.unwrap();
    trail.items[1].action.as_str().to_owned()
}

fn test_clock() -> Arc<FixedClock> {
    #[expect(clippy::disallowed_methods, reason = "the test clock starts at the real time")]
    let now = Timestamp::now();
    Arc::new(FixedClock::new(now))
}

/// Seed a SQLite source, take its views, export it with the CLI.
async fn seeded_export(clock: &Arc<FixedClock>) -> (tempfile::TempDir, Seeded, Vec<ClientView>, std::path::PathBuf) {
    let src = data_dir(TEST_KEY);
    let app = open_app(&sqlite(src.path()), clock.clone(), None).await;
    let seeded = seed(&app, clock).await;
    let before = views(&app, &seeded.owner, &seeded.clients).await;
    app.close().await;
    let file = src.path().join("alpha.velum-export");
    let out = ok(&velum(&[
        "export",
        "--data-dir",
        s(src.path()),
        "--clinic",
        &seeded.clinic.to_string(),
        "--out",
        s(&file),
    ]));
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    assert!(
        out.contains(&seeded.clinic.to_string()) && out.contains("clients 3"),
        "{out}"
    );
    (src, seeded, before, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_sqlite_to_sqlite_round_trip_and_refusals() {
    let clock = test_clock();
    let (src, seeded, before, file) = seeded_export(&clock).await;

    // Two clinics: --clinic is needed, and the error names no clinic.
    let err = refused(
        &velum(&["export", "--data-dir", s(src.path()), "--out", s(&src.path().join("x"))]),
        &["2 clinics", "--clinic"],
    );
    assert!(!err.contains("Alpha") && !err.contains("Beta"), "{err}");
    // Bad flags name the flag; an existing file is never overwritten.
    bad_flags(&velum(&["export", "--data-dir", s(src.path())]), &["--out"]);
    bad_flags(
        &velum(&["export", "--data-dir", s(src.path()), "--clinic", "nope", "--out", "x"]),
        &["--clinic"],
    );
    refused(
        &velum(&[
            "export",
            "--data-dir",
            s(src.path()),
            "--clinic",
            &ClinicId::new().to_string(),
            "--out",
            s(&src.path().join("y")),
        ]),
        &["--clinic", "no clinic"],
    );
    let bytes = std::fs::read(&file).unwrap();
    refused(
        &velum(&[
            "export",
            "--data-dir",
            s(src.path()),
            "--clinic",
            &seeded.clinic.to_string(),
            "--out",
            s(&file),
        ]),
        &["--out", "already exists"],
    );
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "left as it was");

    // The file: mode 0600, no temporary file left, nothing personal readable.
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let names: Vec<String> = std::fs::read_dir(src.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
    for needle in [
        "Quillfeather",
        "imogen.0@movetest.example",
        "Lidocaine",
        "Olive Owner",
        "owner@alpha-move",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the export holds {needle} in plaintext"
        );
    }

    // Import into a new installation with the same master key.
    let dst = data_dir(TEST_KEY);
    let out = ok(&velum(&["import", "--data-dir", s(dst.path()), s(&file)]));
    assert!(
        out.contains(&seeded.clinic.to_string()) && out.contains("clients 3"),
        "{out}"
    );
    audit_verify(&["--data-dir", s(dst.path())]);
    audit_verify(&["--data-dir", s(src.path())]);

    let app = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    let clinics = app.clinics().await.unwrap();
    assert_eq!(clinics.len(), 1, "only the exported clinic moves");
    assert_eq!(clinics[0].id, seeded.clinic);
    assert_ne!(clinics[0].id, seeded.other);
    let after = views(&app, &seeded.owner, &seeded.clients).await;
    assert_same(&before, &after);
    owner_signs_in(&app, &clock, &seeded).await;
    let trail = app.audit_trail(&seeded.owner, None).await.unwrap();
    assert!(
        trail
            .items
            .iter()
            .any(|e| e.action.as_str() == "clinic_imported" && e.actor_id.is_none())
    );
    let report = app.verify_audit().await.unwrap();
    assert_eq!(report.first_break, None);
    app.close().await;

    // The source recorded the export, after the rows it exported.
    let src_app = open_app(&sqlite(src.path()), clock.clone(), None).await;
    assert_eq!(last_action(&src_app, &seeded.owner).await, "clinic_exported");
    src_app.close().await;

    // Importing the same file again is refused and changes nothing.
    let db = dst.path().join("velum.db");
    let app = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    let report_before = app.verify_audit().await.unwrap();
    app.close().await;
    refused(
        &velum(&["import", "--data-dir", s(dst.path()), s(&file)]),
        &["already exists", &seeded.clinic.to_string()],
    );
    let app = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    assert_eq!(app.verify_audit().await.unwrap(), report_before);
    app.close().await;
    assert!(db.exists());

    // Damaged and foreign files are refused before the target is touched:
    // a fresh target directory gets no database at all.
    let fresh = data_dir(TEST_KEY);
    let try_import = |name: &str, content: &[u8], expect: &[&str]| {
        let f = fresh.path().join(name);
        std::fs::write(&f, content).unwrap();
        refused(&velum(&["import", "--data-dir", s(fresh.path()), s(&f)]), expect);
        assert!(!fresh.path().join("velum.db").exists(), "{name} created a database");
    };
    let mut flipped = bytes.clone();
    let at = flipped.len() - 40;
    flipped[at] ^= 0x01;
    try_import("flipped-body", &flipped, &["damaged or was altered", "sealed body"]);
    let header_end = bytes.iter().skip(20).position(|&b| b == b'\n').unwrap() + 20;
    let header = String::from_utf8(bytes[20..header_end].to_vec()).unwrap();
    let edited = header.replace("\"clients\":3", "\"clients\":4");
    assert_ne!(edited, header);
    let with_header = |h: &str| [&bytes[..20], h.as_bytes(), &bytes[header_end..]].concat();
    try_import("edited-header", &with_header(&edited), &["damaged or was altered"]);
    let v9 = header.replace("{\"format\":1,", "{\"format\":9,");
    assert_ne!(v9, header);
    try_import("format-9", &with_header(&v9), &["unsupported export format version 9"]);
    try_import("truncated", &bytes[..bytes.len() / 2], &["damaged or was altered"]);
    try_import("not-an-export", b"SQLite format 3\0", &["not a Velum clinic export"]);
    refused(
        &velum(&[
            "import",
            "--data-dir",
            s(fresh.path()),
            s(&fresh.path().join("missing")),
        ]),
        &["FILE", "cannot read"],
    );

    // A file made under another master key.
    let foreign = tempfile::tempdir().unwrap();
    let fd = s(foreign.path());
    ok(&velum(&["keys", "init", "--data-dir", fd]));
    ok(&velum(&[
        "clinic",
        "create",
        "--data-dir",
        fd,
        "--name",
        "Gamma Elsewhere",
        "--owner-email",
        "owner@gamma.example",
    ]));
    let foreign_file = foreign.path().join("gamma.export");
    ok(&velum(&["export", "--data-dir", fd, "--out", s(&foreign_file)]));
    try_import(
        "foreign",
        &std::fs::read(&foreign_file).unwrap(),
        &["another master key"],
    );
    refused(
        &velum(&["import", "--data-dir", s(dst.path()), s(&foreign_file)]),
        &["another master key"],
    );
    let app = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    assert_eq!(app.verify_audit().await.unwrap(), report_before, "still unchanged");
    assert_eq!(app.clinics().await.unwrap().len(), 1);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_sqlite_to_postgres_and_back() {
    if velum_testkit::skip_without_pg("transfer::transfer_sqlite_to_postgres_and_back") {
        return;
    }
    let clock = test_clock();
    let (src, seeded, before, file) = seeded_export(&clock).await;
    let key = src.path().join("master.key");
    let url = velum_testkit::fresh_pg_database().await;

    // SQLite → PostgreSQL (migrated by the import), then verified there.
    let out = ok(&velum_with_key(&["import", "--database-url", &url, s(&file)], &key));
    assert!(out.contains(&seeded.clinic.to_string()), "{out}");
    let verified = ok(&velum_with_key(&["audit", "verify", "--database-url", &url], &key));
    assert!(verified.contains("Audit trail intact"), "{verified}");
    refused(
        &velum_with_key(&["import", "--database-url", &url, s(&file)], &key),
        &["already exists"],
    );
    let pg = open_app(&DataLocation::Postgres(url.clone()), clock.clone(), None).await;
    owner_signs_in(&pg, &clock, &seeded).await;
    assert_eq!(pg.clinics().await.unwrap().len(), 1);
    pg.close().await;

    // PostgreSQL → SQLite: one clinic there, so --clinic may be left out.
    let back = src.path().join("back.velum-export");
    let out = ok(&velum_with_key(
        &["export", "--database-url", &url, "--out", s(&back)],
        &key,
    ));
    assert!(out.contains("clients 3"), "{out}");
    let dst = data_dir(TEST_KEY);
    ok(&velum(&["import", "--data-dir", s(dst.path()), s(&back)]));
    audit_verify(&["--data-dir", s(dst.path())]);
    audit_verify(&["--data-dir", s(src.path())]);
    let verified = ok(&velum_with_key(&["audit", "verify", "--database-url", &url], &key));
    assert!(verified.contains("Audit trail intact"), "{verified}");
    let pg = open_app(&DataLocation::Postgres(url.clone()), clock.clone(), None).await;
    assert_eq!(last_action(&pg, &seeded.owner).await, "clinic_exported");
    pg.close().await;

    let app = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    let after = views(&app, &seeded.owner, &seeded.clients).await;
    assert_same(&before, &after);
    // The chain carried the first import and the sign-in on PostgreSQL; an
    // export's own event follows the rows it exported, so it stays behind.
    let trail = app.audit_trail(&seeded.owner, None).await.unwrap();
    let actions: Vec<&str> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "clinic_imported").count(),
        2,
        "{actions:?}"
    );
    assert!(!actions.contains(&"clinic_exported"), "{actions:?}");
    // The TOTP step used on PostgreSQL came back too.
    owner_signs_in(&app, &clock, &seeded).await;
    app.close().await;
}
