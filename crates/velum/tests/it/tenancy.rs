//! Tenancy: every route, called with another clinic's ids, answers exactly
//! as for an id that does not exist (DOMAIN F38; ASVS 8.4.1).

use reqwest::Method;
use serde_json::{Value, json};
use velum_testkit::{TestApp, client_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clinics_ids_get_the_same_404_as_ids_that_do_not_exist() {
    let t = TestApp::spawn().await;
    let a = t.clinic("Alpha").await;
    let b = t.clinic("Beta").await;
    let owner_a = t.login(a.owner()).await;
    let owner_b = t.login(b.owner()).await;
    let theirs: Value = owner_b
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    let nobody = uuid::Uuid::now_v7().to_string();

    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/clients/{id}".into(), None),
        (
            Method::PATCH,
            "/api/v1/clients/{id}".into(),
            Some(json!({"given_name": "Mallory"})),
        ),
        (Method::GET, "/api/v1/clients/{id}/medical".into(), None),
        (
            Method::PUT,
            "/api/v1/clients/{id}/medical".into(),
            Some(json!({"allergies": []})),
        ),
        (Method::GET, "/api/v1/clients/{id}/access-log".into(), None),
    ];
    for (method, path, body) in routes {
        let foreign = owner_a
            .send(method.clone(), &path.replace("{id}", &theirs), body.as_ref())
            .await;
        let missing = owner_a
            .send(method.clone(), &path.replace("{id}", &nobody), body.as_ref())
            .await;
        assert_eq!(foreign.status(), 404, "{method} {path}");
        assert_eq!(missing.status(), 404, "{method} {path}");
        let fb = foreign.text().await.unwrap();
        let mb = missing.text().await.unwrap();
        assert_eq!(fb, mb, "{method} {path}: identical answers");
    }
    // Their card is unchanged and their list never shows up in ours.
    let still: Value = owner_b
        .get(&format!("/api/v1/clients/{theirs}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["given_name"], "Amelia");
    let ours: Value = owner_a.get("/api/v1/clients").await.json().await.unwrap();
    assert!(ours["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_another_clinics_ids_as_not_found() {
    let t = TestApp::spawn().await;
    let a = t.clinic("Alpha").await;
    let b = t.clinic("Beta").await;
    let owner_b = t.login(b.owner()).await;
    let theirs: Value = owner_b
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    let nobody = uuid::Uuid::now_v7().to_string();
    let web = t.web_login(a.owner()).await;
    for path in [
        "/clients/{id}",
        "/clients/{id}/edit",
        "/clients/{id}/medical",
        "/clients/{id}/medical/edit",
        "/clients/{id}/marketing",
        "/clients/{id}/history",
        "/clients/{id}/access",
    ] {
        let foreign = web.get(&path.replace("{id}", &theirs)).await;
        let missing = web.get(&path.replace("{id}", &nobody)).await;
        assert_eq!(foreign.status(), 404, "{path}");
        assert_eq!(missing.status(), 404, "{path}");
        assert_eq!(foreign.text().await.unwrap(), missing.text().await.unwrap(), "{path}");
    }
    for path in [
        "/clients/{id}/edit",
        "/clients/{id}/medical/edit",
        "/clients/{id}/marketing",
        "/clients/{id}/archive",
    ] {
        let r = web
            .submit(
                "/clients",
                &path.replace("{id}", &theirs),
                &[("given_name", "Mallory"), ("archived", "true"), ("email", "1")],
            )
            .await;
        assert_eq!(r.status(), 404, "POST {path}");
    }
    let still: Value = owner_b
        .get(&format!("/api/v1/clients/{theirs}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["given_name"], "Amelia");
    assert_eq!(still["archived"], false);
}

/// The search box answers with a redirect to a results page whose URL holds
/// a sealed search, never the query (ASVS 14.2.1), so Back and reload work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_search_results_have_no_personal_data_in_the_url() {
    let t = TestApp::spawn().await;
    let a = t.clinic("Alpha").await;
    let b = t.clinic("Beta").await;
    let owner_a = t.login(a.owner()).await;
    owner_a.post("/api/v1/clients", &client_json(1)).await;
    let web = t.web_login(a.owner()).await;
    let r = web.submit("/clients", "/clients/search", &[("q", "Amelia")]).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/clients?s=") && !location.to_lowercase().contains("amelia"),
        "{location}"
    );
    let page = web.get(&location).await.text().await.unwrap();
    assert!(page.contains("Testcase"), "the results page lists the match");
    // Another member of staff cannot open this search link.
    let other = t.web_login(b.owner()).await;
    assert_eq!(other.get(&location).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_page_needs_the_token_the_server_printed() {
    let t = TestApp::spawn().await;
    let anon = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let page = anon
        .get(t.url("/first-run"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("printed on its console"));
    // A valid CSRF pair (from the sign-in page) and a guessed token.
    let login = anon.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&login);
    assert!(!csrf.is_empty());
    anon.post(t.url("/first-run"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Mine Now"),
            ("owner_email", "attacker@example.org"),
            ("token", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        t.app.clinics().await.unwrap().is_empty(),
        "nobody can claim a new server without the token"
    );
}
