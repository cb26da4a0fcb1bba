//! `velum keys rotate-clinic`: a clinic gets a new clinic key and every
//! client key is re-wrapped under it; clients stay readable throughout
//! (also in the middle of an interrupted rotation, because a client key is
//! opened with the clinic key its row names), staff still sign in (their
//! TOTP secrets are re-sealed), a second rotation works, an interrupted one
//! resumes, and export/import and offboarding work on a rotated clinic.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use velum_app::offboard::{ArchiveSecret, LeaveInput, OffboardRequest, Offboarding, open_archive};
use velum_app::{Actor, App, ClientId, ClinicId, Clock, DataLocation, FixedClock, Role, Section};
use velum_core::audit::AuditAction;
use velum_core::client::{ClientInput, MedicalInput};
use velum_testkit::{code_at, open_app};

const BIN: &str = env!("CARGO_BIN_EXE_velum");
const PASSWORD: &str = "harbour-thistle-copper-meadow";
const PASSPHRASE: &str = "lantern-orchard-pebble-violet-summit";
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

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "velum failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

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
    f.write_all(&TEST_KEY).unwrap();
    dir
}

fn sqlite(dir: &Path) -> DataLocation {
    DataLocation::SqliteFile(dir.join("velum.db"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const ALLERGIES: [&str; 3] = ["Lidocaine", "Latex", "Hyaluronidase"];

struct Seeded {
    clinic: ClinicId,
    owner: Actor,
    owner_email: String,
    owner_totp: String,
    clients: Vec<ClientId>,
}

async fn seed(app: &App) -> Seeded {
    let clinic = app.fixture_clinic("Rotating Clinic").await.unwrap();
    let owner_email = "owner@rotating.example".to_owned();
    let (staff_id, owner_totp) = app
        .fixture_staff(clinic, &owner_email, "Olive Owner", Role::Owner, PASSWORD)
        .await
        .unwrap();
    let owner = Actor::Staff(velum_core::StaffActor {
        staff_id,
        clinic_id: clinic,
        role: Role::Owner,
        source: None,
    });
    let mut clients = Vec::new();
    for (n, allergy) in ALLERGIES.iter().enumerate() {
        let input = ClientInput {
            given_name: "Imogen".into(),
            family_name: format!("Keyholder{}", ["a", "b", "c"][n]),
            date_of_birth: "1979-11-02".into(),
            email: format!("imogen.{n}@rotating.example"),
            ..Default::default()
        };
        let id = app.create_client(&owner, &input, false).await.unwrap().header.id;
        let medical = MedicalInput {
            allergies: vec![(*allergy).into()],
            ..Default::default()
        };
        app.put_medical(&owner, id, &medical).await.unwrap();
        clients.push(id);
    }
    Seeded {
        clinic,
        owner,
        owner_email,
        owner_totp,
        clients,
    }
}

/// Every client's medical summary opens and says what was written.
async fn all_readable(app: &App, seeded: &Seeded) {
    for (id, allergy) in seeded.clients.iter().zip(ALLERGIES) {
        let card = app
            .open_card(&seeded.owner, *id, &[Section::Contact, Section::Medical])
            .await
            .unwrap();
        let medical = card.medical.unwrap();
        assert_eq!(medical.summary.allergies[0].as_str(), allergy);
    }
}

/// The details of the clinic's `clinic_key_rotated` events, oldest first.
async fn rotation_events(app: &App, owner: &Actor) -> Vec<String> {
    let trail = app.audit_trail(owner, None).await.unwrap();
    let mut out: Vec<String> = trail
        .items
        .into_iter()
        .filter(|e| e.action == AuditAction::ClinicKeyRotated)
        .map(|e| {
            assert!(e.actor_id.is_none(), "a system event");
            e.detail.unwrap_or_default()
        })
        .collect();
    out.reverse();
    out
}

fn clock() -> Arc<FixedClock> {
    #[expect(clippy::disallowed_methods, reason = "the test clock starts at the real time")]
    let now = Timestamp::now();
    Arc::new(FixedClock::new(now))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_clinic_rewraps_every_client_resumes_and_keeps_transfer_and_offboarding_working() {
    let dir = data_dir();
    let d = s(dir.path()).to_owned();
    let clock = clock();
    let app = open_app(&sqlite(dir.path()), clock.clone(), None).await;
    let seeded = seed(&app).await;
    app.close().await;
    let clinic = seeded.clinic.to_string();

    // Bad input names the flag and changes nothing.
    let unknown = ClinicId::new().to_string();
    let o = velum(&["keys", "rotate-clinic", "--data-dir", &d, "--clinic", &unknown]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--clinic"));
    let o = velum(&["keys", "rotate-clinic", "--data-dir", &d, "--clinic", "nope"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--clinic"));

    // First rotation: key 2; the three clients re-wrapped; key 1 deleted.
    let out = ok(&velum(&[
        "keys",
        "rotate-clinic",
        "--data-dir",
        &d,
        "--clinic",
        &clinic,
    ]));
    assert!(out.contains("New clinic key 2"), "{out}");
    assert!(
        out.contains("3 client keys re-wrapped; 1 old clinic key(s) deleted"),
        "{out}"
    );
    let app = open_app(&sqlite(dir.path()), clock.clone(), None).await;
    all_readable(&app, &seeded).await;
    // The owner's TOTP secret was re-sealed under the new key: sign-in works.
    clock.advance(SignedDuration::from_secs(30));
    let code = code_at(&seeded.owner_totp, clock.now());
    app.api_sign_in(&seeded.owner_email, PASSWORD, &code, None)
        .await
        .unwrap();
    // A client created after the rotation is wrapped under the new key.
    let later = ClientInput {
        given_name: "Nell".into(),
        family_name: "Afterwards".into(),
        date_of_birth: "1990-01-01".into(),
        email: "nell@rotating.example".into(),
        ..Default::default()
    };
    let later = app.create_client(&seeded.owner, &later, false).await.unwrap().header.id;
    app.open_card(&seeded.owner, later, &[Section::Contact]).await.unwrap();
    assert_eq!(
        rotation_events(&app, &seeded.owner).await,
        [
            "started from_key:1 to_key:2 totp_resealed:1",
            "finished key:2 rewrapped:3 retired_keys:1"
        ]
    );
    app.close().await;

    // A second rotation, interrupted after two of the four clients.
    let out = ok(&velum(&[
        "keys",
        "rotate-clinic",
        "--data-dir",
        &d,
        "--clinic",
        &clinic,
        "--max-clients",
        "2",
    ]));
    assert!(out.contains("New clinic key 3"), "{out}");
    assert!(out.contains("2 client keys re-wrapped, 2 left; run again"), "{out}");
    // Meanwhile every client opens (two under key 3, two still under key 2),
    // and sign-in works.
    let app = open_app(&sqlite(dir.path()), clock.clone(), None).await;
    all_readable(&app, &seeded).await;
    app.open_card(&seeded.owner, later, &[Section::Contact]).await.unwrap();
    clock.advance(SignedDuration::from_secs(30));
    let code = code_at(&seeded.owner_totp, clock.now());
    app.api_sign_in(&seeded.owner_email, PASSWORD, &code, None)
        .await
        .unwrap();
    app.close().await;

    // Export in the middle of the rotation and import elsewhere: the moved
    // clinic reads (its client keys name both clinic keys, which move too).
    let file = dir.path().join("rotating.velum-export");
    ok(&velum(&[
        "export",
        "--data-dir",
        &d,
        "--clinic",
        &clinic,
        "--out",
        s(&file),
    ]));
    let dst = data_dir();
    ok(&velum(&["import", "--data-dir", s(dst.path()), s(&file)]));
    let moved = open_app(&sqlite(dst.path()), clock.clone(), None).await;
    all_readable(&moved, &seeded).await;
    moved.close().await;
    // The moved copy can finish the rotation on its side too.
    let out = ok(&velum(&[
        "keys",
        "rotate-clinic",
        "--data-dir",
        s(dst.path()),
        "--clinic",
        &clinic,
    ]));
    assert!(out.contains("Resumed rotation to clinic key 3"), "{out}");

    // Running again resumes the same rotation instead of starting another.
    let out = ok(&velum(&[
        "keys",
        "rotate-clinic",
        "--data-dir",
        &d,
        "--clinic",
        &clinic,
    ]));
    assert!(out.contains("Resumed rotation to clinic key 3"), "{out}");
    assert!(
        out.contains("2 client keys re-wrapped; 1 old clinic key(s) deleted"),
        "{out}"
    );
    let app = open_app(&sqlite(dir.path()), clock.clone(), None).await;
    all_readable(&app, &seeded).await;
    let events = rotation_events(&app, &seeded.owner).await;
    assert_eq!(
        events[2..],
        [
            "started from_key:2 to_key:3 totp_resealed:1",
            "paused key:3 rewrapped:2 remaining:2",
            "finished key:3 rewrapped:2 retired_keys:1"
        ]
    );
    assert!(app.verify_audit().await.unwrap().first_break.is_none());
    app.close().await;
    // Nothing left to do: the next run starts a new rotation (key 4).
    let out = ok(&velum(&[
        "keys",
        "rotate-clinic",
        "--data-dir",
        &d,
        "--clinic",
        &clinic,
        "--max-clients",
        "1",
    ]));
    assert!(out.contains("New clinic key 4"), "{out}");

    // Offboarding in the middle of that rotation archives every client:
    // the owner asks to leave with a passphrase, the clinic is suspended,
    // and the archive is sealed to that passphrase.
    let app = open_app(&sqlite(dir.path()), clock.clone(), None).await;
    clock.advance(SignedDuration::from_secs(30));
    let leave = LeaveInput {
        reason: "Moving to another provider at the end of the month".into(),
        passphrase: PASSPHRASE.into(),
        passphrase_again: PASSPHRASE.into(),
        password: PASSWORD.into(),
        totp_code: code_at(&seeded.owner_totp, clock.now()),
    };
    app.request_leaving(&seeded.owner, &leave).await.unwrap();
    app.close().await;
    ok(&velum(&[
        "clinic",
        "suspend",
        "--data-dir",
        &d,
        "--clinic",
        &clinic,
        "--reason",
        "The owner asked to leave at the end of the month",
    ]));
    let app = open_app(&sqlite(dir.path()), clock.clone(), None).await;
    let request = OffboardRequest {
        clinic: seeded.clinic,
        confirm_name: None,
        reason: "The owner asked to leave at the end of the month",
        keep_for_download: false,
    };
    let Offboarding::Done(done) = app
        .offboard_clinic(None, request, |bytes| Ok(bytes.to_vec()))
        .await
        .unwrap()
    else {
        panic!("the owner asked: the offboarding completes");
    };
    app.close().await;
    let sealed = done.archive.expect("an archive sealed to the owner");
    let (_, document) = open_archive(&sealed.saved, ArchiveSecret::Passphrase(PASSPHRASE)).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&document).unwrap();
    let mut allergies: Vec<String> = doc["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["medical"]["summary"]["allergies"][0].as_str().map(str::to_owned))
        .collect();
    allergies.sort();
    assert_eq!(allergies, ["Hyaluronidase", "Latex", "Lidocaine"]);
}

/// The same command on PostgreSQL (`--database-url`): an interrupted
/// rotation leaves every client readable and the next run finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_clinic_on_postgres_resumes_and_keeps_clients_readable() {
    if velum_testkit::skip_without_pg("rotate_clinic_on_postgres") {
        return;
    }
    let url = velum_testkit::fresh_pg_database().await;
    let location = DataLocation::Postgres(url.clone());
    let keys = data_dir();
    let key_file = keys.path().join("master.key");
    let clock = clock();
    let app = open_app(&location, clock.clone(), None).await;
    let seeded = seed(&app).await;
    app.close().await;
    let clinic = seeded.clinic.to_string();
    let rotate = |extra: &[&str]| {
        let mut args = vec!["keys", "rotate-clinic", "--database-url", &url, "--clinic", &clinic];
        args.extend_from_slice(extra);
        let o = Command::new(BIN)
            .args(&args)
            .env("VELUM_MASTER_KEY_FILE", &key_file)
            .env_remove("VELUM_DATABASE_URL")
            .env_remove("VELUM_DATA_DIR")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        ok(&o)
    };
    let out = rotate(&["--max-clients", "1"]);
    assert!(
        out.contains("New clinic key 2") && out.contains("1 client keys re-wrapped, 2 left"),
        "{out}"
    );
    let app = open_app(&location, clock.clone(), None).await;
    all_readable(&app, &seeded).await;
    app.close().await;
    let out = rotate(&[]);
    assert!(out.contains("Resumed rotation to clinic key 2"), "{out}");
    assert!(
        out.contains("2 client keys re-wrapped; 1 old clinic key(s) deleted"),
        "{out}"
    );
    let app = open_app(&location, clock, None).await;
    all_readable(&app, &seeded).await;
    let events = rotation_events(&app, &seeded.owner).await;
    assert_eq!(events.len(), 3, "{events:?}");
    app.close().await;
}

/// Mail is sealed under the clinic key row it names (issue 16 item 18), so
/// a rotation keeps an older key while mail sealed under it waits to be
/// sent, and retires it at the next run once that mail has left; mail
/// already sent holds no sealed bytes and keeps no key alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_key_goes_once_the_mail_sealed_under_it_has_left() {
    let dir = data_dir();
    let clock = clock();
    let smtp = velum_testkit::SmtpSink::start().await;
    let app = open_app(&sqlite(dir.path()), clock.clone(), Some(&smtp)).await;
    let seeded = seed(&app).await;

    // Mail sent before the rotation keeps nothing alive.
    app.request_password_reset(&seeded.owner_email, None).await.unwrap();
    app.process_password_resets().await.unwrap();
    assert_eq!(app.deliver_outbox().await.unwrap(), 1);
    let first = app.rotate_clinic_key(seeded.clinic, None).await.unwrap();
    assert!(first.finished(), "{first:?}");
    assert_eq!(first.retired, 1, "{first:?}");

    // Mail queued under key 2, then a rotation: key 2 stays while it waits.
    clock.advance(SignedDuration::from_hours(1));
    app.request_password_reset(&seeded.owner_email, None).await.unwrap();
    app.process_password_resets().await.unwrap();
    let second = app.rotate_clinic_key(seeded.clinic, None).await.unwrap();
    assert_eq!((second.remaining, second.retired), (0, 0), "{second:?}");
    // The waiting mail still opens and goes; the next run retires key 2.
    assert_eq!(app.deliver_outbox().await.unwrap(), 1);
    let mail = smtp.messages().pop().unwrap();
    assert!(mail.contains("/reset/"), "{mail}");
    let third = app.rotate_clinic_key(seeded.clinic, None).await.unwrap();
    assert_eq!((third.started, third.retired), (false, 1), "{third:?}");
    all_readable(&app, &seeded).await;

    // The owner still signs in: the TOTP secret moved with the keys.
    clock.advance(SignedDuration::from_secs(60));
    let code = code_at(&seeded.owner_totp, clock.now());
    app.api_sign_in(&seeded.owner_email, PASSWORD, &code, None)
        .await
        .unwrap();
    assert!(app.verify_audit().await.unwrap().first_break.is_none());
    app.close().await;
}
