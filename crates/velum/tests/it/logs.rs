//! No personal data in logs or error answers (G19, docs/LOGGING.md): seed
//! canary personal data, drive every route that touches it (good and bad
//! input, API and pages: clients, staff, the audit trail and the platform),
//! check the status of every request (so the canary really went in), and
//! look for the canary in everything logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use velum_core::Role;
use velum_testkit::TestApp;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const CANARIES: [&str; 7] = [
    "Quarrington",
    "Zebedee",
    "canary.quarrington@example.net",
    "7400424242",
    "BT9 6AD",
    "Canaryseed",
    "Thistledown",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_personal_data_never_reaches_the_logs_or_error_answers() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,reqwest=off,hyper=off,hyper_util=off,h2=off",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global: the server's tasks run on the runtime's worker threads. Each
    // test is its own process under nextest.
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");

    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = t.login(clinic.owner()).await;
    let desk = t.login(clinic.by_role(Role::Receptionist)).await;
    let mut answers: Vec<String> = Vec::new();

    let canary = json!({
        "given_name": "Zebedee", "family_name": "Quarrington", "date_of_birth": "1979-02-11",
        "email": "canary.quarrington@example.net", "mobile": "07400 424242",
        "address": {"line1": "1 Thistledown Lane", "town": "Belfast", "postcode": "BT9 6AD"}
    });
    let r = owner.post("/api/v1/clients", &canary).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let c: Value = r.json().await.unwrap();
    let id = c["id"].as_str().unwrap().to_owned();
    let medical = format!("/api/v1/clients/{id}/medical");
    let r = owner
        .put(
            &medical,
            &json!({"allergies": ["Canaryseed"], "notes": "Quarrington family history"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    // Good requests.
    for path in [
        format!("/api/v1/clients/{id}"),
        medical.clone(),
        format!("/api/v1/clients/{id}/access-log"),
    ] {
        assert_eq!(owner.get(&path).await.status(), 200, "{path}");
    }
    for q in ["Quarrington", "07400 424242", "canary.quarrington@example.net"] {
        let r = owner.post("/api/v1/clients/search", &json!({"q": q})).await;
        assert_eq!(r.status(), 200);
    }
    // A search in the URL is refused without repeating it.
    let r = owner.get("/api/v1/clients?q=Quarrington").await;
    assert_eq!(r.status(), 400);
    answers.push(r.text().await.unwrap());
    let r = owner
        .patch(
            &format!("/api/v1/clients/{id}"),
            &json!({"address": {"line2": "Thistledown"}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    // Bad requests carrying the canary.
    let bad = [
        (format!("/api/v1/clients/{id}"), json!({"date_of_birth": "Quarrington"})),
        (format!("/api/v1/clients/{id}"), json!({"postcode_typo": "BT9 6AD"})),
        (
            format!("/api/v1/clients/{id}"),
            json!({"email": "Zebedee@@Quarrington"}),
        ),
        (
            format!("/api/v1/clients/{id}"),
            json!({"mobile": "Quarrington 7400424242"}),
        ),
        (format!("/api/v1/clients/{id}"), json!({"given_name": ["Zebedee"]})),
    ];
    for (path, body) in bad {
        let r = owner.patch(&path, &body).await;
        assert!(r.status().is_client_error());
        answers.push(r.text().await.unwrap());
    }
    // Malformed bodies carrying the canary: broken JSON, a wrong type, a
    // canary as an unknown key. serde's own messages would quote these.
    let raw_bodies = [
        (
            format!("/api/v1/clients/{id}"),
            r#"{"family_name": "Quarrington"#.to_owned(),
        ),
        (
            format!("/api/v1/clients/{id}"),
            r#"{"given_name": "Zebedee",, }"#.to_owned(),
        ),
        (
            "/api/v1/clients/search".to_owned(),
            r#"{"q": "x", "include_archived": "Quarrington"}"#.to_owned(),
        ),
        (
            "/api/v1/clients/search".to_owned(),
            r#"{"Quarrington": "BT9 6AD"}"#.to_owned(),
        ),
        (
            "/api/v1/clients".to_owned(),
            r#"{"given_name": "Zebedee", "address": {"Thistledown": 1}}"#.to_owned(),
        ),
        (medical.clone(), r#"{"allergies": "Canaryseed"}"#.to_owned()),
        (medical.clone(), r#"{"allergies": [{"Canaryseed": 1}]}"#.to_owned()),
    ];
    for (path, body) in raw_bodies {
        let method = if path == medical {
            reqwest::Method::PUT
        } else if path.ends_with(&id) {
            reqwest::Method::PATCH
        } else {
            reqwest::Method::POST
        };
        let r = owner
            .http
            .request(method, t.url(&path))
            .bearer_auth(&owner.token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path} {body}: {}", r.status());
        let text = r.text().await.unwrap();
        assert!(text.contains("\"errors\""), "{text}");
        answers.push(text);
    }
    let r = owner.post("/api/v1/clients", &canary).await;
    assert_eq!(r.status(), 409);
    let r = desk.get(&medical).await;
    assert_eq!(r.status(), 403);
    answers.push(r.text().await.unwrap());
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "canary.quarrington@example.net", "password": "Quarrington", "totp": "1"}),
        )
        .await;
    assert_eq!(r.status(), 401);
    answers.push(r.text().await.unwrap());

    // Pages.
    let web = t.web_login(clinic.owner()).await;
    for path in [
        "/clients",
        &format!("/clients/{id}"),
        &format!("/clients/{id}/medical"),
        &format!("/clients/{id}/access"),
        &format!("/clients/{id}/history"),
        &format!("/clients/{id}/edit"),
    ] {
        assert_eq!(web.get(path).await.status(), 200, "{path}");
    }
    let r = web.submit("/clients", "/clients/search", &[("q", "Quarrington")]).await;
    assert_eq!(r.status(), 303, "a search goes to a sealed token");
    let results = r.headers()["location"].to_str().unwrap().to_owned();
    answers.push(results.clone());
    let r = web.get(&results).await;
    assert_eq!(r.status(), 200, "{results}");
    assert!(r.text().await.unwrap().contains(&id), "the search found the canary");
    let r = web
        .submit(
            &format!("/clients/{id}/edit"),
            &format!("/clients/{id}/edit"),
            &[
                ("given_name", "Zebedee"),
                ("family_name", "Quarrington"),
                ("date_of_birth", "Thistledown"),
                ("postcode", "BT9 6AD"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Quarrington"), "a failed form keeps what was typed");
    let r = web
        .submit(
            &format!("/clients/{id}/medical/edit"),
            &format!("/clients/{id}/medical/edit"),
            &[("allergies", "Canaryseed"), ("notes", &"Quarrington ".repeat(2000))],
        )
        .await;
    assert_eq!(r.status(), 422, "notes too long");

    // A page form that cannot be read gets a fixed page, never serde's text.
    let r = web
        .http
        .post(t.url("/clients/search"))
        .header("content-type", "application/json")
        .body(r#"{"q": "Quarrington"}"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    answers.push(r.text().await.unwrap());

    // Staff: an invitation carrying the canary (refused, then accepted),
    // the staff page showing it, and refused changes.
    let invite = [
        ("display_name", "Zebedee Quarrington"),
        ("email", "Zebedee@@Quarrington"),
        ("role", "practitioner"),
    ];
    let r = web.submit("/staff", "/staff/invite", &invite).await;
    assert_eq!(r.status(), 422);
    let r = web
        .submit(
            "/staff",
            "/staff/invite",
            &[
                ("display_name", "Zebedee Quarrington"),
                ("email", "canary.quarrington@example.net"),
                ("role", "practitioner"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(t.deliver_mail().await, 1, "the invitation went out");
    let r = web.get("/staff").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Zebedee Quarrington"), "invited");
    let desk_staff = clinic.by_role(Role::Receptionist);
    let r = web
        .submit(
            "/staff",
            &format!("/staff/{}/role", desk_staff.id),
            &[("role", "Quarrington")],
        )
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    answers.push(r.text().await.unwrap());
    let r = desk
        .post(
            &format!("/api/v1/staff/{}/totp-reset", clinic.owner().id),
            &json!({"reason": "Quarrington"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    answers.push(r.text().await.unwrap());

    // The audit trail, which records every read of the canary client.
    for path in ["/api/v1/audit", "/api/v1/audit/head"] {
        assert_eq!(owner.get(path).await.status(), 200, "{path}");
    }
    for path in ["/audit", "/audit/head"] {
        assert_eq!(web.get(path).await.status(), 200, "{path}");
    }
    let r = owner.get("/api/v1/audit?cursor=Quarrington").await;
    assert_eq!(r.status(), 422);
    answers.push(r.text().await.unwrap());
    let r = web.get("/audit?cursor=Quarrington").await;
    assert!(r.status().is_client_error(), "{}", r.status());
    answers.push(r.text().await.unwrap());

    // The platform (hosted mode): a clinic whose owner is the canary, a
    // support request and a suspension whose reasons name it, the pages.
    let op = t.operator().await;
    let platform = t.login(&op).await;
    let r = platform
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "Zebedee", "owner_email": "Zebedee@@Quarrington"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    answers.push(r.text().await.unwrap());
    let r = platform
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "Beta Skin", "owner_email": "quarrington.owner@example.net"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let beta: Value = r.json().await.unwrap();
    let beta = beta["id"].as_str().unwrap().to_owned();
    let r = platform
        .post(
            &format!("/api/v1/platform/clinics/{}/support", clinic.id),
            &json!({"reason": "Zebedee Quarrington of BT9 6AD cannot book", "minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let grant: Value = r.json().await.unwrap();
    let grant = grant["id"].as_str().unwrap().to_owned();
    let r = owner.get("/api/v1/support").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("Zebedee Quarrington"),
        "the owner sees the reason"
    );
    let r = web.get("/support").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("Zebedee Quarrington"),
        "the owner's page shows it"
    );
    let r = owner.post(&format!("/api/v1/support/{grant}/grant"), &json!({})).await;
    assert_eq!(r.status(), 204);
    let r = platform
        .post(
            &format!("/api/v1/platform/clinics/{beta}/suspend"),
            &json!({"reason": "Zebedee Quarrington asked us to"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = platform
        .post(
            &format!("/api/v1/platform/clinics/{beta}/resume"),
            &json!({"reason": "Quarrington"}),
        )
        .await;
    assert_eq!(r.status(), 204, "resumed");
    for path in [
        "/api/v1/platform/clinics".to_owned(),
        "/api/v1/platform/support".to_owned(),
        format!("/api/v1/platform/clinics/{}/health", clinic.id),
    ] {
        assert_eq!(platform.get(&path).await.status(), 200, "{path}");
    }
    assert!(t.deliver_mail().await >= 2, "set-up and suspension emails went out");
    let op_web = t.web_login(&op).await;
    let r = op_web.get("/platform").await;
    assert_eq!(r.status(), 200);
    let r = op_web.get(&format!("/platform/clinics/{}/support", clinic.id)).await;
    assert_eq!(r.status(), 200);
    let r = op_web
        .submit(
            "/platform",
            "/platform/clinics",
            &[("name", "Gamma Skin"), ("owner_email", "Zebedee@@Quarrington")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = op_web
        .submit(
            "/platform",
            &format!("/platform/clinics/{}/support", clinic.id),
            &[("reason", "Quarrington"), ("minutes", "600")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = op_web
        .submit(
            "/platform",
            &format!("/platform/clinics/{}/support/{grant}/enter", clinic.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303, "the granted visit starts");
    for path in ["/clients".to_owned(), format!("/clients/{id}")] {
        let r = op_web.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.text().await.unwrap().contains("Support visit to"), "{path}");
    }

    drop(t);
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("request"), "logs were captured: {} bytes", text.len());
    for c in CANARIES {
        assert!(!text.contains(c), "the logs contain canary {c:?}");
        for a in &answers {
            assert!(!a.contains(c), "an error answer contains canary {c:?}: {a}");
        }
    }
}
