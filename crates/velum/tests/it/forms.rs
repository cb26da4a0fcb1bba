//! Every form a signed-in member of staff posts needs the session's CSRF
//! token (`CsrfForm`): without it, or with a wrong one, the answer is the
//! "This form has expired" page (403) and nothing changes; without a
//! session, the sign-in page.

use velum_core::Role;
use velum_testkit::TestApp;

async fn refused(web: &velum_testkit::Web, t: &TestApp, action: &str, form: &[(&str, &str)]) {
    for csrf in [None, Some("forged")] {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if let Some(c) = csrf {
            fields.push(("csrf", c));
        }
        let r = web.http.post(t.url(action)).form(&fields).send().await.unwrap();
        assert_eq!(r.status(), 403, "{action} with csrf {csrf:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains("This form has expired"), "{action}: {page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signed_in_form_needs_the_sessions_csrf_token() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = clinic.owner();
    let client = t.clients(owner, 1, 17).await[0];
    let other = clinic.by_role(Role::Receptionist);
    let web = t.web_login(owner).await;
    let before = t.app.count_clients(&owner.actor()).await.unwrap();

    let c = format!("/clients/{client}");
    let s = format!("/staff/{}", other.id);
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/clients/search".into(), vec![("q", "a")]),
        (
            "/clients/new".into(),
            vec![
                ("given_name", "Eve"),
                ("family_name", "Forger"),
                ("date_of_birth", "1990-01-01"),
            ],
        ),
        (format!("{c}/edit"), vec![("given_name", "Eve")]),
        (format!("{c}/medical/edit"), vec![("notes", "forged")]),
        (format!("{c}/marketing"), vec![("email", "on")]),
        (format!("{c}/archive"), vec![("archived", "yes")]),
        (
            "/staff/invite".into(),
            vec![("email", "eve@example.com"), ("role", "owner")],
        ),
        (format!("{s}/role"), vec![("role", "owner")]),
        (format!("{s}/status"), vec![("disabled", "yes"), ("confirm", "yes")]),
        (format!("{s}/totp-reset"), vec![("confirm", "yes")]),
        ("/account/password".into(), vec![("current_password", &owner.password)]),
        (
            "/account/recovery-codes".into(),
            vec![("current_password", &owner.password)],
        ),
        ("/leaving".into(), vec![("reason", "forged")]),
        ("/settings".into(), vec![("time_zone", "Europe/Paris")]),
        (format!("/support/{client}"), vec![("decision", "grant")]),
        ("/platform/leave".into(), vec![]),
        ("/logout".into(), vec![]),
    ];
    for (action, form) in &cases {
        refused(&web, &t, action, form).await;
    }
    // Nothing changed, and the session is still signed in.
    assert_eq!(t.app.count_clients(&owner.actor()).await.unwrap(), before);
    assert_eq!(web.get("/clients").await.status(), 200);
    assert_eq!(web.get(&format!("{c}/edit")).await.status(), 200);

    // The operator's forms.
    let operator = t.operator().await;
    let op = t.web_login(&operator).await;
    let k = format!("/platform/clinics/{}", clinic.id);
    for (action, form) in [
        (
            "/platform/clinics".to_owned(),
            vec![("name", "Forged"), ("owner_email", "eve@example.com")],
        ),
        (
            format!("{k}/status"),
            vec![("suspended", "yes"), ("reason", "forged reason")],
        ),
        (format!("{k}/verify"), vec![]),
        (
            format!("{k}/support"),
            vec![("reason", "forged reason here"), ("minutes", "60")],
        ),
        (format!("{k}/support/{client}/enter"), vec![]),
        (
            format!("{k}/offboard"),
            vec![("confirm_name", "Alpha"), ("reason", "forged")],
        ),
        (format!("{k}/archive/delete"), vec![]),
    ] {
        refused(&op, &t, &action, &form).await;
    }
    assert_eq!(op.get("/platform").await.status(), 200);

    // Without a session: the sign-in page, whatever the token.
    let anon = t.client_from(std::net::Ipv4Addr::LOCALHOST, true);
    let r = anon
        .post(t.url("/clients/new"))
        .form(&[("csrf", "forged"), ("given_name", "Eve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
}

/// An id in a page's path that is not a UUID is "not found" (`PageId`),
/// on every page that takes one, the same page as an unknown id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_id_that_does_not_parse_is_not_found() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let operator = t.operator().await;
    let op = t.web_login(&operator).await;
    let k = format!("/platform/clinics/{}", clinic.id);
    for path in [
        "/platform/clinics/nope/support".to_owned(),
        "/platform/clinics/nope/offboard".to_owned(),
        "/platform/clinics/nope/certificate".to_owned(),
        "/platform/clinics/nope/archive".to_owned(),
    ] {
        let r = op.get(&path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.text().await.unwrap().contains("Not found"), "{path}");
    }
    let html = op.get("/platform").await.text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&html);
    for path in [
        "/platform/clinics/nope/status".to_owned(),
        "/platform/clinics/nope/verify".to_owned(),
        "/platform/clinics/nope/support".to_owned(),
        "/platform/clinics/nope/offboard".to_owned(),
        "/platform/clinics/nope/archive/delete".to_owned(),
        "/platform/clinics/nope/support/nope/enter".to_owned(),
        format!("{k}/support/nope/enter"),
    ] {
        let r = op
            .http
            .post(t.url(&path))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.text().await.unwrap().contains("Not found"), "{path}");
    }
    let web = t.web_login(clinic.owner()).await;
    let html = web.get("/support").await.text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&html);
    let r = web
        .http
        .post(t.url("/support/nope"))
        .form(&[("csrf", csrf.as_str()), ("decision", "grant")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for path in ["/clients/nope", "/clients/nope/edit", "/clients/nope/medical"] {
        assert_eq!(web.get(path).await.status(), 404, "{path}");
    }
}
