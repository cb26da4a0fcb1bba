//! Two-step sign-in set-up (DOMAIN F37; ASVS 6.5.x): the secret a set-up
//! page shows belongs to that session only, and is never shown again once
//! the account has confirmed one.

use reqwest::StatusCode;
use velum_app::Clock;
use velum_app::staff::InviteInput;
use velum_core::Role;
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
    assert_eq!(r.status(), 200, "signed in, with the recovery codes shown once");
    assert_eq!(a.get("/clients").await.status(), 200);

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

/// Set up two-step sign-in for a freshly invited account through the pages;
/// returns its email, password, TOTP secret and the recovery codes the
/// page showed.
async fn enrolled_account(t: &TestApp, clinic: &Clinic, local: &str) -> (String, String, String, Vec<String>) {
    let (email, password) = invited_account(t, clinic, local).await;
    let (web, _) = password_step(t, &email, &password).await;
    let secret = shown_secret(&web).await.expect("a secret");
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let r = confirm(&web, &code_at(&secret, t.clock.now())).await;
    assert_eq!(r.status(), 200, "the recovery codes page");
    let html = r.text().await.unwrap();
    (email, password, secret, codes_in(&html))
}

fn codes_in(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

/// The actions of the clinic's audit trail, newest first, as its owner sees them.
async fn actions(t: &TestApp, clinic: &Clinic) -> Vec<(String, Option<String>)> {
    let page = t.app.audit_trail(&clinic.owner().actor(), None).await.unwrap();
    page.items
        .iter()
        .map(|e| (e.action.as_str().to_owned(), e.detail.clone()))
        .collect()
}

/// Item 14 (F37): ten recovery codes are shown once at set-up; each works
/// once instead of a TOTP code, on the API and on the pages; each use is
/// audited, emailed to the account holder and the count left is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_are_shown_once_and_each_works_once() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let (email, password, _, codes) = enrolled_account(&t, &clinic, "rhys").await;
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);

    // API: a recovery code in place of the TOTP code, once.
    let body = serde_json::json!({"email": email, "password": password, "totp": codes[0]});
    let r = t.post_json("/api/v1/auth/login", &body).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["recovery_codes_left"], 9);
    let r = t.post_json("/api/v1/auth/login", &body).await;
    assert_eq!(r.status(), 401, "a used code fails");
    // An invented code of the right shape fails too.
    let bad = serde_json::json!({"email": email, "password": password, "totp": "aaaa-bbbb-cccc-dddd"});
    assert_eq!(t.post_json("/api/v1/auth/login", &bad).await.status(), 401);

    // Pages: another code, typed in capitals with spaces.
    let (web, to) = password_step(&t, &email, &password).await;
    assert_eq!(to, "/login/code");
    let typed = codes[1].to_uppercase().replace('-', " ");
    let r = web.submit("/login/code", "/login/code", &[("code", &typed)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/recovery-codes?used=1");
    let html = web.get("/account/recovery-codes?used=1").await.text().await.unwrap();
    assert!(html.contains("You signed in with a recovery code"));
    assert!(
        html.contains("<strong>8</strong> unused recovery codes"),
        "the count left is shown"
    );
    // The same code again on the pages fails.
    let (web2, _) = password_step(&t, &email, &password).await;
    let r = web2.submit("/login/code", "/login/code", &[("code", &codes[1])]).await;
    assert_eq!(r.status(), 401);

    // Each use is audited with the count left...
    let used: Vec<Option<String>> = actions(&t, &clinic)
        .await
        .into_iter()
        .filter(|(a, _)| a == "recovery_code_used")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(used, vec![Some("left:8".to_owned()), Some("left:9".to_owned())]);
    // ...and emailed to the account holder.
    t.deliver_mail().await;
    let mails: Vec<String> = t
        .smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains(&email) && m.contains("A recovery code was just used"))
        .collect();
    assert_eq!(mails.len(), 2, "one email per use");
    assert!(mails.iter().any(|m| m.contains("9 of your recovery codes are left")));
    assert!(mails.iter().any(|m| m.contains("8 of your recovery codes are left")));
}

/// Item 14 (F37): the "Lost your phone?" form of the code page sends its
/// own field; a wrong recovery code is reported on that field in its own
/// words, not as a wrong app code, and a right one signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_recovery_code_is_reported_on_the_recovery_code_field() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let (email, password, _, codes) = enrolled_account(&t, &clinic, "rhys").await;
    let (web, to) = password_step(&t, &email, &password).await;
    assert_eq!(to, "/login/code");
    let r = web
        .submit(
            "/login/code",
            "/login/code",
            &[("recovery_code", "aaaa-bbbb-cccc-dddd")],
        )
        .await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r##"<a href="#recovery_code">Recovery code was not accepted"##),
        "{html}"
    );
    assert!(
        !html.contains("Codes change every 30 seconds"),
        "not the app-code message"
    );
    assert!(!html.contains(r##"href="#code""##), "not on the app-code field");
    let r = web
        .submit("/login/code", "/login/code", &[("recovery_code", &codes[0])])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account/recovery-codes?used=1");
}

/// Item 14: a signed-in member of staff makes new recovery codes after
/// entering their password and a TOTP code again; the old codes stop
/// working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_recovery_codes_need_password_and_code_and_replace_the_old() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let (email, password, secret, old) = enrolled_account(&t, &clinic, "rhys").await;
    let (web, _) = password_step(&t, &email, &password).await;
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let code = code_at(&secret, t.clock.now());
    let r = web.submit("/login/code", "/login/code", &[("code", &code)]).await;
    assert_eq!(r.headers()["location"], "/");
    // A wrong password or code is refused on its field.
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let code = code_at(&secret, t.clock.now());
    let r = web
        .submit(
            "/account/recovery-codes",
            "/account/recovery-codes",
            &[("current_password", "not-my-password-99"), ("code", &code)],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("is not your current password"));
    let r = web
        .submit(
            "/account/recovery-codes",
            "/account/recovery-codes",
            &[("current_password", &password), ("code", &old[0])],
        )
        .await;
    assert_eq!(r.status(), 422, "a recovery code cannot make new recovery codes");
    let r = web
        .submit(
            "/account/recovery-codes",
            "/account/recovery-codes",
            &[("current_password", &password), ("code", &code)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let new = codes_in(&r.text().await.unwrap());
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    assert!(
        actions(&t, &clinic)
            .await
            .iter()
            .any(|(a, _)| a == "recovery_codes_regenerated")
    );
    let body = serde_json::json!({"email": email, "password": password, "totp": old[1]});
    assert_eq!(
        t.post_json("/api/v1/auth/login", &body).await.status(),
        401,
        "old codes end"
    );
    let body = serde_json::json!({"email": email, "password": password, "totp": new[0]});
    assert_eq!(
        t.post_json("/api/v1/auth/login", &body).await.status(),
        200,
        "new ones work"
    );
}

/// Item 14 (F38): an owner or manager resets another member of staff's
/// two-step sign-in (API and staff page): their sessions end, they are
/// emailed, and they set it up again at their next sign-in; a manager
/// cannot reset an owner's, nobody can reset their own, other roles
/// cannot reset anyone's, and every refusal is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_managers_reset_anothers_two_step_sign_in_never_their_own() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let other = t.clinic("Beta").await;
    let owner = clinic.owner();
    let manager = clinic.by_role(Role::Manager);
    let practitioner = clinic.by_role(Role::Practitioner);
    let victim_api = t.login(practitioner).await;
    let owner_api = t.login(owner).await;
    let manager_api = t.login(manager).await;
    let reset = |id: velum_core::StaffId| format!("/api/v1/staff/{id}/totp-reset");

    // Refusals, each audited.
    assert_eq!(
        owner_api.post(&reset(owner.id), &serde_json::json!({})).await.status(),
        403
    );
    assert_eq!(
        manager_api
            .post(&reset(manager.id), &serde_json::json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(
        manager_api
            .post(&reset(owner.id), &serde_json::json!({}))
            .await
            .status(),
        403
    );
    let receptionist = t.login(clinic.by_role(Role::Receptionist)).await;
    assert_eq!(
        receptionist
            .post(&reset(practitioner.id), &serde_json::json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(
        owner_api
            .post(&reset(other.owner().id), &serde_json::json!({}))
            .await
            .status(),
        404,
        "another clinic's account is not found"
    );
    let denials = actions(&t, &clinic)
        .await
        .into_iter()
        .filter(|(a, d)| a == "denied" && d.as_deref().is_some_and(|d| d.contains("reset_totp")))
        .count();
    assert_eq!(
        denials, 4,
        "own (owner), own (manager), owner's (by a manager), another clinic's (F38)"
    );
    // The owner still signs in with their own code: nothing changed.
    let _ = t.login(owner).await;

    // The owner resets the practitioner's through the API.
    assert_eq!(
        owner_api
            .post(&reset(practitioner.id), &serde_json::json!({}))
            .await
            .status(),
        204
    );
    assert_eq!(
        victim_api.get("/api/v1/clients").await.status(),
        401,
        "their sessions ended"
    );
    let (_, to) = password_step(&t, &practitioner.email, &practitioner.password).await;
    assert_eq!(to, "/login/two-step-setup", "they set it up again");
    let code = t.fresh_code(practitioner);
    let body = serde_json::json!({"email": practitioner.email, "password": practitioner.password, "totp": code});
    assert_eq!(
        t.post_json("/api/v1/auth/login", &body).await.status(),
        401,
        "the old secret is gone"
    );
    assert!(
        actions(&t, &clinic)
            .await
            .iter()
            .any(|(a, d)| a == "totp_reset" && d.as_deref().is_some_and(|d| d.contains(&practitioner.id.to_string())))
    );
    t.deliver_mail().await;
    assert!(
        t.smtp
            .messages()
            .iter()
            .any(|m| m.contains(&practitioner.email) && m.contains("has reset two-step sign-in")),
        "the person is told by email"
    );

    // A manager resets a receptionist's from the staff page.
    let web = t.web_login(manager).await;
    let target = clinic.by_role(Role::Receptionist);
    let page = web.get("/staff").await.text().await.unwrap();
    assert!(page.contains(&format!("/staff/{}/totp-reset", target.id)));
    assert!(
        !page.contains(&format!("/staff/{}/totp-reset", owner.id)),
        "no button for an owner"
    );
    assert!(
        !page.contains(&format!("/staff/{}/totp-reset", manager.id)),
        "nor for oneself"
    );
    let path = format!("/staff/{}/totp-reset", target.id);
    let r = web.submit("/staff", &path, &[("confirm", "yes")]).await;
    assert_eq!(r.status(), 200);
    let (_, to) = password_step(&t, &target.email, &target.password).await;
    assert_eq!(to, "/login/two-step-setup");
}
