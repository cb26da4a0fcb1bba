//! Staff sign-in (DOMAIN F37; ASVS 6.x, 7.x): lockout, TOTP replay, session
//! lifetimes, reset by email, and answers that never say what was wrong.

use std::net::Ipv4Addr;

use jiff::SignedDuration;
use serde_json::{Value, json};
use velum_app::Clock;
use velum_core::Role;
use velum_testkit::{TestApp, code_at, with_db};

/// The newest page of a clinic's audit trail as (action, detail).
async fn trail(t: &TestApp, owner: &velum_testkit::Staff) -> Vec<(String, String)> {
    t.app
        .audit_trail(&owner.actor(), None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.action.as_str().to_owned(), e.detail.unwrap_or_default()))
        .collect()
}

const GUESSER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 66);
const REAL_USER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 77);

/// Sends 50 wrong passwords for `s` from the guessing address: the first
/// ten are checked (401), the rest refused unchecked (429 with Retry-After).
async fn guess_fifty_times(t: &TestApp, s: &velum_testkit::Staff) {
    let guesser = t.client_from(GUESSER, false);
    for i in 0..50 {
        let r = guesser
            .post(t.url("/api/v1/auth/login"))
            .json(&json!({"email": s.email, "password": format!("wrong-password-{i}"), "totp": "000000"}))
            .send()
            .await
            .unwrap();
        if i < 10 {
            assert_eq!(r.status(), 401, "attempt {i}");
        } else {
            assert_eq!(r.status(), 429, "attempt {i}");
            let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(wait > 0 && wait <= 15 * 60, "{wait}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["code"], "too_many_attempts");
        }
    }
}

/// F37: guessing cannot lock the real user out. The hard lock is per
/// (account, source): the guessing address is locked out of the account,
/// even with the right password, while the real user from another address
/// signs in (API and web). The holder is emailed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_passwords_lock_out_the_guesser_not_the_real_user() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Practitioner);
    guess_fifty_times(&t, s).await;

    // The guessing source stays locked out, even with the right password and code.
    let code = t.fresh_code(s);
    let r = t
        .client_from(GUESSER, false)
        .post(t.url("/api/v1/auth/login"))
        .json(&json!({"email": s.email, "password": s.password, "totp": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the guesser is locked out of the account");

    // The real user, from an address that has not failed, signs in: API...
    let code = t.fresh_code(s);
    let r = t
        .client_from(REAL_USER, false)
        .post(t.url("/api/v1/auth/login"))
        .json(&json!({"email": s.email, "password": s.password, "totp": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the real user signs in through the API");
    // ...and the pages.
    let web = t.web_login_with(s, t.client_from(REAL_USER, true)).await;
    assert_eq!(web.get("/clients").await.status(), 200);

    // The account holder was told once, not once per attempt.
    t.deliver_mail().await;
    let warnings = t
        .smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains("Wrong sign-in attempts on your Velum account") && m.contains(&s.email))
        .count();
    assert_eq!(warnings, 1);

    // The lock and the failures are in the clinic's audit trail.
    let events = trail(&t, clinic.owner()).await;
    assert_eq!(events.iter().filter(|(a, _)| a == "account_locked").count(), 1);
    assert_eq!(events.iter().filter(|(a, _)| a == "sign_in_failed").count(), 10);

    // When the window has passed, the guessing address may try again.
    t.clock.advance(SignedDuration::from_mins(16));
    let code = t.fresh_code(s);
    let r = t
        .client_from(GUESSER, false)
        .post(t.url("/api/v1/auth/login"))
        .json(&json!({"email": s.email, "password": s.password, "totp": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_failure_gets_the_same_answer() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.owner();
    let code = t.fresh_code(s);
    let attempts = [
        json!({"email": "nobody@example.org", "password": s.password, "totp": code}),
        json!({"email": s.email, "password": "not-the-password-1", "totp": code}),
        json!({"email": s.email, "password": s.password, "totp": "123456"}),
    ];
    let mut bodies = Vec::new();
    for a in attempts {
        let r = t.post_json("/api/v1/auth/login", &a).await;
        assert_eq!(r.status(), 401);
        bodies.push(r.text().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_cannot_be_used_twice() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.owner();
    let code = t.fresh_code(s);
    let body = json!({"email": s.email, "password": s.password, "totp": code});
    assert_eq!(t.post_json("/api/v1/auth/login", &body).await.status(), 200);
    assert_eq!(
        t.post_json("/api/v1/auth/login", &body).await.status(),
        401,
        "replayed code refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_idle_time_and_absolute_lifetime() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    assert_eq!(api.get("/api/v1/clients").await.status(), 200);
    t.clock.advance(SignedDuration::from_mins(29));
    assert_eq!(
        api.get("/api/v1/clients").await.status(),
        200,
        "still within the idle window"
    );
    t.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(
        api.get("/api/v1/clients").await.status(),
        401,
        "idle for more than 30 minutes"
    );

    let api = t.login(clinic.owner()).await;
    for _ in 0..25 {
        t.clock.advance(SignedDuration::from_mins(29));
        if api.get("/api/v1/clients").await.status() != 200 {
            break;
        }
    }
    assert_eq!(api.get("/api/v1/clients").await.status(), 401, "12-hour absolute limit");
}

/// Using a session is written down at most once a minute, not on every
/// request; the idle timeout therefore holds to within a minute of the last
/// use (ASVS 7.3.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_marked_used_at_most_once_a_minute() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = clinic.owner();
    let api = t.login(owner).await;
    let signed_in = t.clock.now();
    let last_seen = || async {
        with_db!(t, |c| sqlx::query_scalar::<_, i64>(
            "SELECT last_seen_at FROM sessions WHERE clinic_id = $1 AND staff_id = $2"
        )
        .bind(owner.clinic.as_uuid())
        .bind(owner.id.as_uuid())
        .fetch_one(&mut c)
        .await
        .unwrap())
    };
    let micros = |d: SignedDuration| (signed_in + d).as_microsecond();

    t.clock.advance(SignedDuration::from_secs(59));
    assert_eq!(api.get("/api/v1/clients").await.status(), 200);
    assert_eq!(last_seen().await, micros(SignedDuration::ZERO), "59 s: not written");
    t.clock.advance(SignedDuration::from_secs(1));
    assert_eq!(api.get("/api/v1/clients").await.status(), 200);
    let recorded = SignedDuration::from_mins(1);
    assert_eq!(last_seen().await, micros(recorded), "a minute: written");
    t.clock.advance(SignedDuration::from_secs(59));
    assert_eq!(api.get("/api/v1/clients").await.status(), 200);
    assert_eq!(last_seen().await, micros(recorded), "59 s after the write: not written");

    // Idle since that last use: the session ends 30 minutes after the use
    // that was written down, 29 minutes 1 second after the last one.
    t.clock
        .advance(SignedDuration::from_mins(30) - SignedDuration::from_secs(59));
    assert_eq!(
        t.clock.now().as_microsecond(),
        micros(recorded + velum_app::auth::IDLE_TIMEOUT)
    );
    assert_eq!(api.get("/api/v1/clients").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_account_ends_its_sessions_at_once() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let victim = clinic.by_role(Role::Receptionist);
    let api = t.login(victim).await;
    assert_eq!(api.get("/api/v1/clients").await.status(), 200);
    t.app
        .set_staff_disabled(&clinic.owner().actor(), victim.id, true)
        .await
        .unwrap();
    assert_eq!(api.get("/api/v1/clients").await.status(), 401);
    let code = t.fresh_code(victim);
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": victim.email, "password": victim.password, "totp": code}),
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_takes_effect_on_the_next_request() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let p = clinic.by_role(Role::Practitioner);
    let api = t.login(p).await;
    let c: Value = api
        .post("/api/v1/clients", &velum_testkit::client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let medical = format!("/api/v1/clients/{}/medical", c["id"].as_str().unwrap());
    assert_eq!(api.get(&medical).await.status(), 200);
    t.app
        .change_role(&clinic.owner().actor(), p.id, Role::Receptionist)
        .await
        .unwrap();
    assert_eq!(api.get(&medical).await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_by_emailed_single_use_link_ends_sessions_and_keeps_totp() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Manager);
    let api = t.login(s).await;
    let web = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = web
        .get(t.url("/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = velum_testkit::csrf_in(&page);
    let r = web
        .post(t.url("/forgot-password"))
        .form(&[("csrf", csrf.as_str()), ("email", s.email.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.deliver_mail().await, 1);
    let mail = t.smtp.messages().pop().expect("a reset email");
    let link = mail
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/reset/", t.base_url)))
        .expect("link in the email")
        .to_owned();
    let path = link.trim_start_matches(&t.base_url).to_owned();
    let page = web.get(t.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = velum_testkit::csrf_in(&page.text().await.unwrap());
    // A weak password is refused, naming the field.
    let r = web
        .post(t.url(&path))
        .form(&[("csrf", csrf.as_str()), ("password", "password1234")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let new_password = "tidal-copper-meadow-fox-19";
    let r = web
        .post(t.url(&path))
        .form(&[("csrf", csrf.as_str()), ("password", new_password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Used once only.
    assert_eq!(web.get(t.url(&path)).send().await.unwrap().status(), 404);
    // Old sessions ended; the new password works, and still needs the code.
    assert_eq!(api.get("/api/v1/clients").await.status(), 401);
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": s.email, "password": new_password, "totp": ""}),
        )
        .await;
    assert_eq!(r.status(), 401);
    t.clock.advance(SignedDuration::from_secs(30));
    let code = code_at(&s.totp_secret, t.clock.now());
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": s.email, "password": new_password, "totp": code}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_sign_in_needs_the_code_and_forms_need_their_csrf_token() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let web = t.web_login(clinic.by_role(Role::Receptionist)).await;
    let r = web.get("/clients").await;
    assert_eq!(r.status(), 200);
    // A form posted without the session's token changes nothing.
    let r = web
        .http
        .post(t.url("/clients/new"))
        .form(&[
            ("csrf", "forged"),
            ("given_name", "Eve"),
            ("family_name", "Forger"),
            ("date_of_birth", "1990-01-01"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(t.app.count_clients(&clinic.owner().actor()).await.unwrap(), 0);
    // A cross-site post is refused even with a token.
    let r = web
        .http
        .post(t.url("/logout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_password_needs_the_current_one_and_ends_every_session() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Receptionist);
    let api = t.login(s).await;
    let web = t.web_login(s).await;
    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not-my-password-9"),
                ("password", "amber-walrus-cinnamon-kite"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("is not your current password"));
    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", &s.password),
                ("password", "amber-walrus-cinnamon-kite"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(api.get("/api/v1/clients").await.status(), 401, "other sessions ended");
    assert_eq!(web.get("/clients").await.status(), 303, "this one too");
    let code = t.fresh_code(s);
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": s.email, "password": "amber-walrus-cinnamon-kite", "totp": code}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// F37: changing one's password goes through the sign-in throttle. While
/// this source is locked out of the account the form is refused (429),
/// even with the right current password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_password_is_refused_while_the_account_is_locked() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Receptionist);
    let web = t.web_login(s).await;
    for i in 0..11 {
        let r = t
            .post_json(
                "/api/v1/auth/login",
                &json!({"email": s.email, "password": format!("wrong-password-{i}"), "totp": "000000"}),
            )
            .await;
        assert_eq!(r.status(), if i < 10 { 401 } else { 429 }, "attempt {i}");
    }
    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", &s.password),
                ("password", "amber-walrus-cinnamon-kite"),
            ],
        )
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many attempts"));
    // Nothing changed: the old password still works once the window is over.
    t.clock.advance(SignedDuration::from_mins(16));
    let _ = t.login(s).await;
}

/// F37: five wrong current passwords on the change-password form end the
/// session (every session of the account: a stolen one cannot be told
/// apart), and each wrong one is audited as a failed sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_current_passwords_end_the_session() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Receptionist);
    let api = t.login(s).await;
    let web = t.web_login(s).await;
    for i in 0..4 {
        let r = web
            .submit(
                "/account/password",
                "/account/password",
                &[
                    ("current_password", &format!("not-my-password-{i}")),
                    ("password", "amber-walrus-cinnamon-kite"),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "wrong current password {i}");
    }
    assert_eq!(web.get("/clients").await.status(), 200, "still signed in after four");
    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not-my-password-5"),
                ("password", "amber-walrus-cinnamon-kite"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert_eq!(web.get("/clients").await.status(), 303, "this session ended");
    assert_eq!(api.get("/api/v1/clients").await.status(), 401, "and the others");
    let events = trail(&t, clinic.owner()).await;
    assert_eq!(
        events
            .iter()
            .filter(|(a, d)| a == "sign_in_failed" && d == "wrong_current_password")
            .count(),
        5
    );
    // The password did not change.
    let _ = t.login(s).await;
}

/// The reset links in the mail delivered so far, as paths.
fn reset_paths(t: &TestApp) -> Vec<String> {
    t.smtp
        .messages()
        .iter()
        .filter_map(|m| {
            m.split_whitespace()
                .find(|w| w.starts_with(&format!("{}/reset/", t.base_url)))
                .map(|l| l.trim_start_matches(&t.base_url).to_owned())
        })
        .collect()
}

/// A second reset link replaces the first: the first no longer works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_reset_link_makes_the_earlier_one_stop_working() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Manager);
    let ask = json!({"email": s.email});
    assert_eq!(t.post_json("/api/v1/auth/password-reset", &ask).await.status(), 202);
    assert_eq!(t.deliver_mail().await, 1);
    assert_eq!(t.post_json("/api/v1/auth/password-reset", &ask).await.status(), 202);
    assert_eq!(t.deliver_mail().await, 1);
    let links = reset_paths(&t);
    assert_eq!(links.len(), 2, "{links:?}");
    assert_ne!(links[0], links[1]);
    assert_eq!(t.http.get(t.url(&links[0])).send().await.unwrap().status(), 404);
    assert_eq!(t.http.get(t.url(&links[1])).send().await.unwrap().status(), 200);
}

/// The API's reset request answers exactly the same for a known and an
/// unknown email; only the known one gets a link, sent by the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_answers_the_same_for_known_and_unknown_emails() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Manager);
    let known = t
        .post_json("/api/v1/auth/password-reset", &json!({"email": s.email}))
        .await;
    let unknown = t
        .post_json(
            "/api/v1/auth/password-reset",
            &json!({"email": "nobody@alpha.test.example"}),
        )
        .await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), known.status());
    let (known, unknown) = (known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(known, unknown);
    assert!(known.contains("If that address has a Velum account"), "{known}");
    // Nothing was mailed by the request itself: the worker does it.
    assert!(t.smtp.messages().is_empty());
    assert_eq!(t.deliver_mail().await, 1);
    let mails = t.smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains(&s.email));
    // A bad body names the field.
    let r = t.post_json("/api/v1/auth/password-reset", &json!({})).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("\"field\":\"email\""));
}

/// Reset requests are throttled per source (429 with Retry-After past five
/// in 15 minutes) and per account (past three, the answer is the same but
/// no more links are sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_is_throttled_per_source_and_per_account() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Manager);
    for i in 0..6 {
        let r = t
            .post_json(
                "/api/v1/auth/password-reset",
                &json!({"email": format!("someone.{i}@elsewhere.example")}),
            )
            .await;
        if i < 5 {
            assert_eq!(r.status(), 202, "request {i}");
        } else {
            assert_eq!(r.status(), 429);
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    for i in 0..5u8 {
        let r = t
            .client_from(Ipv4Addr::new(127, 0, 1, i + 1), false)
            .post(t.url("/api/v1/auth/password-reset"))
            .json(&json!({"email": s.email}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "request {i} for the account");
    }
    assert_eq!(t.deliver_mail().await, 3, "three links for the account, no more");
}

/// Sends a wrong sign-in for `email` from 127.0.0.1 claiming, in
/// `X-Forwarded-For`, to come from `claimed`; returns the status.
async fn wrong_sign_in_claiming(t: &TestApp, email: &str, claimed: &str) -> u16 {
    t.http
        .post(t.url("/api/v1/auth/login"))
        .header("x-forwarded-for", claimed)
        .json(&json!({"email": email, "password": "wrong-password-123", "totp": "000000"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The sources recorded for failed sign-ins in the clinic's trail.
async fn failure_sources(t: &TestApp, owner: &velum_testkit::Staff) -> Vec<String> {
    t.app
        .audit_trail(&owner.actor(), None)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.action.as_str() == "sign_in_failed")
        .map(|e| e.source.unwrap_or_default())
        .collect()
}

/// Without a trusted proxy, `X-Forwarded-For` changes nothing: the TCP
/// peer is the source for throttling and the audit trail, so a guesser
/// cannot dodge the lock by inventing addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_ignored_without_a_trusted_proxy() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Practitioner);
    for i in 0..11 {
        let status = wrong_sign_in_claiming(&t, &s.email, &format!("203.0.113.{i}")).await;
        assert_eq!(status, if i < 10 { 401 } else { 429 }, "attempt {i}");
    }
    let sources = failure_sources(&t, clinic.owner()).await;
    assert_eq!(sources.len(), 10);
    assert!(sources.iter().all(|s| s == "127.0.0.1"), "{sources:?}");
}

/// Behind a trusted proxy (here 127.0.0.0/8, where the test connects
/// from), the rightmost untrusted `X-Forwarded-For` hop is the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_source() {
    let t = TestApp::spawn_trusting(&["127.0.0.0/8"]).await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Practitioner);
    for i in 0..11 {
        let status = wrong_sign_in_claiming(&t, &s.email, &format!("1.2.3.{i}, 203.0.113.9, 127.0.0.9")).await;
        assert_eq!(status, if i < 10 { 401 } else { 429 }, "attempt {i}");
    }
    let sources = failure_sources(&t, clinic.owner()).await;
    assert_eq!(sources.len(), 10);
    assert!(sources.iter().all(|s| s == "203.0.113.9"), "{sources:?}");
    // Another client behind the same proxy is not locked out.
    let code = t.fresh_code(s);
    let r = t
        .http
        .post(t.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.20")
        .json(&json!({"email": s.email, "password": s.password, "totp": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// F37: throttling refuses, it does not only delay. 100 wrong sign-ins
/// sent at once from one address: at most ten are checked (401); the rest
/// are refused unchecked with 429 and Retry-After (by the lock, or because
/// too many sign-ins are in progress), so sending in parallel gains
/// nothing; `/healthz` keeps answering during the flood, and the pages say
/// so too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_parallel_sign_ins_is_refused_and_health_still_answers() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Practitioner);
    let flood: Vec<_> = (0..100)
        .map(|i| {
            let http = t.http.clone();
            let url = t.url("/api/v1/auth/login");
            let email = s.email.clone();
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .json(&json!({"email": email, "password": format!("wrong-password-{i}"), "totp": "000000"}))
                    .send()
                    .await
                    .unwrap();
                let retry_after = r.headers().get("retry-after").is_some();
                (r.status().as_u16(), retry_after)
            })
        })
        .collect();
    // Health is asked while the flood is in flight.
    let health = t.http.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let in_flight = flood.iter().filter(|h| !h.is_finished()).count();
    let mut results = Vec::new();
    for h in flood {
        results.push(h.await.unwrap());
    }
    assert!(in_flight > 0, "the health check ran during the flood");
    let checked = results.iter().filter(|(s, _)| *s == 401).count();
    let refused = results.iter().filter(|(s, r)| *s == 429 && *r).count();
    assert!((1..=10).contains(&checked), "{results:?}");
    assert_eq!(checked + refused, 100, "{results:?}");
    assert!(refused >= 90, "{results:?}");
    // The page answers 429 with a message and Retry-After as well.
    let web = t.client_from(Ipv4Addr::LOCALHOST, true);
    let page = web.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&page);
    let r = web
        .post(t.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", s.email.as_str()),
            ("password", "wrong-password-x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many attempts"));
}

/// F38 and housekeeping: failed sign-ins with unknown emails go to the
/// platform's chain as one summary event per source and window, with the
/// count, not as one event per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_failures_are_one_summary_event_per_source_and_window() {
    let t = TestApp::spawn().await;
    let op = t.operator().await;
    let platform = |t: &TestApp| {
        let reader = velum_testkit::staff_actor(velum_app::platform::platform_id(), op.id, Role::Auditor);
        let app = t.app.clone();
        async move {
            app.audit_trail(&reader, None)
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|e| e.action.as_str() == "sign_in_failed")
                .map(|e| (e.source.unwrap_or_default(), e.detail.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };
    for i in 0..20 {
        let status = wrong_sign_in_claiming(&t, &format!("nobody.{i}@unknown.example"), "203.0.113.1").await;
        assert_eq!(status, 401, "attempt {i}");
    }
    assert!(platform(&t).await.is_empty(), "no event per attempt");
    // The window is still open: nothing to sum up yet.
    assert_eq!(t.app.summarise_anonymous_failures().await.unwrap(), 0);
    t.clock.advance(SignedDuration::from_mins(16));
    // The background worker writes the summary once the window has ended.
    assert_eq!(t.app.summarise_anonymous_failures().await.unwrap(), 1);
    assert_eq!(t.app.summarise_anonymous_failures().await.unwrap(), 0);
    let events = platform(&t).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "127.0.0.1");
    assert!(events[0].1.starts_with("unknown_account count:20 "), "{events:?}");
}

/// Guessing at a disabled account sends no warning mail: nobody holds it
/// any more, and its address may belong to someone who left the clinic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_at_a_disabled_account_warns_nobody() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Practitioner);
    t.app
        .set_staff_disabled(&clinic.owner().actor(), s.id, true)
        .await
        .unwrap();
    guess_fifty_times(&t, s).await;
    t.deliver_mail().await;
    assert!(
        !t.smtp
            .messages()
            .iter()
            .any(|m| m.contains("Wrong sign-in attempts on your Velum account")),
        "no warning for a disabled account"
    );
}

/// F37: on the password and recovery-code forms an empty current password
/// is asked for ("Enter your current password"), not called wrong, and
/// counts as no attempt; an empty app code is flagged on its field; and a
/// breached new password is reported under the "New password" label its
/// field carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_forms_ask_for_missing_fields_and_name_the_new_password() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let s = clinic.by_role(Role::Receptionist);
    let web = t.web_login(s).await;
    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[("current_password", ""), ("password", "amber-walrus-cinnamon-kite")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Enter your current password"), "{html}");
    assert!(!html.contains("is not your current password"), "{html}");

    let r = web
        .submit(
            "/account/recovery-codes",
            "/account/recovery-codes",
            &[("current_password", ""), ("code", "")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Enter your current password"), "{html}");
    assert!(!html.contains("is not your current password"), "{html}");
    assert!(
        html.contains(r##"<a href="#code">"##),
        "the empty code is flagged: {html}"
    );
    assert!(
        html.contains(r#"<label for="code">Code</label>"#),
        "labelled as the summary names it: {html}"
    );

    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[("current_password", &s.password), ("password", "7m9n6l1d5p8r3k2l4s6a")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r##"<a href="#new_password">New password appears in lists of passwords leaked"##),
        "{html}"
    );
    assert!(
        html.contains(r#"<label for="new_password">New password</label>"#),
        "{html}"
    );
    assert!(html.contains(r#"<input id="new_password" name="password""#), "{html}");
    // Nothing typed was not counted as a wrong guess: the right password
    // still changes it.
    let r = web
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", &s.password),
                ("password", "amber-walrus-cinnamon-kite"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
}
