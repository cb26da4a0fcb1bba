//! Clinic settings through the API and the page: the owner changes them,
//! a manager reads them, others are refused; every bad field is named and
//! nothing is changed on bad input; a change is audited by field name only.

use serde_json::{Value, json};
use velum_core::Role;
use velum_core::settings::ClinicSettings;
use velum_testkit::TestApp;

fn good() -> Value {
    json!({
        "time_zone": "Europe/Dublin",
        "public_slug": "Bright-Skin-Leeds",
        "display_name": "Bright Skin",
        "address": {"line1": "1 High Street", "town": "Leeds", "postcode": "ls1 4ap"},
        "regulator": "cqc",
        "registration_number": "1-123456789",
        "cancellation_notice_hours": 48,
        "reminder_lead_hours": 24,
        // DOMAIN F34: longer than the 8-year minimum is allowed.
        "clinical_retention_years": 10
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_reads_and_replaces_settings_through_the_api() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;

    let r = api.get("/api/v1/settings").await;
    assert_eq!(r.status(), 200);
    let defaults: Value = r.json().await.unwrap();
    assert_eq!(defaults["time_zone"], "Europe/London");
    assert_eq!(defaults["cancellation_notice_hours"], 24);
    assert_eq!(defaults["public_slug"], Value::Null);
    assert_eq!(defaults["clinical_retention_years"], Value::Null);

    // Bad input: every bad field named, nothing changed.
    let r = api
        .put(
            "/api/v1/settings",
            &json!({
                "time_zone": "Mars/Olympus_Mons",
                "public_slug": "no spaces",
                "cancellation_notice_hours": -1,
                "reminder_lead_hours": 24,
                // DOMAIN F34: shorter than the minimum is refused.
                "clinical_retention_years": 7,
                "regulator": "ofsted",
                "registration_number": "1-2"
            }),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "time_zone",
            "public_slug",
            "regulator",
            "cancellation_notice_hours",
            "clinical_retention_years"
        ]
    );
    let after: Value = api.get("/api/v1/settings").await.json().await.unwrap();
    assert_eq!(after, defaults, "nothing changed");

    let r = api.put("/api/v1/settings", &good()).await;
    assert_eq!(r.status(), 200);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["public_slug"], "bright-skin-leeds");
    assert_eq!(saved["address"]["postcode"], "LS1 4AP");
    assert_eq!(saved["time_zone"], "Europe/Dublin");
    let got: Value = api.get("/api/v1/settings").await.json().await.unwrap();
    assert_eq!(got, saved);

    // Audited with the names of the fields changed, never their values.
    let trail: Value = api.get("/api/v1/audit").await.json().await.unwrap();
    let event = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "settings_changed")
        .expect("settings_changed event");
    let detail = event["detail"].as_str().unwrap();
    assert!(detail.starts_with("fields:") && detail.contains("time_zone") && detail.contains("public_slug"));
    assert!(!detail.contains("Dublin") && !detail.contains("bright"), "{detail}");

    // Another clinic cannot take the slug: 409 on the field, nothing changed.
    let beta = t.clinic("Beta").await;
    let other = t.login(beta.owner()).await;
    let r = other.put("/api/v1/settings", &good()).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "public_slug");
    let theirs: Value = other.get("/api/v1/settings").await.json().await.unwrap();
    assert_eq!(theirs["time_zone"], "Europe/London");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_read_settings_and_only_owners_change_them() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let manager = t.login(clinic.by_role(Role::Manager)).await;
    assert_eq!(manager.get("/api/v1/settings").await.status(), 200);
    assert_eq!(manager.put("/api/v1/settings", &good()).await.status(), 403);
    for role in [Role::Practitioner, Role::Receptionist, Role::Marketing, Role::Auditor] {
        let api = t.login(clinic.by_role(role)).await;
        assert_eq!(api.get("/api/v1/settings").await.status(), 403, "{role}");
        assert_eq!(api.put("/api/v1/settings", &good()).await.status(), 403, "{role}");
    }
    let owner = clinic.owner().actor();
    assert_eq!(t.app.clinic_settings(&owner).await.unwrap(), ClinicSettings::default());

    // The page: a manager sees the values but no form to save.
    let web = t.web_login(clinic.by_role(Role::Manager)).await;
    let r = web.get("/settings").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Europe/London") && !html.contains("Save settings"));
    let r = web
        .submit("/settings", "/settings", &[("time_zone", "Europe/Paris")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(t.app.clinic_settings(&owner).await.unwrap(), ClinicSettings::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_changes_settings_on_the_page_and_errors_keep_what_was_typed() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = clinic.owner().actor();
    let web = t.web_login(clinic.owner()).await;
    let home = web.get("/clients").await.text().await.unwrap();
    assert!(
        home.contains("href=\"/settings\""),
        "linked from the owner's navigation"
    );

    let bad = [
        ("time_zone", "Europe/Narnia"),
        ("public_slug", "Bright Skin!"),
        ("display_name", "Bright Skin"),
        ("line1", "1 High Street"),
        ("town", ""),
        ("postcode", "LS1 4AP"),
        ("cancellation_notice_hours", "48"),
        ("reminder_lead_hours", "24"),
        ("financial_retention_years", "5"),
    ];
    let r = web.submit("/settings", "/settings", &bad).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("There is a problem"));
    for label in ["Time zone", "Public address name", "Town", "Invoices and payments"] {
        assert!(html.contains(label), "{label} named");
    }
    assert!(html.contains("href=\"#financial_retention_years\""));
    assert!(html.contains("minimum of 6 years"));
    assert!(
        html.contains("value=\"Europe/Narnia\"") && html.contains("value=\"Bright Skin!\""),
        "what was typed is kept"
    );
    assert_eq!(
        t.app.clinic_settings(&owner).await.unwrap(),
        ClinicSettings::default(),
        "nothing changed"
    );

    let good = [
        ("time_zone", "Europe/London"),
        ("public_slug", "bright-skin"),
        ("display_name", "Bright Skin"),
        ("line1", "1 High Street"),
        ("town", "Leeds"),
        ("postcode", "ls1 4ap"),
        ("regulator", "cqc"),
        ("registration_number", "1-123456789"),
        ("cancellation_notice_hours", "48"),
        ("reminder_lead_hours", "0"),
        ("clinical_retention_years", ""),
        ("financial_retention_years", "7"),
    ];
    let r = web.submit("/settings", "/settings", &good).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Settings saved.") && html.contains("value=\"LS1 4AP\""));
    let s = t.app.clinic_settings(&owner).await.unwrap();
    assert_eq!(s.public_slug.as_ref().unwrap().as_str(), "bright-skin");
    assert_eq!(s.reminder_lead.hours(), 0);
    assert_eq!(s.financial_retention_years(), 7);
    assert_eq!(s.clinical_retention_years(), 8);
}

/// Item 4: the clinic's time zone decides how its pages show times (a
/// card's "created"), not Europe/London.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_times_in_the_clinics_time_zone() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = clinic.owner();
    let client = t.clients(owner, 1, 7).await[0];
    let show = |zone: &str| {
        velum_app::Clock::now(&*t.clock)
            .to_zoned(jiff::tz::TimeZone::get(zone).unwrap())
            .strftime("%-d %b %Y, %H:%M")
            .to_string()
    };
    let (london, kiritimati) = (show("Europe/London"), show("Pacific/Kiritimati"));
    assert_ne!(london, kiritimati);

    let web = t.web_login(owner).await;
    let page = web.get(&format!("/clients/{client}")).await.text().await.unwrap();
    assert!(page.contains(&london), "London until the owner chooses");

    let api = t.login(owner).await;
    let mut s = good();
    s["time_zone"] = json!("Pacific/Kiritimati");
    assert_eq!(api.put("/api/v1/settings", &s).await.status(), 200);
    let page = web.get(&format!("/clients/{client}")).await.text().await.unwrap();
    assert!(page.contains(&kiritimati), "the card shows Kiritimati time");
    assert!(!page.contains(&london));
}
