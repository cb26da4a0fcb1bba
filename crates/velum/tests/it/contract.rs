//! The contract suite: every storage behaviour the app relies on, run on
//! SQLite always and on PostgreSQL whenever `VELUM_TEST_PG_URL` is set (the
//! test names say which). Without PostgreSQL the PostgreSQL half prints
//! SKIPPED and returns, unless `CI` is set: then it fails.

use jiff::SignedDuration;
use velum_app::{Actor, App, AppError, Clock, Role, Section};
use velum_core::client::{ClientInput, MedicalInput};
use velum_testkit::{Backend, SmtpSink, clock_now, code_at, fresh_location, open_app, seed_staff};

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(velum_testkit::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if velum_testkit::skip_without_pg(concat!("contract::postgres::", stringify!($name))) {
                        return;
                    }
                    super::$name(velum_testkit::Backend::Postgres).await;
                }
            )*
        }
    };
}

contract!(
    tenancy_scopes_every_read_and_write,
    search_finds_by_name_date_phone_and_email_and_pages,
    name_search_lists_family_names_first_and_pages_across_both,
    changes_keep_sealed_history_and_medical_round_trips,
    audit_chain_stays_one_valid_chain_under_concurrent_writers,
    two_servers_share_sessions_locks_and_the_outbox,
    schema_matches_the_other_backend,
    clinic_id_leads_every_key_of_clinic_data,
    offboarding_deletes_every_row_of_the_clinic_and_keeps_its_tombstone,
    a_recovery_code_is_used_once_even_by_two_servers_at_once,
    clinic_settings_are_kept_and_a_slug_belongs_to_one_clinic,
    two_clinics_of_one_name_at_once_make_one_clinic,
    two_first_runs_at_once_make_one_clinic,
    the_offboarding_archive_reads_a_clinic_larger_than_a_page_in_pages,
);

fn input(n: u32, family: &str) -> ClientInput {
    ClientInput {
        given_name: "Amelia".into(),
        family_name: family.into(),
        date_of_birth: "1988-03-14".into(),
        email: format!("amelia.{n}@example.org"),
        mobile: format!("07400 {:06}", 100_000 + n),
        line1: "12 Elm Grove".into(),
        line2: String::new(),
        town: "Leeds".into(),
        postcode: "LS6 2AB".into(),
    }
}

async fn owner(app: &App, clinic: &str) -> Actor {
    let id = app.fixture_clinic(clinic).await.unwrap();
    let email = format!("owner@{}.example", clinic.to_lowercase());
    seed_staff(app, id, &email, "Owner", Role::Owner, "granite-puffin-lagoon-velvet")
        .await
        .0
}

async fn tenancy_scopes_every_read_and_write(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let app = open_app(&loc, clock_now(), None).await;
    let a = owner(&app, "Alpha").await;
    let b = owner(&app, "Beta").await;
    let theirs = app
        .create_client(&b, &input(1, "Brown"), false)
        .await
        .unwrap()
        .header
        .id;
    let sections = [Section::Contact, Section::Medical];
    assert!(matches!(
        app.open_card(&a, theirs, &sections).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        app.update_client(&a, theirs, Default::default()).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        app.put_medical(&a, theirs, &MedicalInput::default()).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        app.set_client_archived(&a, theirs, true).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        app.access_log(&a, theirs, None).await,
        Err(AppError::NotFound)
    ));
    assert!(
        app.search_clients(&a, "brown", None, true)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(app.count_clients(&a).await.unwrap(), 0);
    assert_eq!(
        app.search_clients(&b, "brown", None, false).await.unwrap().items.len(),
        1
    );
    app.close().await;
}

async fn search_finds_by_name_date_phone_and_email_and_pages(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let app = open_app(&loc, clock_now(), None).await;
    let o = owner(&app, "Alpha").await;
    for n in 0..55 {
        let family = if n % 2 == 0 { "Smith-Jones" } else { "Ó Súilleabháin" };
        app.create_client(&o, &input(n, family), true).await.unwrap();
    }
    assert_eq!(
        app.search_clients(&o, "smith", None, false).await.unwrap().items.len(),
        28
    );
    assert_eq!(
        app.search_clients(&o, "ó sú", None, false).await.unwrap().items.len(),
        27
    );
    assert_eq!(
        app.search_clients(&o, "amelia smi", None, false)
            .await
            .unwrap()
            .items
            .len(),
        28
    );
    // A name search pages too: 50, then the other 5, none repeated.
    let n1 = app.search_clients(&o, "amelia", None, false).await.unwrap();
    assert_eq!(n1.items.len(), 50);
    let n2 = app
        .search_clients(&o, "amelia", n1.next.as_deref(), false)
        .await
        .unwrap();
    assert_eq!(n2.items.len(), 5);
    assert!(n2.next.is_none());
    let mut ids: Vec<_> = n1.items.iter().chain(&n2.items).map(|l| l.header.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 55);
    assert_eq!(
        app.search_clients(&o, "07400 100007", None, false)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        app.search_clients(&o, "amelia.9@example.org", None, false)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let p1 = app.search_clients(&o, "14/03/1988", None, false).await.unwrap();
    assert_eq!(p1.items.len(), 50);
    let p2 = app
        .search_clients(&o, "14/03/1988", p1.next.as_deref(), false)
        .await
        .unwrap();
    assert_eq!(p2.items.len(), 5);
    assert!(p2.next.is_none());
    app.close().await;
}

async fn name_search_lists_family_names_first_and_pages_across_both(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let app = open_app(&loc, clock_now(), None).await;
    let o = owner(&app, "Alpha").await;
    // 30 family names starting "smi", 30 given names starting "smi" (with
    // other family names), one card matching both ways, and others.
    let make = |n: u32, given: &str, family: &str| {
        let mut i = input(n, family);
        i.given_name = given.into();
        i
    };
    let mut inputs = Vec::new();
    for n in 0..30 {
        inputs.push(make(
            n,
            "Amelia",
            &format!("Smith{}", char::from(b'a' + (n % 26) as u8)),
        ));
        inputs.push(make(
            100 + n,
            &format!("Smita{}", char::from(b'a' + (n % 26) as u8)),
            "Patel",
        ));
    }
    inputs.push(make(200, "Smith", "Smithers"));
    inputs.push(make(201, "Olivia", "Jones"));
    for i in &inputs {
        app.create_client(&o, i, true).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = app.search_clients(&o, "smi", cursor.as_deref(), false).await.unwrap();
        seen.extend(page.items.iter().map(|l| l.header.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Every match once, none of the others.
    assert_eq!(seen.len(), 61);
    let mut ids: Vec<_> = seen.iter().map(|h| h.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 61);
    // The 31 family-name matches first, in family-name order; then the 30
    // given-name matches, in given-name order.
    let families: Vec<_> = seen[..31].iter().map(|h| h.family_name.to_lowercase()).collect();
    assert!(families.iter().all(|f| f.starts_with("smi")));
    assert!(families.windows(2).all(|w| w[0] <= w[1]));
    let givens: Vec<_> = seen[31..].iter().map(|h| h.given_name.to_lowercase()).collect();
    assert!(givens.iter().all(|g| g.starts_with("smi")));
    assert!(givens.windows(2).all(|w| w[0] <= w[1]), "{givens:?}");
    // A full-name search still finds the card by "given family".
    assert_eq!(
        app.search_clients(&o, "smith smit", None, false)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    app.close().await;
}

async fn changes_keep_sealed_history_and_medical_round_trips(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let app = open_app(&loc, clock_now(), None).await;
    let o = owner(&app, "Alpha").await;
    let id = app
        .create_client(&o, &input(1, "Brown"), false)
        .await
        .unwrap()
        .header
        .id;
    let patch = velum_app::clients::ClientPatch {
        postcode: Some("M1 1AE".into()),
        ..Default::default()
    };
    app.update_client(&o, id, patch).await.unwrap();
    let medical = MedicalInput {
        allergies: vec!["Lidocaine".into()],
        ..Default::default()
    };
    app.put_medical(&o, id, &medical).await.unwrap();
    app.put_medical(&o, id, &MedicalInput::default()).await.unwrap();
    let card = app
        .open_card(&o, id, &[Section::Contact, Section::Medical])
        .await
        .unwrap();
    assert_eq!(
        card.contact.unwrap().details.address.unwrap().postcode.as_str(),
        "M1 1AE"
    );
    assert_eq!(card.medical.unwrap().version, 2);
    let (_, changes) = app.client_changes(&o, id).await.unwrap();
    let sections: Vec<&str> = changes.iter().map(|c| c.section.as_str()).collect();
    assert_eq!(sections, ["medical", "medical", "contact", "contact"], "newest first");
    assert_eq!(
        changes.iter().filter(|c| c.first).count(),
        2,
        "creation and first medical entry"
    );
    app.close().await;
}

async fn audit_chain_stays_one_valid_chain_under_concurrent_writers(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let one = open_app(&loc, c.clone(), None).await;
    let two = open_app(&loc, c, None).await;
    let o = owner(&one, "Alpha").await;
    let id = one
        .create_client(&o, &input(1, "Brown"), false)
        .await
        .unwrap()
        .header
        .id;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { one.clone() } else { two.clone() };
        let o = o.clone();
        tasks.push(tokio::spawn(async move {
            app.open_card(&o, id, &[Section::Contact]).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let report = two.verify_audit().await.unwrap();
    assert_eq!(report.first_break, None);
    let (_, log) = one.access_log(&o, id, None).await.unwrap();
    assert_eq!(
        log.items
            .iter()
            .filter(|e| e.sections == [Section::Contact] && e.action.as_str() == "read")
            .count(),
        40
    );
    one.close().await;
    two.close().await;
}

async fn two_servers_share_sessions_locks_and_the_outbox(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let smtp = SmtpSink::start().await;
    let one = open_app(&loc, c.clone(), Some(&smtp)).await;
    let two = open_app(&loc, c.clone(), Some(&smtp)).await;
    let clinic = one.fixture_clinic("Alpha").await.unwrap();
    let pw = "granite-puffin-lagoon-velvet";
    let (_, secret) = one
        .fixture_staff(clinic, "p@alpha.example", "P", Role::Practitioner, pw)
        .await
        .unwrap();
    // A session made on one server is valid on the other.
    c.advance(SignedDuration::from_secs(30));
    let session = one
        .api_sign_in("p@alpha.example", pw, &code_at(&secret, c.now()), None)
        .await
        .unwrap();
    assert!(two.session(&session.token).await.is_ok());
    // A code used on one server cannot be replayed on the other.
    assert!(matches!(
        two.api_sign_in("p@alpha.example", pw, &code_at(&secret, c.now()), None)
            .await,
        Err(AppError::BadCredentials)
    ));
    // A source locked out of an account through one server is locked out
    // on both (F37: the lock is per account and source).
    let guesser = Some("203.0.113.9");
    for i in 0..10 {
        let app = if i % 2 == 0 { &one } else { &two };
        let _ = app
            .api_sign_in("p@alpha.example", "wrong-password-123", "000000", guesser)
            .await;
    }
    c.advance(SignedDuration::from_secs(30));
    assert!(matches!(
        two.api_sign_in("p@alpha.example", pw, &code_at(&secret, c.now()), guesser)
            .await,
        Err(AppError::TooManyAttempts { .. })
    ));
    assert!(matches!(
        one.api_sign_in("p@alpha.example", pw, &code_at(&secret, c.now()), guesser)
            .await,
        Err(AppError::TooManyAttempts { .. })
    ));
    // Another source still gets in.
    assert!(
        one.api_sign_in("p@alpha.example", pw, &code_at(&secret, c.now()), Some("198.51.100.7"))
            .await
            .is_ok()
    );
    // The holder was warned once about the guessing.
    assert_eq!(one.deliver_outbox().await.unwrap(), 1);
    // A queued email is delivered exactly once, whichever servers run the worker.
    one.request_password_reset("p@alpha.example", None).await.unwrap();
    one.process_password_resets().await.unwrap();
    let (a, b) = tokio::join!(one.deliver_outbox(), two.deliver_outbox());
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        one.deliver_outbox().await.unwrap() + two.deliver_outbox().await.unwrap(),
        0
    );
    assert_eq!(smtp.messages().len(), 2);
    one.close().await;
    two.close().await;
}

async fn schema_matches_the_other_backend(backend: Backend) {
    // Run once per backend so each half can skip on its own; both compare
    // SQLite with PostgreSQL when PostgreSQL is available.
    let _ = backend;
    if velum_testkit::skip_without_pg("schema parity") {
        return;
    }
    let (sqlite, _d1) = fresh_location(Backend::Sqlite).await;
    let (pg, _d2) = fresh_location(Backend::Postgres).await;
    let a = open_app(&sqlite, clock_now(), None).await;
    let b = open_app(&pg, clock_now(), None).await;
    let sa = a.schema_columns().await.unwrap();
    let sb = b.schema_columns().await.unwrap();
    assert!(!sa.is_empty());
    assert_eq!(sa, sb, "the migrated schemas expose the same tables and columns");
    let ka = a.schema_keys().await.unwrap();
    let kb = b.schema_keys().await.unwrap();
    assert!(ka.iter().any(|k| k.kind.starts_with("foreign key")));
    assert_eq!(
        ka, kb,
        "the migrated schemas have the same primary, foreign and unique keys"
    );
    a.close().await;
    b.close().await;
}

/// Offboarding on each backend: every table with a `clinic_id` (as the
/// migrated schema names them, so a table added later is counted too) is
/// empty of the clinic but for its certificate; the tombstone stays; the
/// other clinic is untouched; every chain left verifies (DOMAIN F38) and the
/// platform's holds the certificate's hash; the archive opens with its key.
async fn offboarding_deletes_every_row_of_the_clinic_and_keeps_its_tombstone(backend: Backend) {
    use velum_app::offboard::{ArchiveSecret, LeaveInput, OffboardRequest, Offboarding, open_archive};
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let app = open_app(&loc, c.clone(), None).await;
    let alpha = app.fixture_clinic("Alpha").await.unwrap();
    let (a, totp) = seed_staff(
        &app,
        alpha,
        "owner@alpha.example",
        "Owner",
        Role::Owner,
        "granite-puffin-lagoon-velvet",
    )
    .await;
    let b = owner(&app, "Beta").await;
    let mine = app
        .create_client(&a, &input(1, "Brown"), false)
        .await
        .unwrap()
        .header
        .id;
    app.update_client(
        &a,
        mine,
        velum_app::clients::ClientPatch {
            town: Some("York".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let medical = MedicalInput {
        allergies: vec!["Lidocaine".into()],
        ..Default::default()
    };
    app.put_medical(&a, mine, &medical).await.unwrap();
    let theirs = app
        .create_client(&b, &input(2, "Green"), false)
        .await
        .unwrap()
        .header
        .id;
    let beta_before = app.remaining_rows(b.clinic().unwrap()).await.unwrap();
    c.advance(SignedDuration::from_secs(30));
    let leave = LeaveInput {
        reason: "Moving to another provider".into(),
        passphrase: "cobalt wren tapestry mulberry".into(),
        passphrase_again: "cobalt wren tapestry mulberry".into(),
        password: "granite-puffin-lagoon-velvet".into(),
        totp_code: code_at(&totp, c.now()),
    };
    app.request_leaving(&a, &leave).await.unwrap();
    app.set_clinic_suspended(None, a.clinic().unwrap(), true, "The owner asked to leave")
        .await
        .unwrap();

    let request = OffboardRequest {
        clinic: a.clinic().unwrap(),
        confirm_name: None,
        reason: "The owner asked to leave",
        keep_for_download: false,
    };
    let Offboarding::Done(done) = app
        .offboard_clinic(None, request, |bytes| Ok(bytes.to_vec()))
        .await
        .unwrap()
    else {
        panic!("the owner asked: the command line completes it");
    };
    for (table, n) in app.remaining_rows(a.clinic().unwrap()).await.unwrap() {
        assert_eq!(n, i64::from(table == "clinic_offboardings"), "{table} ({backend:?})");
    }
    let tomb = app
        .clinics()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == a.clinic().unwrap())
        .unwrap();
    assert_eq!(tomb.status, velum_core::clinic::ClinicStatus::Offboarded);
    assert_eq!(app.remaining_rows(b.clinic().unwrap()).await.unwrap(), beta_before);
    assert!(
        app.open_card(&b, theirs, &[Section::Contact, Section::Medical])
            .await
            .is_ok()
    );
    let report = app.verify_audit().await.unwrap();
    assert!(report.first_break.is_none(), "{report:?}");
    let cert = app.verify_certificate(&done.certificate).await.unwrap();
    assert_eq!(cert.certificate.keys_destroyed.clinic_key_rows, 1);
    assert_eq!(cert.certificate.keys_destroyed.client_key_rows, 1);
    let stored = app.offboarding(None, a.clinic().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.certificate, done.certificate);
    assert!(!stored.archive_waiting);
    let saved = done.archive.expect("sealed to the owner").saved;
    let (_, doc) = open_archive(&saved, ArchiveSecret::Passphrase("cobalt wren tapestry mulberry")).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    let client = &doc["clients"][0];
    assert_eq!(client["family_name"], "Brown");
    assert_eq!(client["medical"]["summary"]["allergies"][0], "Lidocaine");
    let earlier: Vec<&serde_json::Value> = client["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["previous"])
        .filter(|p| !p.is_null())
        .collect();
    assert!(earlier.iter().any(|p| p["address"]["town"] == "Leeds"), "{earlier:?}");
    // Staff of the clinic cannot sign in: their accounts are gone.
    assert!(matches!(
        app.api_sign_in("owner@alpha.example", "granite-puffin-lagoon-velvet", "000000", None)
            .await,
        Err(AppError::BadCredentials)
    ));
    app.close().await;
}

/// The archive reads clients (with their keys, medical summaries and
/// history) and audit events a page at a time, keyed on ids and sequence
/// numbers: with more than a page of each, every client is in it once, in
/// id order, with its medical summary, and every event of the chain.
async fn the_offboarding_archive_reads_a_clinic_larger_than_a_page_in_pages(backend: Backend) {
    use velum_app::offboard::{ARCHIVE_PAGE, ArchiveSecret, LeaveInput, OffboardRequest, Offboarding, open_archive};
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let app = open_app(&loc, c.clone(), None).await;
    let alpha = app.fixture_clinic("Alpha").await.unwrap();
    let (a, totp) = seed_staff(
        &app,
        alpha,
        "owner@alpha.example",
        "Owner",
        Role::Owner,
        "granite-puffin-lagoon-velvet",
    )
    .await;
    let count = u32::try_from(ARCHIVE_PAGE).unwrap() + 3;
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(app.create_client(&a, &input(n, "Brown"), true).await.unwrap().header.id);
    }
    let medical = MedicalInput {
        allergies: vec!["Lidocaine".into()],
        ..Default::default()
    };
    // The last client made: its id may fall on any page.
    app.put_medical(&a, ids[ids.len() - 1], &medical).await.unwrap();
    c.advance(SignedDuration::from_secs(30));
    let leave = LeaveInput {
        reason: "Moving to another provider".into(),
        passphrase: "cobalt wren tapestry mulberry".into(),
        passphrase_again: "cobalt wren tapestry mulberry".into(),
        password: "granite-puffin-lagoon-velvet".into(),
        totp_code: code_at(&totp, c.now()),
    };
    app.request_leaving(&a, &leave).await.unwrap();
    app.set_clinic_suspended(None, alpha, true, "The owner asked to leave")
        .await
        .unwrap();
    let request = OffboardRequest {
        clinic: alpha,
        confirm_name: None,
        reason: "The owner asked to leave",
        keep_for_download: false,
    };
    let Offboarding::Done(done) = app
        .offboard_clinic(None, request, |bytes| Ok(bytes.to_vec()))
        .await
        .unwrap()
    else {
        panic!("the owner asked: the command line completes it");
    };
    let saved = done.archive.expect("sealed to the owner").saved;
    let (_, doc) = open_archive(&saved, ArchiveSecret::Passphrase("cobalt wren tapestry mulberry")).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    let clients = doc["clients"].as_array().unwrap();
    let written: Vec<uuid::Uuid> = clients
        .iter()
        .map(|c| uuid::Uuid::parse_str(c["id"].as_str().unwrap()).unwrap())
        .collect();
    let mut expected: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    expected.sort();
    assert_eq!(written, expected, "every client once, in id order ({backend:?})");
    assert!(clients.iter().all(|c| c["key_destroyed_before_offboarding"] == false));
    let last = ids[ids.len() - 1].to_string();
    let with_medical: Vec<&serde_json::Value> = clients.iter().filter(|c| !c["medical"].is_null()).collect();
    assert_eq!(with_medical.len(), 1);
    assert_eq!(with_medical[0]["id"], last);
    assert_eq!(with_medical[0]["medical"]["summary"]["allergies"][0], "Lidocaine");
    let events = doc["audit"]["events"].as_array().unwrap();
    assert!(
        events.len() > usize::try_from(ARCHIVE_PAGE).unwrap(),
        "{}",
        events.len()
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "every event, in order");
    assert_eq!(doc["audit"]["head"]["seq"], seqs[seqs.len() - 1]);
    app.close().await;
}

/// Tables that hold no clinic's data: the tenants themselves, installation
/// settings, the sign-in email and public-slug directories and per-address
/// throttles. Everything else is distributed by clinic
/// (docs/deploy/postgres.md).
const NOT_CLINIC_DATA: &[&str] = &[
    "clinics",
    "meta",
    "staff_logins",
    "clinic_slugs",
    "login_throttle",
    "password_reset_requests",
    "anonymous_sign_in_failures",
];

async fn clinic_id_leads_every_key_of_clinic_data(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let app = open_app(&loc, clock_now(), None).await;
    let keys = app.schema_keys().await.unwrap();
    let tables: std::collections::BTreeSet<String> = app
        .schema_columns()
        .await
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    for table in &tables {
        if NOT_CLINIC_DATA.contains(&table.as_str()) {
            continue;
        }
        assert!(
            keys.iter().any(|k| &k.table == table && k.kind == "primary key"),
            "{table} has no primary key"
        );
    }
    let mut checked = 0;
    for k in keys.iter().filter(|k| !NOT_CLINIC_DATA.contains(&k.table.as_str())) {
        let first = k.columns.first().map(String::as_str);
        assert_eq!(
            first,
            Some("clinic_id"),
            "{} {} ({}) must start with clinic_id",
            k.table,
            k.kind,
            k.columns.join(", ")
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} keys checked");
    // The sign-in directory keeps emails unique installation-wide.
    assert!(
        keys.iter()
            .any(|k| k.table == "staff_logins" && k.kind == "primary key" && k.columns == ["email"])
    );
    app.close().await;
}

/// Item 14: a recovery code is used up in one conditional statement, so two
/// servers given the same code at once let exactly one sign-in through;
/// making new codes ends the old ones, and a TOTP reset ends them all.
async fn a_recovery_code_is_used_once_even_by_two_servers_at_once(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let one = open_app(&loc, c.clone(), None).await;
    let two = open_app(&loc, c.clone(), None).await;
    let owner = owner(&one, "Alpha").await;
    let pw = "granite-puffin-lagoon-velvet";
    let (id, secret) = one
        .fixture_staff(owner.clinic().unwrap(), "p@alpha.example", "P", Role::Practitioner, pw)
        .await
        .unwrap();
    let actor = velum_testkit::staff_actor(owner.clinic().unwrap(), id, Role::Practitioner);
    c.advance(SignedDuration::from_secs(30));
    let old = one
        .regenerate_recovery_codes(&actor, pw, &code_at(&secret, c.now()))
        .await
        .unwrap();
    c.advance(SignedDuration::from_secs(30));
    let codes = two
        .regenerate_recovery_codes(&actor, pw, &code_at(&secret, c.now()))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert!(
        one.api_sign_in("p@alpha.example", pw, &old[0], None).await.is_err(),
        "old codes ended"
    );
    let (a, b) = tokio::join!(
        one.api_sign_in("p@alpha.example", pw, &codes[0], None),
        two.api_sign_in("p@alpha.example", pw, &codes[0], None)
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "exactly one sign-in"
    );
    assert_eq!(one.recovery_codes_left(&actor).await.unwrap(), 9);
    two.reset_staff_totp(&owner, id).await.unwrap();
    assert_eq!(
        one.recovery_codes_left(&actor).await.unwrap(),
        0,
        "a reset ends every code"
    );
    assert!(one.api_sign_in("p@alpha.example", pw, &codes[1], None).await.is_err());
    one.close().await;
    two.close().await;
}

/// Item 4: a clinic's settings round-trip on both backends; a public slug is
/// one clinic's, installation-wide, decided by the database (the loser
/// changes nothing); and the clinic's time zone decides what "today" is for
/// a date of birth.
async fn clinic_settings_are_kept_and_a_slug_belongs_to_one_clinic(backend: Backend) {
    use velum_core::settings::{ClinicSettings, SettingsInput};
    let (loc, _dir) = fresh_location(backend).await;
    // Noon UTC on 30 June 2026: already 1 July at UTC+14 (Kiritimati).
    let c = std::sync::Arc::new(velum_app::FixedClock::new("2026-06-30T12:00:00Z".parse().unwrap()));
    let app = open_app(&loc, c.clone(), None).await;
    let a = owner(&app, "Alpha").await;
    let b = owner(&app, "Beta").await;
    assert_eq!(app.clinic_settings(&a).await.unwrap(), ClinicSettings::default());

    let form = SettingsInput {
        time_zone: "Europe/London".into(),
        public_slug: "bright-skin".into(),
        display_name: "Bright Skin".into(),
        line1: "1 High Street".into(),
        town: "Leeds".into(),
        postcode: "LS1 4AP".into(),
        regulator: "his".into(),
        registration_number: "HIS-0042".into(),
        licensing_authority: "Leeds City Council".into(),
        licence_number: "LIC/1".into(),
        cancellation_notice_hours: "48".into(),
        reminder_lead_hours: "24".into(),
        clinical_retention_years: "12".into(),
        financial_retention_years: "6".into(),
        ..SettingsInput::default()
    };
    let saved = app.update_clinic_settings(&a, &form).await.unwrap();
    assert_eq!(app.clinic_settings(&a).await.unwrap(), saved);
    assert_eq!(saved.clinical_retention_years(), 12);

    // The same slug (typed differently) for another clinic: refused on the
    // field, and nothing of that save is kept.
    let theirs = SettingsInput {
        public_slug: "Bright-Skin".into(),
        time_zone: "Europe/Paris".into(),
        ..form.clone()
    };
    match app.update_clinic_settings(&b, &theirs).await {
        Err(AppError::Conflict(e)) => assert!(e.get("public_slug").is_some()),
        other => panic!("expected a conflict on public_slug, got {other:?}"),
    }
    assert_eq!(app.clinic_settings(&b).await.unwrap(), ClinicSettings::default());
    // Once Alpha lets it go, Beta can have it.
    let renamed = SettingsInput {
        public_slug: "bright-skin-leeds".into(),
        ..form.clone()
    };
    app.update_clinic_settings(&a, &renamed).await.unwrap();
    let got = app.update_clinic_settings(&b, &theirs).await.unwrap();
    assert_eq!(got.public_slug.unwrap().as_str(), "bright-skin");
    assert_eq!(
        app.clinic_settings(&a).await.unwrap().public_slug.unwrap().as_str(),
        "bright-skin-leeds"
    );

    // A date of birth of 1 July 2026 is in the future in London at noon UTC
    // on 30 June, and today at a clinic in Kiritimati.
    let born = |n: u32| ClientInput {
        date_of_birth: "01/07/2026".into(),
        ..input(n, "Quill")
    };
    match app.create_client(&a, &born(1), true).await {
        Err(AppError::Validation(e)) => assert!(e.get("date_of_birth").is_some()),
        other => panic!("expected the date of birth refused, got {other:?}"),
    }
    let far = SettingsInput {
        time_zone: "Pacific/Kiritimati".into(),
        ..renamed
    };
    app.update_clinic_settings(&a, &far).await.unwrap();
    assert_eq!(app.clinic_today(&a).await.unwrap(), jiff::civil::date(2026, 7, 1));
    assert_eq!(app.clinic_today(&b).await.unwrap(), jiff::civil::date(2026, 6, 30));
    app.create_client(&a, &born(1), true).await.unwrap();
    app.close().await;
}

/// Clinic names are unique without case among clinics not offboarded, and
/// the database decides: two servers creating "Harley Skin" and "HARLEY
/// SKIN" at once make one clinic; the other gets the 409 on `name`.
async fn two_clinics_of_one_name_at_once_make_one_clinic(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let one = open_app(&loc, c.clone(), None).await;
    let two = open_app(&loc, c.clone(), None).await;
    for round in 0..3 {
        let (n1, n2) = (format!("Harley Skin {round}"), format!("HARLEY SKIN {round}"));
        let (e1, e2) = (format!("a{round}@one.example"), format!("b{round}@two.example"));
        let (x, y) = tokio::join!(one.create_clinic(&n1, &e1, None), two.create_clinic(&n2, &e2, None));
        let (made, refused) = match (x, y) {
            (Ok(m), Err(e)) | (Err(e), Ok(m)) => (m, e),
            (x, y) => panic!("exactly one clinic, got {x:?} and {y:?}"),
        };
        assert!(!made.setup_link.is_empty());
        match refused {
            AppError::Conflict(f) => assert!(f.get("name").is_some(), "{f:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(one.clinics().await.unwrap().len(), 3);
    one.close().await;
    two.close().await;
}

/// The first-run rule (only while no clinic exists) is decided inside the
/// transaction: two first runs at once make one clinic; the other is
/// refused, and so is every first run after it.
async fn two_first_runs_at_once_make_one_clinic(backend: Backend) {
    let (loc, _dir) = fresh_location(backend).await;
    let c = clock_now();
    let one = open_app(&loc, c.clone(), None).await;
    let two = open_app(&loc, c.clone(), None).await;
    let (x, y) = tokio::join!(
        one.create_first_clinic("First", "owner@first.example", None),
        two.create_first_clinic("Second", "owner@second.example", None),
    );
    let refused = match (x, y) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        (x, y) => panic!("exactly one clinic, got {x:?} and {y:?}"),
    };
    assert!(matches!(refused, AppError::Forbidden), "{refused:?}");
    assert_eq!(one.clinics().await.unwrap().len(), 1);
    assert!(matches!(
        two.create_first_clinic("Third", "owner@third.example", None).await,
        Err(AppError::Forbidden)
    ));
    one.close().await;
    two.close().await;
}
