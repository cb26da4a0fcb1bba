//! The medical record's associated data binds its clinic, client and
//! version: an older ciphertext of the record copied over the current row
//! (a removed allergy coming back) is refused as an integrity failure,
//! audited (DOMAIN F38: the attempt is in the clinic's chain) and never
//! shown. Rows sealed before the version binding are re-sealed on start and
//! still read; after that upgrade an old-scheme row put back is refused.
//! Runs on the suite's backend (SQLite, or PostgreSQL with
//! `VELUM_TEST_BACKEND=postgres`), changing rows by SQL as a database
//! administrator could.

use std::sync::Arc;

use velum_app::{AppError, ClientId, ClinicId, DataLocation, FixedClock, Section};
use velum_core::audit::AuditAction;
use velum_core::client::{ClientInput, MedicalInput};
use velum_crypto::{Aad, WrappedKey};
use velum_testkit::{RawDb, TestApp, on_raw, open_app, test_master_key};

/// A direct connection to the suite's database, on either backend.
struct Db(RawDb);

impl Db {
    async fn open(location: &DataLocation) -> Db {
        Db(RawDb::open(location).await)
    }

    /// One BLOB/BYTEA value of a query taking `$1` clinic and `$2` client.
    async fn bytes(&mut self, sql: &'static str, clinic: ClinicId, client: ClientId) -> Vec<u8> {
        on_raw!(&mut self.0, |c| sqlx::query_scalar(sql)
            .bind(clinic.as_uuid())
            .bind(client.as_uuid())
            .fetch_one(c)
            .await
            .unwrap())
    }

    /// One integer value of a query taking `$1` clinic and `$2` client.
    async fn int(&mut self, sql: &'static str, clinic: ClinicId, client: ClientId) -> i64 {
        on_raw!(&mut self.0, |c| sqlx::query_scalar(sql)
            .bind(clinic.as_uuid())
            .bind(client.as_uuid())
            .fetch_one(c)
            .await
            .unwrap())
    }

    /// Run a statement taking `$1` clinic, `$2` client and `$3` bytes;
    /// returns the rows it changed.
    async fn exec(&mut self, sql: &'static str, clinic: ClinicId, client: ClientId, bytes: &[u8]) -> u64 {
        on_raw!(&mut self.0, |c| sqlx::query(sql)
            .bind(clinic.as_uuid())
            .bind(client.as_uuid())
            .bind(bytes)
            .execute(c)
            .await
            .unwrap()
            .rows_affected())
    }

    async fn exec_plain(&mut self, sql: &'static str) {
        on_raw!(&mut self.0, |c| sqlx::query(sql).execute(c).await.map(|_| ()).unwrap())
    }

    async fn close(self) {
        self.0.close().await;
    }
}

const SEALED: &str = "SELECT sealed FROM client_medical WHERE clinic_id = $1 AND client_id = $2";
const SCHEME: &str = "SELECT aad_scheme FROM client_medical WHERE clinic_id = $1 AND client_id = $2";

fn new_client(n: u32) -> ClientInput {
    ClientInput {
        given_name: "Rowan".into(),
        family_name: "Integrity".into(),
        date_of_birth: "1983-06-14".into(),
        email: format!("rowan.{n}@integrity.example"),
        ..Default::default()
    }
}

fn medical(allergies: &[&str]) -> MedicalInput {
    MedicalInput {
        allergies: allergies.iter().map(|a| (*a).to_owned()).collect(),
        medications: vec!["Isotretinoin".into()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_medical_ciphertext_copied_over_the_current_row_is_refused_and_audited() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Integrity Clinic").await;
    let prac = clinic.by_role(velum_app::Role::Practitioner);
    let actor = prac.actor();
    let id = t
        .app
        .create_client(&actor, &new_client(1), false)
        .await
        .unwrap()
        .header
        .id;

    // Version 1 records a latex allergy; version 2 removes it.
    t.app.put_medical(&actor, id, &medical(&["Latex"])).await.unwrap();
    let mut db = Db::open(&t.location).await;
    let old = db.bytes(SEALED, clinic.id, id).await;
    t.app.put_medical(&actor, id, &medical(&[])).await.unwrap();
    let card = t.app.open_card(&actor, id, &[Section::Medical]).await.unwrap();
    assert_eq!(card.medical.unwrap().version, 2);

    // Someone with write access to the database puts version 1 back.
    let n = db
        .exec(
            "UPDATE client_medical SET sealed = $3 WHERE clinic_id = $1 AND client_id = $2",
            clinic.id,
            id,
            &old,
        )
        .await;
    assert_eq!(n, 1);
    db.close().await;

    // Reading fails with an integrity error; nothing of the record is shown.
    let err = t.app.open_card(&actor, id, &[Section::Medical]).await.unwrap_err();
    assert!(matches!(err, AppError::Integrity), "{err:?}");
    // Through the API too: a 500 that says why, without the record.
    let api = t.login(prac).await;
    let r = api.get(&format!("/api/v1/clients/{id}/medical")).await;
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    assert!(body.contains("integrity"), "{body}");
    assert!(!body.contains("Latex") && !body.contains("Isotretinoin"), "{body}");
    // Writing over it is refused too: the rolled-back value is not carried
    // into the history as if it were the previous version.
    let err = t.app.put_medical(&actor, id, &medical(&["Nuts"])).await.unwrap_err();
    assert!(matches!(err, AppError::Integrity), "{err:?}");

    // Each failure is in the clinic's chain, naming the client, with no value.
    let owner = clinic.owner().actor();
    let trail = t.app.audit_trail(&owner, None).await.unwrap();
    let failures: Vec<_> = trail
        .items
        .iter()
        .filter(|e| e.action == AuditAction::IntegrityFailure)
        .collect();
    assert_eq!(failures.len(), 3, "two reads and one write");
    for e in failures {
        assert_eq!(e.client_id, Some(id));
        assert_eq!(e.sections, [Section::Medical]);
        let detail = e.detail.clone().unwrap_or_default();
        assert!(!detail.contains("Latex"), "{detail}");
    }
    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_medical_row_sealed_before_the_version_binding_is_upgraded_on_start_and_reads() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Upgrade Clinic").await;
    let actor = clinic.by_role(velum_app::Role::Practitioner).actor();
    let id = t
        .app
        .create_client(&actor, &new_client(2), false)
        .await
        .unwrap()
        .header
        .id;
    t.app.put_medical(&actor, id, &medical(&["Latex"])).await.unwrap();
    t.app
        .put_medical(&actor, id, &medical(&["Latex", "Lidocaine"]))
        .await
        .unwrap();
    let before = t
        .app
        .open_card(&actor, id, &[Section::Medical])
        .await
        .unwrap()
        .medical
        .unwrap();

    // Make the row what an installation from before migration 0010 holds:
    // sealed with the record's identity only, scheme 1, not yet upgraded.
    let mut db = Db::open(&t.location).await;
    let master = test_master_key();
    let wrapped_clinic = db
        .bytes(
            "SELECT k.wrapped FROM clinic_keys k JOIN client_keys c \
             ON c.clinic_id = k.clinic_id AND c.key_id = k.key_id WHERE c.clinic_id = $1 AND c.client_id = $2",
            clinic.id,
            id,
        )
        .await;
    let wrapped_client = db
        .bytes(
            "SELECT wrapped FROM client_keys WHERE clinic_id = $1 AND client_id = $2",
            clinic.id,
            id,
        )
        .await;
    let clinic_key = master
        .unwrap_clinic_key(&WrappedKey::from_bytes(wrapped_clinic), clinic.id)
        .unwrap();
    let client_key = clinic_key
        .unwrap_client_key(&WrappedKey::from_bytes(wrapped_client), clinic.id, id)
        .unwrap();
    let json = serde_json::to_vec(&before.summary).unwrap();
    let v1_aad = Aad::record("client.medical", &[clinic.id.as_uuid(), id.as_uuid()]);
    let v1 = client_key.seal(&json, &v1_aad);
    let put_back = "UPDATE client_medical SET sealed = $3, aad_scheme = 1 WHERE clinic_id = $1 AND client_id = $2";
    assert_eq!(db.exec(put_back, clinic.id, id, &v1).await, 1);
    db.exec_plain("DELETE FROM meta WHERE key = 'medical_aad_v2'").await;
    db.close().await;

    // Not yet upgraded: the running app does not open the old scheme.
    let err = t.app.open_card(&actor, id, &[Section::Medical]).await.unwrap_err();
    assert!(matches!(err, AppError::Integrity), "{err:?}");

    // Starting the app (as `serve` or `velum migrate` do) upgrades the row;
    // starting again changes nothing.
    let clock = Arc::new(FixedClock::new(t.app.now()));
    let started = open_app(&t.location, clock.clone(), None).await;
    let after = started
        .open_card(&actor, id, &[Section::Medical])
        .await
        .unwrap()
        .medical
        .unwrap();
    assert_eq!(after.summary, before.summary);
    assert_eq!(after.version, 2);
    assert_eq!(started.upgrade_medical_aad().await.unwrap(), 0);
    started.close().await;
    let mut db = Db::open(&t.location).await;
    assert_eq!(db.int(SCHEME, clinic.id, id).await, 2);

    // Once upgraded, an old-scheme ciphertext put back (with its scheme) is
    // refused on the next start too, not re-sealed.
    assert_eq!(db.exec(put_back, clinic.id, id, &v1).await, 1);
    db.close().await;
    let restarted = open_app(&t.location, clock, None).await;
    let err = restarted.open_card(&actor, id, &[Section::Medical]).await.unwrap_err();
    assert!(matches!(err, AppError::Integrity), "{err:?}");
    restarted.close().await;
    // Other clients are unaffected.
    let other = t
        .app
        .create_client(&actor, &new_client(3), true)
        .await
        .unwrap()
        .header
        .id;
    t.app.put_medical(&actor, other, &medical(&["Latex"])).await.unwrap();
    assert_eq!(
        t.app
            .open_card(&actor, other, &[Section::Medical])
            .await
            .unwrap()
            .medical
            .unwrap()
            .version,
        1
    );
}
