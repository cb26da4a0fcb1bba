//! Offboarding a clinic in hosted mode: the clinic leaves with a readable
//! archive of all its data (opened with a key shown once), then its keys,
//! rows and blobs are destroyed, its tombstone stays, and a certificate is
//! recorded in the platform's audit chain. Refusals change nothing.
//!
//! DOMAIN F38: every refusal of authorisation is audited, and the hash
//! chains still verify after the clinic's own chain is deleted. F35 (the
//! retention job crypto-shreds by destroying keys) is the model offboarding
//! follows for a whole clinic: destroying `clinic_keys` and `client_keys`
//! leaves any copy of the data in backups unreadable.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use velum_app::clients::ClientPatch;
use velum_app::offboard::{CertificateFile, OffboardError, OffboardRequest, open_archive};
use velum_app::platform::platform_id;
use velum_app::{Actor, App, AppError, BlobStore, ClientId, ClinicId, DataLocation, FixedClock, Role, Section};
use velum_core::client::{ClientInput, MedicalInput};
use velum_testkit::{TestApp, open_app_with_blobs};

const BIN: &str = env!("CARGO_BIN_EXE_velum");
const PASSWORD: &str = "harbour-thistle-copper-meadow";

fn velum(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("VELUM_MASTER_KEY_FILE")
        .env_remove("VELUM_DATABASE_URL")
        .env_remove("VELUM_DATA_DIR")
        .env_remove("VELUM_BLOB_URL")
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

/// A refusal: failure, one line on stderr naming each of `expect`.
#[track_caller]
fn refused(o: &Output, expect: &[&str]) -> String {
    assert!(!o.status.success(), "velum should have refused: {}", text(o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

/// A data directory holding the test kit's master key (mode 0600).
fn data_dir() -> tempfile::TempDir {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.path().join("master.key"))
        .unwrap();
    f.write_all(&[7; 32]).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn clock() -> Arc<FixedClock> {
    #[expect(clippy::disallowed_methods, reason = "the test clock starts at the real time")]
    let now = Timestamp::now();
    Arc::new(FixedClock::new(now))
}

fn actor(clinic_id: ClinicId, staff_id: velum_app::StaffId, role: Role) -> Actor {
    Actor {
        staff_id,
        clinic_id,
        role,
        source: None,
    }
}

fn input(n: u32, family: &str) -> ClientInput {
    ClientInput {
        given_name: "Imogen".into(),
        family_name: family.into(),
        date_of_birth: "1979-11-02".into(),
        email: format!("imogen.{n}@leaving.example"),
        mobile: format!("07400 {:06}", 500_100 + n),
        line1: format!("{n} Quarry Lane"),
        line2: String::new(),
        town: "Harrogate".into(),
        postcode: "HG1 2AB".into(),
    }
}

/// The clinic that leaves (an owner and a practitioner; two clients with
/// edits, medical summaries and a photo each; a support request) and one
/// that stays (a client and a photo).
struct Seeded {
    alpha: ClinicId,
    alpha_owner_email: String,
    beta: ClinicId,
    beta_owner: Actor,
    beta_client: ClientId,
    operator: Actor,
}

async fn seed(app: &App, clock: &FixedClock) -> Seeded {
    let alpha = app.fixture_clinic("Alpha Leaving").await.unwrap();
    let alpha_owner_email = "owner@alpha-leaving.example".to_owned();
    let (owner_id, _) = app
        .fixture_staff(alpha, &alpha_owner_email, "Olive Owner", Role::Owner, PASSWORD)
        .await
        .unwrap();
    let (prac_id, _) = app
        .fixture_staff(
            alpha,
            "prac@alpha-leaving.example",
            "Pat Practitioner",
            Role::Practitioner,
            PASSWORD,
        )
        .await
        .unwrap();
    let owner = actor(alpha, owner_id, Role::Owner);
    let prac = actor(alpha, prac_id, Role::Practitioner);
    for (n, family) in ["Quillfeather", "Ravensworth"].iter().enumerate() {
        let id = app
            .create_client(&owner, &input(u32::try_from(n).unwrap(), family), false)
            .await
            .unwrap()
            .header
            .id;
        clock.advance(SignedDuration::from_secs(60));
        app.update_client(
            &owner,
            id,
            ClientPatch {
                postcode: Some("LS1 4AP".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for allergy in ["Lidocaine", "Latex"] {
            let medical = MedicalInput {
                allergies: vec![allergy.into()],
                notes: "Bruises easily".into(),
                ..Default::default()
            };
            app.put_medical(&prac, id, &medical).await.unwrap();
        }
        app.fixture_blob(alpha, id, format!("photo of {family}").as_bytes())
            .await
            .unwrap();
    }
    let beta = app.fixture_clinic("Beta Staying").await.unwrap();
    let (beta_owner_id, _) = app
        .fixture_staff(beta, "owner@beta-staying.example", "Bea Owner", Role::Owner, PASSWORD)
        .await
        .unwrap();
    let beta_owner = actor(beta, beta_owner_id, Role::Owner);
    let beta_client = app
        .create_client(&beta_owner, &input(9, "Tarrant"), false)
        .await
        .unwrap()
        .header
        .id;
    app.fixture_blob(beta, beta_client, b"photo that stays").await.unwrap();
    let (op_id, _) = app
        .fixture_operator("ops@platform.example", "Sam Support", PASSWORD)
        .await
        .unwrap();
    let operator = actor(platform_id(), op_id, Role::Operator);
    app.request_support(&operator, alpha, "Checking a failed import for the owner", "30")
        .await
        .unwrap();
    Seeded {
        alpha,
        alpha_owner_email,
        beta,
        beta_owner,
        beta_client,
        operator,
    }
}

fn blob_store(dir: &Path) -> BlobStore {
    BlobStore::open(s(&dir.join("blobs"))).unwrap()
}

fn sqlite(dir: &Path) -> DataLocation {
    DataLocation::SqliteFile(dir.join("velum.db"))
}

/// Every table with a `clinic_id` column, and its rows for `clinic`.
async fn rows_left(app: &App, clinic: ClinicId) -> Vec<(String, i64)> {
    app.remaining_rows(clinic).await.unwrap()
}

/// The archive key printed by `velum clinic offboard`: the line after the
/// warning that introduces it.
fn printed_key(out: &str) -> String {
    let mut lines = out.lines().skip_while(|l| !l.starts_with("ARCHIVE KEY"));
    lines.next().expect("the key's warning line");
    lines.find(|l| !l.trim().is_empty()).expect("the key").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offboarded_clinic_leaves_with_a_readable_archive_and_nothing_of_it_remains() {
    let dir = data_dir();
    let d = s(dir.path()).to_owned();
    let clock = clock();
    let app = open_app_with_blobs(&sqlite(dir.path()), clock.clone(), None, Some(blob_store(dir.path()))).await;
    let seeded = seed(&app, &clock).await;
    let alpha = seeded.alpha.to_string();
    let beta_rows_before = rows_left(&app, seeded.beta).await;
    app.close().await;

    // Only a suspended clinic is offboarded: first refused, changing nothing.
    let archive = dir.path().join("alpha.velum-archive");
    let offboard = [
        "clinic",
        "offboard",
        "--data-dir",
        &d,
        "--clinic",
        &alpha,
        "--export",
        s(&archive),
    ];
    refused(&velum(&offboard), &["--clinic:", "active, not suspended"]);
    assert!(!archive.exists());
    ok(&velum(&["clinic", "suspend", "--data-dir", &d, "--clinic", &alpha]));

    let out = ok(&velum(&offboard));
    assert!(out.contains("shown this once and stored nowhere"), "{out}");
    let key = printed_key(&out);
    assert_eq!(key.len(), 71, "{key}");
    let cert_path = dir.path().join("alpha.velum-archive.certificate.json");
    assert!(out.contains(s(&cert_path)), "{out}");
    let no_partials = std::fs::read_dir(dir.path())
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".partial"));
    assert!(no_partials, "temporary files are cleaned up");

    // The clinic reads its archive with the open-source binary and the key.
    let opened = ok(&velum(&["export", "open", "--file", s(&archive), "--key", &key]));
    let doc: Value = serde_json::from_str(&opened).unwrap();
    assert_eq!(doc["clinic"]["name"], "Alpha Leaving");
    let clients = doc["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    let quill = clients.iter().find(|c| c["family_name"] == "Quillfeather").unwrap();
    assert_eq!(quill["email"], "imogen.0@leaving.example");
    assert_eq!(quill["address"]["postcode"], "LS1 4AP");
    assert_eq!(
        quill["medical"]["summary"]["allergies"][0], "Latex",
        "the current summary, opened"
    );
    let history = quill["history"].as_array().unwrap();
    let previous: Vec<&Value> = history.iter().map(|h| &h["previous"]).collect();
    assert!(
        previous.iter().any(|p| p["address"]["postcode"] == "HG1 2AB"),
        "the earlier contact details, opened: {history:?}"
    );
    assert!(
        previous.iter().any(|p| p["allergies"][0] == "Lidocaine"),
        "the earlier medical summary, opened: {history:?}"
    );
    let photo = &quill["files"][0];
    assert_eq!(photo["content_base64"], base64_of(b"photo of Quillfeather"));
    assert_eq!(doc["staff"].as_array().unwrap().len(), 2);
    assert!(
        !opened.contains("password_hash") && !opened.contains("$argon2") && !opened.contains("totp_sealed"),
        "no password hashes or two-step secrets"
    );
    assert_eq!(doc["support_grants"].as_array().unwrap().len(), 1);
    let events = doc["audit"]["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["action"], "clinic_offboarded");
    assert!(!opened.contains("Tarrant"), "nothing of the other clinic");
    // --out writes the same document to a new file.
    let doc_path = dir.path().join("alpha.json");
    ok(&velum(&[
        "export",
        "open",
        "--file",
        s(&archive),
        "--key",
        &key,
        "--out",
        s(&doc_path),
    ]));
    assert_eq!(std::fs::read_to_string(&doc_path).unwrap().trim(), opened.trim());

    // A wrong or malformed key fails clearly, on one line.
    let mut wrong = key.clone();
    wrong.replace_range(0..1, if key.starts_with('0') { "1" } else { "0" });
    refused(
        &velum(&["export", "open", "--file", s(&archive), "--key", &wrong]),
        &["--key: this key does not open the archive"],
    );
    refused(
        &velum(&["export", "open", "--file", s(&archive), "--key", "not-a-key"]),
        &["--key:", "64 hexadecimal digits"],
    );
    refused(
        &velum(&["export", "open", "--file", s(&cert_path), "--key", &key]),
        &["--file:", "not a Velum clinic archive"],
    );

    // Nothing of the clinic remains but its tombstone and certificate.
    let app = open_app_with_blobs(&sqlite(dir.path()), clock.clone(), None, Some(blob_store(dir.path()))).await;
    for (table, n) in rows_left(&app, seeded.alpha).await {
        let expected = i64::from(table == "clinic_offboardings");
        assert_eq!(n, expected, "{table} still holds rows of the offboarded clinic");
    }
    let listed = app.clinics().await.unwrap();
    let tomb = listed
        .iter()
        .find(|c| c.id == seeded.alpha)
        .expect("the tombstone stays");
    assert_eq!(tomb.status, "offboarded");
    assert_eq!(tomb.name, "Alpha Leaving");
    // Staff of the clinic cannot sign in (their accounts are gone).
    assert!(matches!(
        app.api_sign_in(&seeded.alpha_owner_email, PASSWORD, "000000", None)
            .await,
        Err(AppError::BadCredentials)
    ));
    // The other clinic is untouched: its rows, its card, its photo.
    assert_eq!(rows_left(&app, seeded.beta).await, beta_rows_before);
    let card = app
        .open_card(&seeded.beta_owner, seeded.beta_client, &[Section::Contact])
        .await
        .unwrap();
    assert_eq!(card.header.family_name, "Tarrant");
    let blobs = blob_store(dir.path());
    assert_eq!(blobs.list_clinic(seeded.alpha).await.unwrap(), (Vec::new(), 0));
    assert_eq!(blobs.list_clinic(seeded.beta).await.unwrap().0.len(), 1);
    assert!(!dir.path().join("blobs/clinics").join(&alpha).join("clients").exists());
    // An offboarded clinic cannot come back, be exported, or be visited.
    assert!(matches!(
        app.set_clinic_suspended(Some(&seeded.operator), seeded.alpha, false)
            .await,
        Err(AppError::Conflict(_))
    ));
    assert!(matches!(
        app.request_support(&seeded.operator, seeded.alpha, "Checking something after it left", "30")
            .await,
        Err(AppError::Conflict(_))
    ));

    // The certificate: nothing personal, and the platform's chain holds its hash.
    let cert_text = std::fs::read_to_string(&cert_path).unwrap();
    for personal in ["Quillfeather", "leaving.example", "Olive", "07400", "Lidocaine"] {
        assert!(!cert_text.contains(personal), "{personal} in the certificate");
    }
    let cert: CertificateFile = app.verify_certificate(&cert_text).await.unwrap();
    assert_eq!(cert.certificate.clinic_id, seeded.alpha);
    assert_eq!(cert.certificate.clinic_name, "Alpha Leaving");
    assert_eq!(cert.certificate.rows_deleted["clients"], 2);
    assert_eq!(cert.certificate.rows_deleted["staff"], 2);
    assert_eq!(cert.certificate.keys_destroyed.clinic_key_rows, 1);
    assert_eq!(cert.certificate.keys_destroyed.client_key_rows, 2);
    assert_eq!(
        serde_json::to_value(&cert.certificate.blobs).unwrap(),
        serde_json::json!({"deleted": 2})
    );
    let archive_bytes = std::fs::read(&archive).unwrap();
    assert_eq!(cert.certificate.archive.bytes, archive_bytes.len() as u64);
    assert_eq!(
        cert.certificate.clinic_chain_head.seq,
        events.last().unwrap()["seq"].as_i64().unwrap()
    );
    assert_eq!(
        cert.certificate.clinic_chain_head.hash,
        events.last().unwrap()["hash"].as_str().unwrap()
    );
    // An altered certificate is refused.
    let altered = cert_text.replace("\"clients\": 2", "\"clients\": 3");
    assert!(matches!(
        app.verify_certificate(&altered).await,
        Err(AppError::Validation(_))
    ));
    app.close().await;

    // F38: every chain left still verifies; the CLI agrees.
    let out = ok(&velum(&["audit", "verify", "--data-dir", &d]));
    assert!(out.contains("Audit trail intact"), "{out}");
    let out = ok(&velum(&["clinic", "list", "--data-dir", &d]));
    assert!(out.contains(&format!("{alpha}  offboarded  Alpha Leaving")), "{out}");
    let o = velum(&["clinic", "certificate", "--data-dir", &d, "--clinic", &alpha]);
    assert_eq!(ok(&o).trim(), cert_text.trim());
    assert!(text(&o).contains("No row of the clinic remains"), "{}", text(&o));
    refused(
        &velum(&["clinic", "resume", "--data-dir", &d, "--clinic", &alpha]),
        &["offboarded"],
    );
    let again = dir.path().join("again.velum-archive");
    refused(
        &velum(&[
            "clinic",
            "offboard",
            "--data-dir",
            &d,
            "--clinic",
            &alpha,
            "--export",
            s(&again),
        ]),
        &["--clinic:", "offboarded already"],
    );
    refused(
        &velum(&["export", "--data-dir", &d, "--clinic", &alpha, "--out", s(&again)]),
        &["--clinic:", "offboarded"],
    );
    assert!(!again.exists());
}

fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What must not change when an offboarding is refused: every clinic row
/// count, both clinics' statuses, and the blobs.
async fn state_of(app: &App, blobs: &BlobStore, clinics: &[ClinicId]) -> Vec<String> {
    let mut out = Vec::new();
    for c in clinics {
        for (t, n) in rows_left(app, *c).await {
            out.push(format!("{c} {t} {n}"));
        }
        out.push(format!("{c} blobs {}", blobs.list_clinic(*c).await.unwrap().0.len()));
    }
    for c in app.clinics().await.unwrap() {
        out.push(format!("{} {}", c.id, c.status));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_offboardings_change_nothing_and_name_the_problem() {
    let dir = data_dir();
    let clock = clock();
    let blobs = blob_store(dir.path());
    let app = open_app_with_blobs(&sqlite(dir.path()), clock.clone(), None, Some(blobs.clone())).await;
    let seeded = seed(&app, &clock).await;
    let both = [seeded.alpha, seeded.beta];
    let request = |clinic, confirm_name| OffboardRequest {
        clinic,
        confirm_name,
        keep_for_download: false,
    };
    let never_saved = |_: &[u8]| -> std::io::Result<()> { panic!("nothing is written when refused") };
    let op = Some(&seeded.operator);

    // Not suspended.
    let before = state_of(&app, &blobs, &both).await;
    let err = app
        .offboard_clinic(op, request(seeded.alpha, None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::NotSuspended { .. }), "{err}");
    assert!(err.to_string().contains("suspend it first"), "{err}");
    assert_eq!(state_of(&app, &blobs, &both).await, before);

    app.set_clinic_suspended(op, seeded.alpha, true).await.unwrap();
    let before = state_of(&app, &blobs, &both).await;

    // Unknown clinic, the platform's own row.
    let err = app
        .offboard_clinic(op, request(ClinicId::new(), None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::UnknownClinic(_)), "{err}");
    let err = app
        .offboard_clinic(op, request(platform_id(), None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::PlatformRow), "{err}");
    // The typed name does not match.
    let err = app
        .offboard_clinic(op, request(seeded.alpha, Some("Alpha Leavin")), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::NameMismatch), "{err}");
    assert!(err.to_string().contains("does not match"), "{err}");
    // The archive cannot be written: nothing is deleted.
    let err = app
        .offboard_clinic(op, request(seeded.alpha, Some("Alpha Leaving")), |_| {
            Err::<(), _>(std::io::Error::other("disk full"))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::Save(_)), "{err}");
    assert!(err.to_string().contains("nothing was deleted"), "{err}");
    assert_eq!(state_of(&app, &blobs, &both).await, before);

    // Not an operator: refused, and (F38) the refusal is in the actor's chain.
    let trail_before = rows_left(&app, seeded.beta).await;
    let err = app
        .offboard_clinic(Some(&seeded.beta_owner), request(seeded.alpha, None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::NotAnOperator), "{err}");
    let trail_after = rows_left(&app, seeded.beta).await;
    let events = |rows: &[(String, i64)]| rows.iter().find(|(t, _)| t == "audit_events").unwrap().1;
    assert_eq!(
        events(&trail_after),
        events(&trail_before) + 1,
        "the denial is recorded"
    );
    let no_audit = |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|l| !l.contains(" audit_")).collect() };
    assert_eq!(no_audit(state_of(&app, &blobs, &both).await), no_audit(before.clone()));

    // Done once (the sealed archive left to download); a second time is refused.
    let for_download = OffboardRequest {
        keep_for_download: true,
        ..request(seeded.alpha, Some("  Alpha Leaving "))
    };
    let done = app.offboard_clinic(op, for_download, |b| Ok(b.to_vec())).await.unwrap();
    let (_, doc) = open_archive(&done.saved, secrecy::ExposeSecret::expose_secret(&done.archive_key)).unwrap();
    assert!(String::from_utf8(doc).unwrap().contains("Ravensworth"));
    // The waiting copy goes once its time is up: reads refuse it, the sweep deletes it.
    let operator = &seeded.operator;
    assert!(app.offboarding_archive(operator, seeded.alpha).await.is_ok());
    assert_eq!(app.drop_expired_archives().await.unwrap(), 0);
    clock.advance(SignedDuration::from_hours(25));
    assert!(matches!(
        app.offboarding_archive(operator, seeded.alpha).await,
        Err(velum_app::AppError::NotFound)
    ));
    assert_eq!(app.drop_expired_archives().await.unwrap(), 1);
    let err = app
        .offboard_clinic(op, request(seeded.alpha, None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::AlreadyOffboarded(_)), "{err}");
    assert!(app.verify_audit().await.unwrap().first_break.is_none());
    app.close().await;
}

fn redirect(r: &reqwest::Response) -> &str {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_offboards_a_suspended_clinic_from_the_platform_page() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha Web Leaving").await;
    let ids = t.clients(alpha.owner(), 3, 21).await;
    t.app.fixture_blob(alpha.id, ids[0], b"a photo").await.unwrap();
    let beta = t.clinic("Beta Web Staying").await;
    t.clients(beta.owner(), 2, 22).await;
    let family = {
        let api = t.login(alpha.owner()).await;
        let card: Value = api
            .get(&format!("/api/v1/clients/{}", ids[1]))
            .await
            .json()
            .await
            .unwrap();
        card["family_name"].as_str().unwrap().to_owned()
    };
    let op = t.operator().await;
    let web = t.web_login(&op).await;
    let page = format!("/platform/clinics/{}/offboard", alpha.id);
    let name = "Alpha Web Leaving";

    // An active clinic: the page says to suspend it first, and a submit is refused.
    let html = web.get(&page).await.text().await.unwrap();
    assert!(html.contains("suspend it first"), "{html}");
    let r = web.submit(&page, &page, &[("confirm_name", name)]).await;
    assert_eq!(r.status(), 409);
    let status = |t: &TestApp| {
        let app = t.app.clone();
        let id = alpha.id;
        async move {
            app.clinics()
                .await
                .unwrap()
                .into_iter()
                .find(|c| c.id == id)
                .unwrap()
                .status
        }
    };
    assert_eq!(status(&t).await, "active");

    let r = web
        .submit(
            "/platform",
            &format!("/platform/clinics/{}/status", alpha.id),
            &[("suspended", "true")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = web.get("/platform").await.text().await.unwrap();
    assert!(html.contains(&page), "an Offboard link for the suspended clinic");

    // The wrong name: the field is named, nothing changes.
    let r = web.submit(&page, &page, &[("confirm_name", "Alpha")]).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("does not match"), "{html}");
    assert!(html.contains("Clinic name, to confirm"), "{html}");
    assert_eq!(status(&t).await, "suspended");
    assert_eq!(
        t.app
            .remaining_rows(alpha.id)
            .await
            .unwrap()
            .iter()
            .filter(|(t, _)| t == "clients")
            .map(|(_, n)| *n)
            .sum::<i64>(),
        3
    );

    // The right name: the key once, the archive to download, the certificate.
    let r = web.submit(&page, &page, &[("confirm_name", name)]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let key = html
        .split("<code id=\"archive-key\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the key on the page")
        .to_owned();
    assert_eq!(key.len(), 71);
    assert_eq!(status(&t).await, "offboarded");
    let r = web.get(&format!("/platform/clinics/{}/archive", alpha.id)).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("clinic-{}.velum-archive", alpha.id))
    );
    let bytes = r.bytes().await.unwrap();
    let (_, doc) = open_archive(&bytes, &key).unwrap();
    let doc = String::from_utf8(doc).unwrap();
    assert!(doc.contains(&family), "the archive holds the clinic's clients");
    assert!(doc.contains(&base64_of(b"a photo")), "and their files");

    let cert_page = format!("/platform/clinics/{}/certificate", alpha.id);
    let html = web.get(&cert_page).await.text().await.unwrap();
    assert!(html.contains("Checked against the platform"), "{html}");
    assert!(
        html.contains("clinic_offboardings") || html.contains("rows_deleted"),
        "{html}"
    );
    assert!(!html.contains(&family));
    let html = web.get("/platform").await.text().await.unwrap();
    assert!(html.contains("Offboarded") && html.contains(&cert_page), "{html}");

    // Once the operator has it, the server copy goes.
    let r = web
        .submit(
            &cert_page,
            &format!("/platform/clinics/{}/archive/delete", alpha.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(redirect(&r), cert_page);
    assert_eq!(
        web.get(&format!("/platform/clinics/{}/archive", alpha.id))
            .await
            .status(),
        404
    );

    // The clinic's staff cannot sign in; the other clinic works; chains verify.
    let owner = alpha.owner();
    let code = t.fresh_code(owner);
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": owner.email, "password": owner.password, "totp": code}),
        )
        .await;
    assert_eq!(r.status(), 401);
    let api = t.login(beta.owner()).await;
    assert_eq!(api.get("/api/v1/clients").await.status(), 200);
    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
    // Clinic staff never reach these pages.
    let owner_web = t.web_login(beta.owner()).await;
    assert_eq!(owner_web.get(&cert_page).await.status(), 403);
    assert_eq!(
        owner_web
            .get(&format!("/platform/clinics/{}/archive", alpha.id))
            .await
            .status(),
        403
    );
}
