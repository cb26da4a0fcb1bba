//! Two-step sign-in set-up (DOMAIN F37; ASVS 6.5.x): the secret a set-up
//! page shows belongs to that session only, and is never shown again once
//! the account has confirmed one.

use reqwest::StatusCode;
use velum_app::Clock;
use velum_app::staff::InviteInput;
use velum_testkit::{Clinic, TestApp, Web, code_at};

/// Invite an account through the app and set its password through the
/// emailed link. Returns its email and password; two-step sign-in is not
/// set up yet.
pub async fn invited_account(t: &TestApp, clinic: &Clinic, local: &str) -> (String, String) {
    let email = format!("{local}@{}.test.example", &clinic.id.to_string()[..8]);
    t.app
        .invite_staff(
            &clinic.owner().actor(),
            &InviteInput {
                email: email.clone(),
                display_name: "Rhys Morgan".into(),
                role: "practitioner".into(),
            },
        )
        .await
        .expect("invite");
    t.deliver_mail().await;
    let mail = t
        .smtp
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.contains(&email) && m.contains("/setup/"))
        .expect("set-up mail");
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .expect("link")
        .trim_start_matches(&t.base_url)
        .to_owned();
    let anon = web_client(t);
    let page = anon.get(&link).await.text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&page);
    let password = "saffron-glacier-otter-map".to_owned();
    let r = anon
        .http
        .post(t.url(&link))
        .form(&[
            ("csrf", csrf.as_str()),
            ("display_name", "Rhys Morgan"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "password set");
    (email, password)
}

pub fn web_client(t: &TestApp) -> Web {
    Web {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base_url: t.base_url.clone(),
    }
}

/// The password step of a web sign-in; returns where it sends the browser.
pub async fn password_step(t: &TestApp, email: &str, password: &str) -> (Web, String) {
    let web = web_client(t);
    let r = web
        .submit("/login", "/login", &[("email", email), ("password", password)])
        .await;
    assert_eq!(r.status(), 303, "password step");
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    (web, to)
}

/// The secret a set-up page shows (its spaces removed), or `None` when the
/// page sends the browser elsewhere.
pub async fn shown_secret(web: &Web) -> Option<String> {
    let r = web.get("/login/two-step-setup").await;
    if r.status() != StatusCode::OK {
        return None;
    }
    let html = r.text().await.unwrap();
    let secret = html.split("<code>").nth(1)?.split("</code>").next()?;
    Some(secret.replace(' ', ""))
}

/// POST a code to the set-up form of `web`'s session.
pub async fn confirm(web: &Web, code: &str) -> reqwest::Response {
    // The sign-in page shows the same pre-sign-in CSRF token (a cookie),
    // whatever the set-up page answers.
    let html = web.get("/login").await.text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&html);
    web.http
        .post(format!("{}/login/two-step-setup", web.base_url))
        .form(&[("csrf", csrf.as_str()), ("code", code)])
        .send()
        .await
        .unwrap()
}

/// Item 13 (F37): two set-up sessions show different secrets, each session
/// confirms only its own, and once one is confirmed the other session (and
/// any new one) shows no secret and confirms nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_set_up_session_shows_and_confirms_only_its_own_secret() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let (email, password) = invited_account(&t, &clinic, "rhys").await;
    let (a, to) = password_step(&t, &email, &password).await;
    assert_eq!(to, "/login/two-step-setup");
    let (b, _) = password_step(&t, &email, &password).await;
    let secret_a = shown_secret(&a).await.expect("a secret for session A");
    let secret_b = shown_secret(&b).await.expect("a secret for session B");
    assert_ne!(secret_a, secret_b, "each session gets its own secret");
    assert_eq!(
        shown_secret(&a).await.as_deref(),
        Some(secret_a.as_str()),
        "stable per session"
    );

    // Session A cannot confirm B's secret.
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let r = confirm(&a, &code_at(&secret_b, t.clock.now())).await;
    assert_eq!(r.status(), 422, "another session's secret is refused");
    // It confirms its own.
    let r = confirm(&a, &code_at(&secret_a, t.clock.now())).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");

    // The stale session B now shows nothing and confirms nothing.
    assert_eq!(shown_secret(&b).await, None, "a confirmed account shows no secret");
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let r = confirm(&b, &code_at(&secret_b, t.clock.now())).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login", "sent back to sign in");

    // A new sign-in asks for the code of A's secret, never shows a secret.
    let (c, to) = password_step(&t, &email, &password).await;
    assert_eq!(to, "/login/code");
    assert_eq!(shown_secret(&c).await, None);
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let code = code_at(&secret_a, t.clock.now());
    let r = c.submit("/login/code", "/login/code", &[("code", &code)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
}

/// The set-up link of an invited account, and a browser holding its page.
async fn setup_link(t: &TestApp, clinic: &Clinic, local: &str) -> String {
    let email = format!("{local}@{}.test.example", &clinic.id.to_string()[..8]);
    t.app
        .invite_staff(
            &clinic.owner().actor(),
            &InviteInput {
                email: email.clone(),
                display_name: "Cerys Price".into(),
                role: "receptionist".into(),
            },
        )
        .await
        .expect("invite");
    t.deliver_mail().await;
    t.smtp
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.contains(&email) && m.contains("/setup/"))
        .expect("set-up mail")
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .expect("link")
        .trim_start_matches(&t.base_url)
        .to_owned()
}

/// Item 16 (F37, ASVS 6.2.12): a password from the shipped breached list
/// that zxcvbn alone accepts is refused with an error on the password
/// field, in any letter case, and nothing is saved; a strong random one is
/// accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_password_is_refused_on_the_password_field() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let link = setup_link(&t, &clinic, "cerys").await;
    let web = web_client(&t);
    let page = web.get(&link).await.text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&page);
    for breached in ["7m9n6l1d5p8r3k2l4s6a", "7M9N6L1D5P8R3K2L4S6A"] {
        assert!(
            velum_core::text::NewPassword::parse(breached, &[]).is_ok(),
            "zxcvbn alone would accept it"
        );
        let r = web
            .http
            .post(t.url(&link))
            .form(&[
                ("csrf", csrf.as_str()),
                ("display_name", "Cerys Price"),
                ("password", breached),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{breached}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<p class=\"field-error\">appears in lists of passwords leaked in data breaches"),
            "the error is shown on the password field"
        );
        assert!(
            html.contains("href=\"#password\""),
            "the summary links to the password field"
        );
    }
    let staff = t.app.list_staff(&clinic.owner().actor()).await.unwrap();
    assert!(
        !staff
            .iter()
            .find(|s| s.display_name == "Cerys Price")
            .unwrap()
            .activated,
        "no password was saved"
    );
    let strong = velum_testkit::letters(0x7fff_ffff) + "-Qz8!vT3#mW6^pK1";
    let r = web
        .http
        .post(t.url(&link))
        .form(&[
            ("csrf", csrf.as_str()),
            ("display_name", "Cerys Price"),
            ("password", &strong),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a strong random password is accepted");
}
