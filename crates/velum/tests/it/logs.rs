//! No personal data in logs or error answers (G19, docs/LOGGING.md): seed
//! canary personal data, drive every route that touches it (good and bad
//! input, API and pages), and look for the canary in everything logged.

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
    owner
        .put(
            &medical,
            &json!({"allergies": ["Canaryseed"], "notes": "Quarrington family history"}),
        )
        .await;

    // Good requests.
    for path in [
        format!("/api/v1/clients/{id}"),
        medical.clone(),
        format!("/api/v1/clients/{id}/access-log"),
    ] {
        owner.get(&path).await;
    }
    for q in ["Quarrington", "07400 424242", "canary.quarrington@example.net"] {
        let r = owner.post("/api/v1/clients/search", &json!({"q": q})).await;
        assert_eq!(r.status(), 200);
    }
    // A search in the URL is refused without repeating it.
    let r = owner.get("/api/v1/clients?q=Quarrington").await;
    assert_eq!(r.status(), 400);
    answers.push(r.text().await.unwrap());
    owner
        .patch(
            &format!("/api/v1/clients/{id}"),
            &json!({"address": {"line2": "Thistledown"}}),
        )
        .await;
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
    web.submit("/clients", "/clients/search", &[("q", "Quarrington")]).await;
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
    web.submit(
        &format!("/clients/{id}/medical/edit"),
        &format!("/clients/{id}/medical/edit"),
        &[("allergies", "Canaryseed"), ("notes", &"Quarrington ".repeat(2000))],
    )
    .await;

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
