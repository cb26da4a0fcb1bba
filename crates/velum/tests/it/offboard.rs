//! Offboarding a clinic in hosted mode, with two parties: the owner asks to
//! leave (choosing a passphrase) and one operator completes it, the archive
//! sealed to the owner's passphrase so that no operator ever holds a key or
//! a readable copy; or, without the owner, two different operators approve
//! and no archive is made. The owner is emailed at each step. Then the
//! clinic's keys, rows and blobs are destroyed, its tombstone stays, and a
//! certificate is recorded in the platform's audit chain. Refusals change
//! nothing.
//!
//! DOMAIN F38: every refusal of authorisation is audited, and the hash
//! chains still verify after the clinic's own chain is deleted. F35 (the
//! retention job crypto-shreds by destroying keys) is the model offboarding
//! follows for a whole clinic: destroying `clinic_keys` and `client_keys`
//! leaves any copy of the data in backups unreadable.

use std::path::Path;
use std::process::Output;

use jiff::SignedDuration;
use serde_json::Value;
use velum_app::clients::ClientPatch;
use velum_app::offboard::{
    ArchiveError, ArchiveSecret, CertificateFile, LeaveInput, OffboardError, OffboardRequest, Offboarding, open_archive,
};
use velum_app::platform::platform_id;
use velum_app::{Actor, App, AppError, BlobStore, ClientId, ClinicId, Clock, FixedClock, Role, Section};
use velum_core::client::{ClientInput, MedicalInput};
use velum_testkit::cli::{self, ok, refused, s, sqlite, text};
use velum_testkit::{TEST_KEY, TestApp, clock_now, code_at, open_app_with_blobs, seed_staff, staff_actor};

const BIN: &str = env!("CARGO_BIN_EXE_velum");
const PASSWORD: &str = "harbour-thistle-copper-meadow";
const PASSPHRASE: &str = "lantern quarry saffron oriole";
const REASON: &str = "The clinic has moved to another provider";

fn velum(args: &[&str]) -> Output {
    cli::run(BIN, args)
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
    alpha_owner: Actor,
    alpha_owner_totp: String,
    beta: ClinicId,
    beta_owner: Actor,
    beta_client: ClientId,
    operator: Actor,
}

async fn seed(app: &App, clock: &FixedClock) -> Seeded {
    let alpha = app.fixture_clinic("Alpha Leaving").await.unwrap();
    let alpha_owner_email = "owner@alpha-leaving.example".to_owned();
    let (owner, alpha_owner_totp) =
        seed_staff(app, alpha, &alpha_owner_email, "Olive Owner", Role::Owner, PASSWORD).await;
    let (prac, _) = seed_staff(
        app,
        alpha,
        "prac@alpha-leaving.example",
        "Pat Practitioner",
        Role::Practitioner,
        PASSWORD,
    )
    .await;
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
    let (beta_owner, _) = seed_staff(
        app,
        beta,
        "owner@beta-staying.example",
        "Bea Owner",
        Role::Owner,
        PASSWORD,
    )
    .await;
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
    let operator = staff_actor(platform_id(), op_id, Role::Operator);
    app.request_support(&operator, alpha, "Checking a failed import for the owner", "30")
        .await
        .unwrap();
    Seeded {
        alpha,
        alpha_owner_email,
        alpha_owner: owner,
        alpha_owner_totp,
        beta,
        beta_owner,
        beta_client,
        operator,
    }
}

fn blob_store(dir: &Path) -> BlobStore {
    BlobStore::open(s(&dir.join("blobs"))).unwrap()
}

/// Every table with a `clinic_id` column, and its rows for `clinic`.
async fn rows_left(app: &App, clinic: ClinicId) -> Vec<(String, i64)> {
    app.remaining_rows(clinic).await.unwrap()
}

/// The owner's request to leave, as typed on the Leaving page, with a fresh
/// code from their authenticator.
fn leave_input(seeded: &Seeded, clock: &FixedClock) -> LeaveInput {
    clock.advance(SignedDuration::from_secs(30));
    LeaveInput {
        reason: REASON.into(),
        passphrase: PASSPHRASE.into(),
        passphrase_again: PASSPHRASE.into(),
        password: PASSWORD.into(),
        totp_code: code_at(&seeded.alpha_owner_totp, clock.now()),
    }
}

/// Every `action detail` of `clinic`'s chain, as its auditor reads it.
async fn chain_of(app: &App, clinic: ClinicId) -> Vec<String> {
    let auditor = staff_actor(clinic, velum_app::StaffId::new(), Role::Auditor);
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = app.audit_trail(&auditor, cursor.as_deref()).await.unwrap();
        out.extend(
            page.items
                .iter()
                .map(|e| format!("{} {}", e.action.as_str(), e.detail.clone().unwrap_or_default())),
        );
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offboarded_clinic_leaves_with_an_archive_only_its_owner_can_open_and_nothing_of_it_remains() {
    let dir = cli::data_dir_with_key(TEST_KEY);
    let d = s(dir.path()).to_owned();
    let clock = clock_now();
    let app = open_app_with_blobs(&sqlite(dir.path()), clock.clone(), None, Some(blob_store(dir.path()))).await;
    let seeded = seed(&app, &clock).await;
    let alpha = seeded.alpha.to_string();
    let beta_rows_before = rows_left(&app, seeded.beta).await;
    app.close().await;

    // The command line (the master key's holder) does not offboard a clinic
    // whose owner has not asked: refused, changing nothing.
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
        "--reason",
        REASON,
    ];
    ok(&velum(&[
        "clinic",
        "suspend",
        "--data-dir",
        &d,
        "--clinic",
        &alpha,
        "--reason",
        REASON,
    ]));
    refused(&velum(&offboard), &["--clinic:", "has not asked to leave"]);
    assert!(!archive.exists());
    ok(&velum(&["clinic", "resume", "--data-dir", &d, "--clinic", &alpha]));

    // The owner asks to leave, choosing the archive's passphrase.
    let app = open_app_with_blobs(&sqlite(dir.path()), clock.clone(), None, Some(blob_store(dir.path()))).await;
    app.request_leaving(&seeded.alpha_owner, &leave_input(&seeded, &clock))
        .await
        .unwrap();
    app.close().await;

    // Only a suspended clinic is offboarded; suspending needs a reason.
    refused(&velum(&offboard), &["--clinic:", "active, not suspended"]);
    assert!(!archive.exists());
    refused(
        &velum(&[
            "clinic",
            "suspend",
            "--data-dir",
            &d,
            "--clinic",
            &alpha,
            "--reason",
            "late",
        ]),
        &["--reason", "10 to 500 characters"],
    );
    ok(&velum(&[
        "clinic",
        "suspend",
        "--data-dir",
        &d,
        "--clinic",
        &alpha,
        "--reason",
        REASON,
    ]));

    let out = ok(&velum(&offboard));
    assert!(
        out.contains("sealed to the passphrase the clinic's owner chose"),
        "{out}"
    );
    assert!(
        !out.contains("KEY") && !out.contains("--key"),
        "no archive key is printed: {out}"
    );
    let cert_path = dir.path().join("alpha.velum-archive.certificate.json");
    assert!(out.contains(s(&cert_path)), "{out}");
    let no_partials = std::fs::read_dir(dir.path())
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".partial"));
    assert!(no_partials, "temporary files are cleaned up");
    let phrase_file = dir.path().join("passphrase.txt");
    std::fs::write(&phrase_file, format!("{PASSPHRASE}\n")).unwrap();
    let key = "0".repeat(64);

    // The owner reads the archive with the open-source binary and the passphrase.
    let opened = ok(&velum(&[
        "export",
        "open",
        "--file",
        s(&archive),
        "--passphrase-file",
        s(&phrase_file),
    ]));
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
        "--passphrase-file",
        s(&phrase_file),
        "--out",
        s(&doc_path),
    ]));
    assert_eq!(std::fs::read_to_string(&doc_path).unwrap().trim(), opened.trim());

    // A wrong passphrase, or any key, fails clearly, on one line.
    let wrong_file = dir.path().join("wrong.txt");
    std::fs::write(&wrong_file, "lantern quarry saffron orioles\n").unwrap();
    refused(
        &velum(&[
            "export",
            "open",
            "--file",
            s(&archive),
            "--passphrase-file",
            s(&wrong_file),
        ]),
        &["--passphrase-file: this passphrase does not open the archive"],
    );
    refused(
        &velum(&["export", "open", "--file", s(&archive), "--key", &key]),
        &["--key:", "sealed to the owner's passphrase"],
    );
    refused(
        &velum(&[
            "export",
            "open",
            "--file",
            s(&cert_path),
            "--passphrase-file",
            s(&phrase_file),
        ]),
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
    assert_eq!(tomb.status, velum_core::clinic::ClinicStatus::Offboarded);
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
        app.set_clinic_suspended(Some(&seeded.operator), seeded.alpha, false, "")
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
    // The blobs were queued for deletion in the offboarding's transaction
    // and deleted by that job right after the commit (checked above).
    assert_eq!(
        serde_json::to_value(&cert.certificate.blobs).unwrap(),
        serde_json::json!({"deletion_queued": velum_app::offboard::BLOB_DELETION_QUEUED})
    );
    let jobs = app.job_counts(&seeded.operator).await.unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.kind == "offboarded_blobs" && j.state == "done" && j.count == 1),
        "{jobs:?}"
    );
    let archive_bytes = std::fs::read(&archive).unwrap();
    let facts = cert
        .certificate
        .archive
        .as_ref()
        .expect("an archive, sealed to the owner");
    assert_eq!(facts.bytes, archive_bytes.len() as u64);
    assert!(facts.sealed_with.contains("passphrase the owner chose"), "{facts:?}");
    assert_eq!(cert.certificate.parties.len(), 2);
    assert!(
        cert.certificate.parties[0].starts_with("owner "),
        "{:?}",
        cert.certificate.parties
    );
    // Item 22: the certificate says which copies remain readable, and the
    // live SQLite file keeps no deleted row in free pages.
    let copies = cert.certificate.copies_remaining.as_deref().unwrap();
    assert!(
        copies.contains("backups taken before") && copies.contains("VACUUM"),
        "{copies}"
    );
    assert_eq!(app.sqlite_deletion_state().await.unwrap(), Some((1, 0)));
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
            "--reason",
            REASON,
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
    let dir = cli::data_dir_with_key(TEST_KEY);
    let clock = clock_now();
    let blobs = blob_store(dir.path());
    let app = open_app_with_blobs(&sqlite(dir.path()), clock.clone(), None, Some(blobs.clone())).await;
    let seeded = seed(&app, &clock).await;
    let both = [seeded.alpha, seeded.beta];
    let request = |clinic, confirm_name| OffboardRequest {
        clinic,
        confirm_name,
        reason: REASON,
        keep_for_download: false,
    };
    let never_saved = |_: &[u8]| -> std::io::Result<()> { panic!("nothing is written when refused") };
    let op = Some(&seeded.operator);
    let no_audit = |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|l| !l.contains(" audit_")).collect() };

    // Not suspended.
    let before = state_of(&app, &blobs, &both).await;
    let err = app
        .offboard_clinic(op, request(seeded.alpha, None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::NotSuspended { .. }), "{err}");
    assert!(err.to_string().contains("suspend it first"), "{err}");
    assert_eq!(state_of(&app, &blobs, &both).await, before);

    // Suspending needs a reason.
    assert!(matches!(
        app.set_clinic_suspended(op, seeded.alpha, true, "unpaid").await,
        Err(AppError::Validation(_))
    ));
    app.set_clinic_suspended(op, seeded.alpha, true, "Invoices unpaid since March")
        .await
        .unwrap();
    let before = state_of(&app, &blobs, &both).await;

    // Unknown clinic, the platform's own row, no reason.
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
    let no_reason = OffboardRequest {
        reason: " ",
        ..request(seeded.alpha, None)
    };
    let err = app.offboard_clinic(op, no_reason, never_saved).await.unwrap_err();
    assert!(matches!(err, OffboardError::App(AppError::Validation(_))), "{err}");
    // The typed name does not match.
    let err = app
        .offboard_clinic(op, request(seeded.alpha, Some("Alpha Leavin")), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::NameMismatch), "{err}");
    assert!(err.to_string().contains("does not match"), "{err}");
    // The command line, without the owner's request.
    let err = app
        .offboard_clinic(None, request(seeded.alpha, None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::OwnerHasNotAsked(_)), "{err}");
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
    assert_eq!(no_audit(state_of(&app, &blobs, &both).await), no_audit(before.clone()));

    // Asking to leave: only the owner, with the right password and a fresh
    // code, and a strong passphrase typed twice (each refusal names its field).
    let mut input = leave_input(&seeded, &clock);
    let refused_on = |e: AppError| match e {
        AppError::Validation(f) => f.as_slice().iter().map(|x| x.field.clone()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let weak = LeaveInput {
        passphrase: "password1".into(),
        passphrase_again: "password2".into(),
        ..input.clone()
    };
    assert_eq!(
        refused_on(app.request_leaving(&seeded.alpha_owner, &weak).await.unwrap_err()),
        ["passphrase", "passphrase_again"]
    );
    let wrong_password = LeaveInput {
        password: "not-the-password-at-all".into(),
        ..input.clone()
    };
    assert_eq!(
        refused_on(
            app.request_leaving(&seeded.alpha_owner, &wrong_password)
                .await
                .unwrap_err()
        ),
        ["password"]
    );
    let as_password = LeaveInput {
        passphrase: PASSWORD.into(),
        passphrase_again: PASSWORD.into(),
        ..input.clone()
    };
    assert_eq!(
        refused_on(
            app.request_leaving(&seeded.alpha_owner, &as_password)
                .await
                .unwrap_err()
        ),
        ["passphrase"]
    );
    input = leave_input(&seeded, &clock);
    let not_owner = staff_actor(seeded.alpha, seeded.operator.account().unwrap().staff_id, Role::Manager);
    assert!(matches!(
        app.request_leaving(&not_owner, &input).await,
        Err(AppError::Forbidden)
    ));
    app.request_leaving(&seeded.alpha_owner, &input).await.unwrap();
    let alpha_chain = chain_of(&app, seeded.alpha).await;
    assert!(
        alpha_chain
            .iter()
            .any(|e| e.starts_with("denied request_leaving password_wrong")),
        "{alpha_chain:?}"
    );
    assert!(
        alpha_chain.iter().any(|e| e.starts_with("offboarding_requested ")),
        "{alpha_chain:?}"
    );
    let before = state_of(&app, &blobs, &both).await;

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

    // Done once (the sealed archive left to download); a second time is refused.
    let for_download = OffboardRequest {
        keep_for_download: true,
        ..request(seeded.alpha, Some("  Alpha Leaving "))
    };
    let Offboarding::Done(done) = app.offboard_clinic(op, for_download, |b| Ok(b.to_vec())).await.unwrap() else {
        panic!("the owner asked: one operator completes it");
    };
    let sealed = done.archive.expect("an archive sealed to the owner");
    // What the operator can fetch is ciphertext: no key opens it, the passphrase does.
    let fetched = app.offboarding_archive(&seeded.operator, seeded.alpha).await.unwrap();
    assert_eq!(fetched, sealed.saved);
    assert!(!String::from_utf8_lossy(&fetched).contains("Ravensworth"));
    let any_key = "1".repeat(64);
    assert!(matches!(
        open_archive(&fetched, ArchiveSecret::Key(&any_key)),
        Err(ArchiveError::NeedsPassphrase)
    ));
    let (_, doc) = open_archive(&fetched, ArchiveSecret::Passphrase(PASSPHRASE)).unwrap();
    assert!(String::from_utf8(doc).unwrap().contains("Ravensworth"));
    // It waits in the blob store: one object, the sealed file byte for
    // byte, and what the download returns.
    let kept_dir = dir
        .path()
        .join("blobs/offboarding-archives")
        .join(seeded.alpha.to_string());
    let kept = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&kept_dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    assert_eq!(kept().len(), 1, "{:?}", kept());
    assert_eq!(std::fs::read(&kept()[0]).unwrap(), sealed.saved);
    // The waiting copy goes once its time is up: reads refuse it, the sweep deletes it.
    let operator = &seeded.operator;
    assert_eq!(app.drop_expired_archives().await.unwrap(), 0);
    clock.advance(SignedDuration::from_hours(25));
    assert!(matches!(
        app.offboarding_archive(operator, seeded.alpha).await,
        Err(velum_app::AppError::NotFound)
    ));
    assert_eq!(app.drop_expired_archives().await.unwrap(), 1);
    assert!(
        kept().is_empty(),
        "the expired archive's object is deleted: {:?}",
        kept()
    );
    let err = app
        .offboard_clinic(op, request(seeded.alpha, None), never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::AlreadyOffboarded(_)), "{err}");
    assert!(app.verify_audit().await.unwrap().first_break.is_none());
    app.close().await;
}

/// Without the owner: one operator alone cannot offboard, the same operator
/// approving twice is refused (and audited), two different operators can,
/// and then no archive is made for anyone. The owner is emailed the reason
/// at each step (suspension, approval, offboarding). Every step is in the
/// platform's chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_owner_two_different_operators_must_approve_and_no_archive_is_made() {
    let t = TestApp::spawn().await;
    let gamma = t.clinic("Gamma Vanished").await;
    let ids = t.clients(gamma.owner(), 2, 31).await;
    let op1 = t.operator().await;
    let op2 = t.operator().await;
    let owner_mail = |t: &TestApp| {
        let to = gamma.owner().email.clone();
        let messages = t.smtp.messages();
        messages
            .into_iter()
            .filter(|m| m.contains(&to))
            .collect::<Vec<String>>()
    };
    t.app
        .set_clinic_suspended(Some(&op1.actor()), gamma.id, true, "Invoices unpaid since March")
        .await
        .unwrap();
    t.deliver_mail().await;
    let mail = owner_mail(&t);
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(
        mail[0].contains("suspended") && mail[0].contains("Invoices unpaid since March"),
        "{}",
        mail[0]
    );

    let request = OffboardRequest {
        clinic: gamma.id,
        confirm_name: Some("Gamma Vanished"),
        reason: "No reply from the owner for six months",
        keep_for_download: true,
    };
    let never_saved = |_: &[u8]| -> std::io::Result<()> { panic!("no archive without the owner") };
    // The first operator's approval: recorded, the owner told, nothing deleted.
    let first = t
        .app
        .offboard_clinic(Some(&op1.actor()), request, never_saved)
        .await
        .unwrap();
    assert!(matches!(first, Offboarding::Approved));
    let clients = |t: &TestApp| {
        let app = t.app.clone();
        async move {
            app.remaining_rows(gamma.id)
                .await
                .unwrap()
                .into_iter()
                .find(|(t, _)| t == "clients")
                .unwrap()
                .1
        }
    };
    assert_eq!(clients(&t).await, 2);
    t.deliver_mail().await;
    let mail = owner_mail(&t);
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert!(
        mail[1].contains("approved offboarding") && mail[1].contains("No reply from the owner"),
        "{}",
        mail[1]
    );
    // The same operator again: refused, audited, nothing deleted.
    let err = t
        .app
        .offboard_clinic(Some(&op1.actor()), request, never_saved)
        .await
        .unwrap_err();
    assert!(matches!(err, OffboardError::SameOperator), "{err}");
    assert_eq!(clients(&t).await, 2);
    let platform = chain_of(&t.app, platform_id()).await;
    assert!(
        platform
            .iter()
            .any(|e| e.starts_with("denied offboard same_operator_twice") && e.contains(&gamma.id.to_string())),
        "{platform:?}"
    );
    assert!(
        platform.iter().any(|e| e.starts_with("offboarding_approved ")),
        "{platform:?}"
    );
    // A second, different operator: done, and no archive, for anyone.
    let Offboarding::Done(done) = t
        .app
        .offboard_clinic(Some(&op2.actor()), request, never_saved)
        .await
        .unwrap()
    else {
        panic!("two different operators offboard it");
    };
    assert!(done.archive.is_none());
    assert_eq!(clients(&t).await, 0);
    let cert = t.app.verify_certificate(&done.certificate).await.unwrap();
    assert!(cert.certificate.archive.is_none());
    assert!(cert.certificate.parties.iter().any(|p| p.contains(&op1.id.to_string())));
    assert!(cert.certificate.parties.iter().any(|p| p.contains(&op2.id.to_string())));
    for op in [&op1, &op2] {
        assert!(matches!(
            t.app.offboarding_archive(&op.actor(), gamma.id).await,
            Err(AppError::NotFound)
        ));
    }
    assert!(!done.certificate.contains(&ids[0].to_string()));
    t.deliver_mail().await;
    let mail = owner_mail(&t);
    assert_eq!(mail.len(), 3, "{mail:?}");
    assert!(
        mail[2].contains("has been offboarded") && mail[2].contains("no archive was made"),
        "{}",
        mail[2]
    );
    let platform = chain_of(&t.app, platform_id()).await;
    assert!(
        platform.iter().any(|e| e.starts_with("clinic_offboarded ")),
        "{platform:?}"
    );
    // Item 22: SQLite deletes securely and the file has no free pages left.
    if let Some(state) = t.app.sqlite_deletion_state().await.unwrap() {
        assert_eq!(state, (1, 0), "secure_delete on, no free pages after the VACUUM");
    }
    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
}

fn redirect(r: &reqwest::Response) -> &str {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_asks_to_leave_and_an_operator_offboards_from_the_platform_page() {
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
    let owner = alpha.owner();
    let owner_mail = |t: &TestApp| {
        t.smtp
            .messages()
            .into_iter()
            .filter(|m| m.contains(&owner.email))
            .collect::<Vec<String>>()
    };

    // The owner asks on the Leaving page (linked from Support access):
    // a wrong code names the field and changes nothing; then it is recorded.
    let owner_web = t.web_login(owner).await;
    assert!(
        owner_web
            .get("/support")
            .await
            .text()
            .await
            .unwrap()
            .contains("href=\"/leaving\"")
    );
    let form = |code: String| {
        vec![
            ("reason", REASON.to_owned()),
            ("passphrase", PASSPHRASE.to_owned()),
            ("passphrase_again", PASSPHRASE.to_owned()),
            ("password", owner.password.clone()),
            ("totp_code", code),
        ]
    };
    let wrong = form("000000".into());
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner_web.submit("/leaving", "/leaving", &wrong).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("is not right"));
    assert!(
        owner_web
            .get("/leaving")
            .await
            .text()
            .await
            .unwrap()
            .contains("Ask to leave"),
        "nothing recorded"
    );
    let good = form(t.fresh_code(owner));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner_web.submit("/leaving", "/leaving", &good).await;
    assert_eq!(r.status(), 303);
    let html = owner_web.get("/leaving").await.text().await.unwrap();
    assert!(html.contains("You asked to leave"), "{html}");
    assert!(!html.contains(PASSPHRASE));

    let op = t.operator().await;
    let web = t.web_login(&op).await;
    let page = format!("/platform/clinics/{}/offboard", alpha.id);
    let name = "Alpha Web Leaving";

    // An active clinic: the page says to suspend it first, and a submit is refused.
    let html = web.get(&page).await.text().await.unwrap();
    assert!(html.contains("suspend it first"), "{html}");
    assert!(html.contains("The owner asked to leave"), "{html}");
    let r = web
        .submit(&page, &page, &[("confirm_name", name), ("reason", REASON)])
        .await;
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
    assert_eq!(status(&t).await, velum_core::clinic::ClinicStatus::Active);

    let r = web
        .submit(
            "/platform",
            &format!("/platform/clinics/{}/status", alpha.id),
            &[("suspended", "true"), ("reason", "The owner asked to leave")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = web.get("/platform").await.text().await.unwrap();
    assert!(html.contains(&page), "an Offboard link for the suspended clinic");
    let flag = r#"<strong class="flag">Owner asked to leave</strong>"#;
    assert_eq!(
        html.matches(flag).count(),
        1,
        "the clinic whose owner asked to leave is flagged, the other is not: {html}"
    );

    // The wrong name: the field is named, nothing changes.
    let r = web
        .submit(&page, &page, &[("confirm_name", "Alpha"), ("reason", REASON)])
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("does not match"), "{html}");
    assert!(html.contains("Clinic name, to confirm"), "{html}");
    assert_eq!(status(&t).await, velum_core::clinic::ClinicStatus::Suspended);
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

    // The right name: one operator completes what the owner asked. No key
    // is shown; the archive to download is sealed to the owner's passphrase.
    let r = web
        .submit(&page, &page, &[("confirm_name", name), ("reason", REASON)])
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(!html.contains("archive-key") && !html.contains("--key"), "{html}");
    assert!(html.contains("sealed to the passphrase its owner chose"), "{html}");
    assert_eq!(status(&t).await, velum_core::clinic::ClinicStatus::Offboarded);
    // Afterwards the page shows the offboarded state only, and the list no
    // longer flags the clinic.
    let html = web.get(&page).await.text().await.unwrap();
    assert!(html.contains("This clinic has been offboarded already"), "{html}");
    assert!(!html.contains("has not asked to leave"), "{html}");
    assert!(!html.contains("No operator has approved"), "{html}");
    let list = web.get("/platform").await.text().await.unwrap();
    assert!(!list.contains(flag), "{list}");
    let r = web.get(&format!("/platform/clinics/{}/archive", alpha.id)).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("clinic-{}.velum-archive", alpha.id))
    );
    let bytes = r.bytes().await.unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(&family), "ciphertext only");
    // Streamed from the one blob-store object that holds it.
    let kept_dir = t
        .data_dir
        .path()
        .join("blobs/offboarding-archives")
        .join(alpha.id.to_string());
    let kept = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&kept_dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    assert_eq!(kept().len(), 1, "{:?}", kept());
    assert_eq!(std::fs::read(&kept()[0]).unwrap(), bytes.to_vec());
    assert!(matches!(
        open_archive(&bytes, ArchiveSecret::Key(&"0".repeat(64))),
        Err(ArchiveError::NeedsPassphrase)
    ));
    let (_, doc) = open_archive(&bytes, ArchiveSecret::Passphrase(PASSPHRASE)).unwrap();
    let doc = String::from_utf8(doc).unwrap();
    assert!(doc.contains(&family), "the archive holds the clinic's clients");
    assert!(doc.contains(&base64_of(b"a photo")), "and their files");

    // The owner was emailed at each step: the request, the suspension, the offboarding.
    t.deliver_mail().await;
    let mail = owner_mail(&t);
    assert_eq!(mail.len(), 3, "{mail:?}");
    assert!(mail[0].contains("asked to leave"), "{}", mail[0]);
    assert!(
        mail[1].contains("suspended") && mail[1].contains("The owner asked to leave"),
        "{}",
        mail[1]
    );
    assert!(
        mail[2].contains("has been offboarded") && mail[2].contains("passphrase"),
        "{}",
        mail[2]
    );
    for m in &mail {
        assert!(!m.contains(PASSPHRASE), "the passphrase is never sent");
    }

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
    assert!(kept().is_empty(), "the object is deleted: {:?}", kept());

    // The clinic's staff cannot sign in; the other clinic works; chains verify.
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

/// The Leaving page (F37): the reason's length and the passphrase's
/// minimum are shown before anything is typed; an empty or badly typed
/// form reports every field's problem at once, each under the name its
/// field carries on the page; and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaving_page_reports_every_field_error_at_once_under_its_label() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha Leaving Form").await;
    let web = t.web_login(alpha.owner()).await;
    let html = web.get("/leaving").await.text().await.unwrap();
    assert!(html.contains("in 10 to 500 characters"), "{html}");
    assert!(html.contains("At least 12 characters"), "{html}");
    let r = web
        .submit(
            "/leaving",
            "/leaving",
            &[
                ("reason", "short"),
                ("passphrase", "tiny"),
                ("passphrase_again", "other"),
                ("password", ""),
                ("totp_code", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    for (field, label) in [
        ("reason", "Reason"),
        ("passphrase", "Archive passphrase"),
        ("passphrase_again", "The passphrase again"),
        ("password", "Password"),
        ("totp_code", "Two-step code"),
    ] {
        assert!(
            html.contains(&format!(r##"<a href="#{field}">{label} "##)),
            "{field} in the summary as {label}: {html}"
        );
        assert!(
            html.contains(&format!(r#"<label for="{field}">{label}</label>"#)),
            "{field} labelled {label}: {html}"
        );
    }
    let html = web.get("/leaving").await.text().await.unwrap();
    assert!(html.contains("Ask to leave"), "nothing recorded");
}

/// F37: wrong passwords on the Leaving page go through the sign-in
/// throttle like a password change: once this source is locked out of the
/// account the page answers 429, even with the right password and code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_on_the_leaving_page_are_throttled_like_sign_ins() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha Leaving Throttle").await;
    let owner = alpha.owner();
    let web = t.web_login(owner).await;
    for i in 0..10 {
        let password = format!("wrong-password-{i}");
        let r = web
            .submit(
                "/leaving",
                "/leaving",
                &[
                    ("reason", REASON),
                    ("passphrase", PASSPHRASE),
                    ("passphrase_again", PASSPHRASE),
                    ("password", &password),
                    ("totp_code", "000000"),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "attempt {i}");
    }
    let code = t.fresh_code(owner);
    let r = web
        .submit(
            "/leaving",
            "/leaving",
            &[
                ("reason", REASON),
                ("passphrase", PASSPHRASE),
                ("passphrase_again", PASSPHRASE),
                ("password", &owner.password),
                ("totp_code", &code),
            ],
        )
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let html = web.get("/leaving").await.text().await.unwrap();
    assert!(html.contains("Ask to leave"), "nothing recorded");
}
