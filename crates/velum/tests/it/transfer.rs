//! `velum export` / `velum import`: a clinic moves between the embedded file
//! and PostgreSQL with its ids, contact details, sealed medical data,
//! change history, access log and audit chain, and staff can sign in on the
//! other side. Bad files and repeated imports are refused and change nothing.
//! SQLite → SQLite always; SQLite → PostgreSQL → SQLite whenever
//! `VELUM_TEST_PG_URL` is set (otherwise it prints SKIPPED).

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use velum_app::clients::{ClientPatch, Marketing};
use velum_app::{Actor, App, AppError, ClientId, ClinicId, Clock, DataLocation, FixedClock, Role, Section, StaffId};
use velum_core::client::{ClientDetails, ClientInput, MedicalInput, MedicalSummary};
use velum_testkit::cli::{self, bad_flags, data_dir_with_key, ok, refused, s, sqlite};
use velum_testkit::{TEST_KEY, clock_now, code_at, open_app, seed_staff};

const BIN: &str = env!("CARGO_BIN_EXE_velum");
const PASSWORD: &str = "harbour-thistle-copper-meadow";

fn velum(args: &[&str]) -> Output {
    cli::run(BIN, args)
}

fn velum_with_key(args: &[&str], key: &Path) -> Output {
    cli::run_with_key(BIN, args, key)
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
    let (owner, owner_totp) = seed_staff(app, clinic, &owner_email, "Olive Owner", Role::Owner, PASSWORD).await;
    let (prac, _) = seed_staff(
        app,
        clinic,
        "prac@alpha-move.example",
        "Pat Practitioner",
        Role::Practitioner,
        PASSWORD,
    )
    .await;
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
    let (other_owner, _) = seed_staff(
        app,
        other,
        "owner@beta-stay.example",
        "Bea Owner",
        Role::Owner,
        PASSWORD,
    )
    .await;
    app.create_client(&other_owner, &input(9, "Tarrant"), false)
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

/// Seed a SQLite source, take its views, export it with the CLI.
async fn seeded_export(clock: &Arc<FixedClock>) -> (tempfile::TempDir, Seeded, Vec<ClientView>, std::path::PathBuf) {
    let src = data_dir_with_key(TEST_KEY);
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
    let clock = clock_now();
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
    let dst = data_dir_with_key(TEST_KEY);
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
    let fresh = data_dir_with_key(TEST_KEY);
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
    let v9 = header.replace("{\"format\":2,", "{\"format\":9,");
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
    let clock = clock_now();
    let (src, seeded, before, file) = seeded_export(&clock).await;
    let key = src.path().join("master.key");
    let db = velum_testkit::fresh_pg_database().await;
    let url = db.url().to_owned();

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
    let dst = data_dir_with_key(TEST_KEY);
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

/// An export written before `audit_events.actor_kind` existed (migration
/// 0014): export format 1, its audit events without that column and linked
/// without it, its body sealed in one piece. Made here from a fresh export
/// by dropping the column, re-linking the chain as the build of that time
/// did, and sealing the body as format 1.
fn as_format_1_before_actor_kind(bytes: &[u8]) -> Vec<u8> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde_json::Value;
    use sha2::{Digest, Sha256};
    use velum_crypto::{Aad, MasterKey, WrappedKey};

    const MARKER: &[u8] = b"VELUM CLINIC EXPORT\n";
    let aad = |format: u32, header: &[u8], clinic: uuid::Uuid| {
        let digest = hex::encode(Sha256::digest(header));
        Aad::record(&format!("velum.clinic-export/v{format}/sha256:{digest}"), &[clinic])
    };
    let rest = bytes.strip_prefix(MARKER).unwrap();
    let split = rest.iter().position(|&b| b == b'\n').unwrap();
    let (header_bytes, sealed) = (&rest[..split], &rest[split + 1..]);
    let mut header: Value = serde_json::from_slice(header_bytes).unwrap();
    assert_eq!(header["format"], 2);
    let clinic = uuid::Uuid::parse_str(header["clinic_id"].as_str().unwrap()).unwrap();
    let master = MasterKey::from_bytes(&TEST_KEY).unwrap();
    let wrapped = B64.decode(header["clinic_key"]["wrapped"].as_str().unwrap()).unwrap();
    let clinic_key = master
        .unwrap_clinic_key(&WrappedKey::from_bytes(wrapped), ClinicId::from_uuid(clinic))
        .unwrap();
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut clinic_key.open_stream(&aad(2, header_bytes, clinic), sealed).unwrap(),
        &mut body,
    )
    .unwrap();
    let mut lines: Vec<Value> = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let link = master.audit_chain_key().for_chain(clinic);
    let mut prev = velum_crypto::chain::GENESIS;
    let uuid_of = |v: &Value| v.as_str().map(|s| uuid::Uuid::parse_str(s).unwrap());
    let mut events = 0;
    for line in lines.iter_mut().filter(|l| l["table"] == "audit_events") {
        let row = line["row"].as_object_mut().unwrap();
        assert!(row.remove("actor_kind").is_some());
        let bytes = velum_core::audit::CanonicalFields {
            id: uuid_of(&row["id"]).unwrap(),
            seq: row["seq"].as_i64().unwrap(),
            at_micros: row["at"].as_i64().unwrap(),
            clinic,
            actor: uuid_of(&row["actor_id"]),
            client: uuid_of(&row["client_id"]),
            sections: row["sections"].as_str().unwrap(),
            action: row["action"].as_str().unwrap(),
            purpose: row["purpose"].as_str().unwrap(),
            source: row["source"].as_str(),
            detail: row["detail"].as_str(),
            actor_kind: None,
        }
        .encode();
        assert_eq!(row["link_version"], 2, "keyed links predate the actor kind");
        let hash = link.link(&prev, &bytes);
        row.insert("prev_hash".into(), Value::String(B64.encode(prev)));
        row.insert("hash".into(), Value::String(B64.encode(hash)));
        prev = hash;
        events += 1;
    }
    assert!(events > 10, "{events}");
    for line in lines.iter_mut().filter(|l| l["table"] == "audit_heads") {
        line["row"]["hash"] = Value::String(B64.encode(prev));
    }
    let mut body = Vec::new();
    for line in &lines {
        serde_json::to_writer(&mut body, line).unwrap();
        body.push(b'\n');
    }
    header["format"] = Value::from(1);
    let header_bytes = serde_json::to_vec(&header).unwrap();
    let sealed = clinic_key.seal(&body, &aad(1, &header_bytes, clinic));
    [MARKER, &header_bytes, b"\n", &sealed].concat()
}

/// An installation's export made before the audit table gained its actor
/// kind column still imports: the column is NULL for those events, and the
/// chain verifies as it did at the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_the_previous_format_without_actor_kinds_still_imports() {
    let clock = clock_now();
    let (src, seeded, before, file) = seeded_export(&clock).await;
    let old = src.path().join("alpha-format-1.velum-export");
    std::fs::write(&old, as_format_1_before_actor_kind(&std::fs::read(&file).unwrap())).unwrap();
    let dst = data_dir_with_key(TEST_KEY);
    let out = ok(&velum(&["import", "--data-dir", s(dst.path()), s(&old)]));
    assert!(out.contains(&seeded.clinic.to_string()), "{out}");
    let app = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    let report = app.verify_audit().await.unwrap();
    assert!(report.first_break.is_none(), "{report:?}");
    assert_eq!(report.chains, 1);
    let after = views(&app, &seeded.owner, &seeded.clients).await;
    assert_same(&before, &after);
    // The trail reads the imported events, whose actor kind is unknown.
    let trail = app.audit_trail(&seeded.owner, None).await.unwrap();
    assert!(trail.items.iter().any(|e| e.action.as_str() == "clinic_imported"));
    assert!(trail.items.iter().any(|e| e.action.as_str() == "create"));
    app.close().await;
    audit_verify(&["--data-dir", s(dst.path())]);
}
