//! Hosted mode through the JSON API: operators list, create, suspend and
//! resume clinics, verify one clinic's audit chain, and ask for support
//! access; clinic owners decide. Wrong roles get 403, other clinics' grants
//! 404, bad input names the field and changes nothing. And a suspended
//! clinic's staff are told so, but only after a correct password.

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection};
use velum_app::DataLocation;
use velum_app::platform::platform_id;
use velum_core::{Actor, ClinicId, Role};
use velum_testkit::{Api, Staff, TestApp, client_json, test_master_key};

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

/// The actions in a clinic's trail, read by its owner.
async fn actions(owner: &Api) -> Vec<(String, String)> {
    let trail = json_of(owner.get("/api/v1/audit").await).await;
    trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The platform's own chain, read as an auditor of it would (no staff role
/// can read it through the app's routes).
async fn platform_actions(t: &TestApp, op: &Staff) -> Vec<(String, String)> {
    let reader = Actor::Staff(velum_core::StaffActor {
        staff_id: op.id,
        clinic_id: platform_id(),
        role: Role::Auditor,
        source: None,
    });
    t.app
        .audit_trail(&reader, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.action.as_str().to_owned(), e.detail.unwrap_or_default()))
        .collect()
}

/// Change one stored audit event behind the app's back, on either backend.
async fn tamper(t: &TestApp, clinic: ClinicId, seq: i64) {
    const SQL: &str = "UPDATE audit_events SET detail = 'edited' WHERE clinic_id = $1 AND seq = $2";
    match &t.location {
        DataLocation::SqliteFile(path) => {
            let key = test_master_key().sqlcipher_key();
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .pragma("key", format!("\"{}\"", key.expose_secret()))
                .connect()
                .await
                .unwrap();
            let n = sqlx::query(SQL)
                .bind(clinic.as_uuid())
                .bind(seq)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(n, 1);
            conn.close().await.unwrap();
        }
        DataLocation::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let n = sqlx::query(SQL)
                .bind(clinic.as_uuid())
                .bind(seq)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(n, 1);
            conn.close().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_create_suspend_and_resume_clinics() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha Aesthetics").await;
    let ids = t.clients(alpha.owner(), 3, 7).await;
    let owner = t.login(alpha.owner()).await;
    let card = json_of(owner.get(&format!("/api/v1/clients/{}", ids[0])).await).await;
    let surname = card["family_name"].as_str().unwrap().to_owned();
    let op = t.operator().await;
    let api = t.login(&op).await;

    // The list: counts and activity, never a client's data.
    let r = api.get("/api/v1/platform/clinics").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&surname), "no client data in the list");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["next_cursor"], Value::Null);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the platform's own row is not a clinic");
    let a = &items[0];
    assert_eq!(a["id"], alpha.id.to_string());
    assert_eq!(a["name"], "Alpha Aesthetics");
    assert_eq!(a["status"], "active");
    assert_eq!(a["kind"], "clinic");
    assert_eq!(a["usage"]["clients"], 3);
    assert_eq!(a["usage"]["active_staff"], Role::ALL.len());
    assert!(a["usage"]["audit_events"].as_i64().unwrap() > 3);
    assert!(a["usage"]["last_activity"].is_string());

    // Clinic staff, even the owner, are refused every operator route, and
    // the refusal is in their clinic's trail.
    let alpha_path = format!("/api/v1/platform/clinics/{}", alpha.id);
    let refused = [
        owner.get("/api/v1/platform/clinics").await,
        owner
            .post(
                "/api/v1/platform/clinics",
                &json!({"name": "Sneaky", "owner_email": "x@sneaky.example"}),
            )
            .await,
        owner.post(&format!("{alpha_path}/suspend"), &json!({})).await,
        owner.post(&format!("{alpha_path}/resume"), &json!({})).await,
        owner.get(&format!("{alpha_path}/health")).await,
        owner
            .post(
                &format!("{alpha_path}/support"),
                &json!({"reason": "Looking at our own clinic", "minutes": 30}),
            )
            .await,
        owner.get("/api/v1/platform/support").await,
    ];
    for r in refused {
        assert_eq!(r.status(), 403, "{}", r.url());
    }
    assert_eq!(t.app.clinics().await.unwrap().len(), 1, "nothing created");
    assert!(
        actions(&owner)
            .await
            .iter()
            .any(|(a, d)| a == "denied" && d == "platform")
    );

    // Bad input names every field at fault and creates nothing.
    let r = api
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "", "owner_email": "not-an-email"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e = json_of(r).await;
    assert_eq!(fields(&e), ["name", "owner_email"]);
    assert!(!e.to_string().contains("not-an-email"), "values never echoed");
    let r = api.post("/api/v1/platform/clinics", &json!({})).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        fields(&json_of(r).await),
        ["name", "owner_email"],
        "missing fields named"
    );
    let r = api
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "Beta", "owner_email": "owner@beta.example", "plan": "gold"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&json_of(r).await), ["plan"]);
    assert_eq!(t.app.clinics().await.unwrap().len(), 1);

    // A clinic: ids only; the owner's one-time set-up link goes to the
    // owner's email, never to the operator.
    let r = api
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "Beta Skin", "owner_email": "owner@beta.example"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created = json_of(r).await;
    let beta_id = created["id"].as_str().unwrap().to_owned();
    assert!(created["owner_id"].is_string());
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "owner_id"], "ids only: {created}");
    assert!(!created.to_string().contains("/setup/"));
    assert_eq!(t.deliver_mail().await, 1);
    let mail = t.smtp.messages().pop().expect("the owner's set-up email");
    assert!(mail.contains("owner@beta.example"), "sent to the owner: {mail}");
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .expect("the link is in the owner's email")
        .to_owned();
    assert!(link.starts_with(&format!("{}/setup/", t.base_url)), "{link}");
    assert_eq!(t.http.get(&link).send().await.unwrap().status(), 200, "the link works");
    let list = json_of(api.get("/api/v1/platform/clinics").await).await;
    let beta = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == beta_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(beta["usage"]["clients"], 0);
    assert_eq!(beta["usage"]["active_staff"], 1);
    // The same owner email again is a conflict on that field.
    let r = api
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "Gamma", "owner_email": "owner@beta.example"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(fields(&json_of(r).await), ["owner_email"]);
    // Another clinic's name, in other letter case, is a conflict on the name.
    let r = api
        .post(
            "/api/v1/platform/clinics",
            &json!({"name": "beta skin ", "owner_email": "someone@new.example"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(fields(&json_of(r).await), ["name"]);
    assert_eq!(t.app.clinics().await.unwrap().len(), 2);

    // Suspend needs a reason; it is emailed to the owner. The owner's
    // session ends; the list says so; resume.
    let r = api.post(&format!("{alpha_path}/suspend"), &json!({})).await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&json_of(r).await), ["reason"]);
    let reason = json!({"reason": "Invoices unpaid since March"});
    t.deliver_mail().await;
    let mails_before = t.smtp.messages().len();
    let r = api.post(&format!("{alpha_path}/suspend"), &reason).await;
    assert_eq!(r.status(), 204);
    t.deliver_mail().await;
    let mail = t.smtp.messages();
    assert_eq!(mail.len(), mails_before + 1);
    let notice = mail.last().unwrap();
    assert!(
        notice.contains(&alpha.owner().email) && notice.contains("Invoices unpaid since March"),
        "{notice}"
    );
    assert_eq!(owner.get("/api/v1/clients").await.status(), 401, "session ended");
    let list = json_of(api.get("/api/v1/platform/clinics").await).await;
    let a = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == alpha.id.to_string())
        .unwrap()
        .clone();
    assert_eq!(a["status"], "suspended");
    assert_eq!(
        api.post(&format!("{alpha_path}/resume"), &json!({})).await.status(),
        204
    );
    let owner = t.login(alpha.owner()).await;
    let trail = actions(&owner).await;
    assert!(trail.iter().any(|(a, _)| a == "clinic_suspended"));
    assert!(trail.iter().any(|(a, _)| a == "clinic_resumed"));

    // Unknown clinics are 404 (the platform's own row too); a malformed id
    // is 400 naming `id`.
    let unknown = ClinicId::new();
    for path in [
        format!("/api/v1/platform/clinics/{unknown}/suspend"),
        format!("/api/v1/platform/clinics/{}/suspend", platform_id()),
    ] {
        assert_eq!(api.post(&path, &reason).await.status(), 404, "{path}");
    }
    assert_eq!(
        api.get(&format!("/api/v1/platform/clinics/{unknown}/health"))
            .await
            .status(),
        404
    );
    let r = api
        .post("/api/v1/platform/clinics/not-a-uuid/suspend", &json!({}))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&json_of(r).await), ["id"]);

    // Every operator action is in the platform's chain.
    let platform = platform_actions(&t, &op).await;
    assert!(platform.iter().any(|(a, _)| a == "clinic_suspended"));
    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clinic_health_verifies_one_chain_and_finds_tampering() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let beta = t.clinic("Beta").await;
    let owner = t.login(alpha.owner()).await;
    let c = json_of(owner.post("/api/v1/clients", &client_json(1)).await).await;
    let id = c["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        owner.get(&format!("/api/v1/clients/{id}")).await;
    }
    let op = t.operator().await;
    let api = t.login(&op).await;
    let health = format!("/api/v1/platform/clinics/{}/health", alpha.id);

    // Intact: every event checked, up to the head.
    let r = api.get(&health).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("Amelia") && !text.contains(&id), "no event contents");
    let h: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(h["chain"]["intact"], true);
    assert_eq!(h["chain"]["first_break"], Value::Null);
    let head = h["chain"]["head_seq"].as_i64().unwrap();
    assert!(head > 5);
    assert_eq!(h["chain"]["events"].as_i64(), Some(head));
    assert_eq!(h["clinic"]["usage"]["audit_events"].as_i64(), Some(head));
    assert_eq!(h["clinic"]["usage"]["clients"], 1);
    let hash = h["chain"]["head_hash"].as_str().unwrap();
    assert!(
        hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );

    // Tampered: the first broken event is named; the other clinic is not
    // affected.
    tamper(&t, alpha.id, 3).await;
    let h = json_of(api.get(&health).await).await;
    assert_eq!(h["chain"]["intact"], false);
    assert_eq!(h["chain"]["first_break"]["seq"], 3);
    assert_eq!(h["chain"]["first_break"]["reason"], "contents do not match its hash");
    assert_eq!(h["chain"]["events"], 3);
    let other = json_of(api.get(&format!("/api/v1/platform/clinics/{}/health", beta.id)).await).await;
    assert_eq!(other["chain"]["intact"], true);

    // The page: "Verify chain" on the clinic's row shows the same result.
    let web = t.web_login(&op).await;
    let page = web.get("/platform").await.text().await.unwrap();
    let verify = format!("/platform/clinics/{}/verify", alpha.id);
    assert!(page.contains(&verify), "a Verify chain form per clinic");
    let r = web.submit("/platform", &verify, &[]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("The chain is broken") && html.contains("First break at event 3"),
        "{html}"
    );
    assert!(!html.contains("Amelia"));
    let r = web
        .submit("/platform", &format!("/platform/clinics/{}/verify", beta.id), &[])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Intact:"));
    // Without the form's CSRF token nothing is verified.
    let r = web
        .http
        .post(t.url(&verify))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Each verification is recorded in the platform's chain, with counts
    // and the result only.
    let recorded: Vec<String> = platform_actions(&t, &op)
        .await
        .into_iter()
        .filter(|(a, _)| a == "clinic_chain_verified")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(recorded.len(), 5, "{recorded:?}");
    assert!(
        recorded
            .iter()
            .any(|d| d.contains(&format!("clinic:{}", alpha.id)) && d.ends_with("result:broken first_break:3")),
        "{recorded:?}"
    );
    assert!(recorded.iter().any(|d| d.ends_with("result:intact")));

    // Clinic staff cannot verify; the operator has no clinic's audit trail.
    let owner_web = t.web_login(alpha.owner()).await;
    let r = owner_web.submit("/audit", &verify, &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(api.get("/api/v1/audit").await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_grants_through_the_api() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let beta = t.clinic("Beta").await;
    let op = t.operator().await;
    let api = t.login(&op).await;
    let ask = format!("/api/v1/platform/clinics/{}/support", alpha.id);

    // Bad input: both fields named, nothing asked.
    let r = api.post(&ask, &json!({"reason": "help", "minutes": 600})).await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&json_of(r).await), ["reason", "minutes"]);
    let r = api
        .post(&ask, &json!({"reason": "A real reason to look", "minutes": 2}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&json_of(r).await), ["minutes"]);
    let r = api
        .post(&ask, &json!({"reason": "A real reason to look", "minutes": "sixty"}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&json_of(r).await), ["minutes"]);
    let r = api.post(&ask, &json!({"minutes": 30})).await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&json_of(r).await), ["reason"]);
    let r = api
        .post(
            &format!("/api/v1/platform/clinics/{}/support", ClinicId::new()),
            &json!({"reason": "Booking page shows an error", "minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let mine = json_of(api.get("/api/v1/platform/support").await).await;
    assert!(mine["items"].as_array().unwrap().is_empty(), "nothing asked");

    // A request, with the default length.
    let r = api
        .post(&ask, &json!({"reason": "Booking page shows an error for one card"}))
        .await;
    assert_eq!(r.status(), 201);
    let grant = json_of(r).await["id"].as_str().unwrap().to_owned();
    let mine = json_of(api.get("/api/v1/platform/support").await).await;
    let g = &mine["items"][0];
    assert_eq!(g["id"], grant.as_str());
    assert_eq!(g["clinic_id"], alpha.id.to_string());
    assert_eq!(g["clinic_name"], "Alpha");
    assert_eq!(g["state"], "requested");
    assert_eq!(g["minutes"], 60);
    assert_eq!(g["actions"], Value::Null);

    // Who may decide: this clinic's owner only. Another clinic's owner gets
    // 404; a manager and the operator get 403.
    let beta_owner = t.login(beta.owner()).await;
    let decide = |d: &str| format!("/api/v1/support/{grant}/{d}");
    for d in ["grant", "refuse", "revoke"] {
        assert_eq!(beta_owner.post(&decide(d), &json!({})).await.status(), 404, "{d}");
    }
    assert!(
        json_of(beta_owner.get("/api/v1/support").await).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let manager = t.login(alpha.by_role(Role::Manager)).await;
    assert_eq!(manager.get("/api/v1/support").await.status(), 403);
    assert_eq!(manager.post(&decide("grant"), &json!({})).await.status(), 403);
    assert_eq!(api.get("/api/v1/support").await.status(), 403);
    assert_eq!(api.post(&decide("grant"), &json!({})).await.status(), 403);
    let r = beta_owner.post("/api/v1/support/nope/grant", &json!({})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(fields(&json_of(r).await), ["id"]);

    // The owner sees it, grants it, and ends it early.
    let owner = t.login(alpha.owner()).await;
    let list = json_of(owner.get("/api/v1/support").await).await;
    assert_eq!(list["items"][0]["reason"], "Booking page shows an error for one card");
    assert_eq!(list["items"][0]["state"], "requested");
    assert_eq!(owner.post(&decide("grant"), &json!({})).await.status(), 204);
    let list = json_of(owner.get("/api/v1/support").await).await;
    assert_eq!(list["items"][0]["state"], "granted");
    assert!(list["items"][0]["expires_at"].is_string());
    assert_eq!(list["items"][0]["actions"], 0);
    let r = owner.post(&decide("grant"), &json!({})).await;
    assert_eq!(r.status(), 409, "decided already");
    assert_eq!(fields(&json_of(r).await), ["grant"]);
    assert_eq!(owner.post(&decide("revoke"), &json!({})).await.status(), 204);
    let mine = json_of(api.get("/api/v1/platform/support").await).await;
    assert_eq!(mine["items"][0]["state"], "revoked");

    // A second request, refused; a refused grant cannot be ended.
    let r = api
        .post(
            &ask,
            &json!({"reason": "Check the fix for the booking page", "minutes": 15}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let second = json_of(r).await["id"].as_str().unwrap().to_owned();
    let refuse = format!("/api/v1/support/{second}/refuse");
    assert_eq!(owner.post(&refuse, &json!({})).await.status(), 204);
    assert_eq!(
        owner
            .post(&format!("/api/v1/support/{second}/revoke"), &json!({}))
            .await
            .status(),
        409
    );
    let mine = json_of(api.get("/api/v1/platform/support").await).await;
    assert_eq!(mine["items"][0]["id"], second.as_str());
    assert_eq!(mine["items"][0]["state"], "denied");

    let trail: Vec<String> = actions(&owner).await.into_iter().map(|(a, _)| a).collect();
    for expected in [
        "support_requested",
        "support_granted",
        "support_revoked",
        "support_denied",
    ] {
        assert!(trail.iter().any(|a| a == expected), "{expected} in {trail:?}");
    }
    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_clinic_says_so_only_after_a_correct_password() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let op = t.operator().await;
    let api = t.login(&op).await;
    let path = format!("/api/v1/platform/clinics/{}", alpha.id);
    let reason = json!({"reason": "Invoices unpaid since March"});
    assert_eq!(api.post(&format!("{path}/suspend"), &reason).await.status(), 204);
    let owner = alpha.owner();
    let login = |password: &str, totp: String| json!({"email": owner.email, "password": password, "totp": totp});

    // A wrong password, or an unknown email: the one generic answer.
    for body in [
        login("not-the-password-at-all", t.fresh_code(owner)),
        json!({"email": "nobody@alpha.test.example", "password": owner.password, "totp": "123456"}),
    ] {
        let r = t.post_json("/api/v1/auth/login", &body).await;
        assert_eq!(r.status(), 401);
        let text = r.text().await.unwrap();
        assert!(!text.contains("suspended") && !text.contains("code\""), "{text}");
    }

    // The right password: told why, with a code a program can check
    // (before the TOTP code is even looked at).
    for code in [t.fresh_code(owner), "000000".to_owned()] {
        let r = t.post_json("/api/v1/auth/login", &login(&owner.password, code)).await;
        assert_eq!(r.status(), 403);
        let e = json_of(r).await;
        assert_eq!(e["code"], "clinic_suspended");
        assert_eq!(
            e["errors"][0]["message"],
            "This clinic's account is suspended. Contact your provider."
        );
        assert!(e.get("token").is_none());
    }

    // The pages: the same rule.
    let web = velum_testkit::Web {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base_url: t.base_url.clone(),
    };
    let r = web
        .submit(
            "/login",
            "/login",
            &[("email", &owner.email), ("password", "not-the-password-at-all")],
        )
        .await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(html.contains("Email or password not recognised.") && !html.contains("suspended"));
    let r = web
        .submit(
            "/login",
            "/login",
            &[("email", &owner.email), ("password", &owner.password)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("This clinic&#39;s account is suspended. Contact your provider."),
        "{html}"
    );
    let r = web.get("/clients").await;
    assert_eq!(r.status(), 303, "no session was issued");
    assert_eq!(r.headers()["location"], "/login");

    // A correct password is no guess: many refusals do not lock the account.
    for _ in 0..10 {
        let r = t
            .post_json("/api/v1/auth/login", &login(&owner.password, t.fresh_code(owner)))
            .await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(api.post(&format!("{path}/resume"), &json!({})).await.status(), 204);
    let owner_api = t.login(owner).await;
    let refusals = actions(&owner_api)
        .await
        .into_iter()
        .filter(|(a, d)| a == "sign_in_failed" && d == "clinic_suspended")
        .count();
    assert_eq!(refusals, 13, "every refusal is audited");
    let wrong = actions(&owner_api)
        .await
        .into_iter()
        .filter(|(a, d)| a == "sign_in_failed" && d == "wrong_password")
        .count();
    assert_eq!(wrong, 2);
}
