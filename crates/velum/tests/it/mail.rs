//! Mail and housekeeping, checked behind the app's back: the outbox holds
//! set-up and reset links sealed and clears them once sent or given up.

use velum_testkit::{RawDb, TestApp, on_raw, test_master_key};

/// One outbox row as stored.
#[derive(Debug, sqlx::FromRow)]
struct OutboxRow {
    to_addr: String,
    subject: String,
    body: String,
    sealed: Option<Vec<u8>>,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
    last_error: Option<String>,
}

impl OutboxRow {
    /// Everything stored, as text (sealed bytes read as if they were text).
    fn as_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.to_addr,
            self.subject,
            self.body,
            String::from_utf8_lossy(self.sealed.as_deref().unwrap_or_default()),
            self.last_error.as_deref().unwrap_or_default()
        )
    }
}

/// The test app's database, opened directly as a DBA would have it, with
/// the queries these tests read it by.
struct Raw(RawDb);

impl Raw {
    async fn open(t: &TestApp) -> Raw {
        Raw(RawDb::open(&t.location).await)
    }

    async fn outbox(&mut self) -> Vec<OutboxRow> {
        const SQL: &str =
            "SELECT to_addr, subject, body, sealed, sent_at, failed_at, last_error FROM outbox ORDER BY id";
        on_raw!(&mut self.0, |c| sqlx::query_as(SQL).fetch_all(c).await.unwrap())
    }

    async fn exec(&mut self, sql: &'static str) -> u64 {
        on_raw!(&mut self.0, |c| sqlx::query(sql)
            .execute(c)
            .await
            .unwrap()
            .rows_affected())
    }

    async fn count(&mut self, sql: &'static str) -> i64 {
        on_raw!(&mut self.0, |c| sqlx::query_scalar(sql).fetch_one(c).await.unwrap())
    }

    /// Throttle rows whose window started before `micros`.
    async fn throttle_rows_before(&mut self, micros: i64) -> i64 {
        const SQL: &str = "SELECT COUNT(*) FROM login_throttle WHERE window_start < $1";
        on_raw!(&mut self.0, |c| sqlx::query_scalar(SQL)
            .bind(micros)
            .fetch_one(c)
            .await
            .unwrap())
    }

    async fn close(self) {
        self.0.close().await;
    }
}

/// Ask for a password reset through the page, as a person would.
async fn forgot_password(t: &TestApp, email: &str) {
    let web = reqwest::Client::builder().cookie_store(true).build().unwrap();
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
        .form(&[("csrf", csrf.as_str()), ("email", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The request only queues; the background worker makes the link and the mail.
    t.app.process_password_resets().await.unwrap();
}

/// Issue 16 item 18: a reset link is sealed while it waits in the outbox
/// (neither the link's secret nor the recipient is readable in the row),
/// and once sent nothing of it is left; delivery still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mail_is_sealed_and_cleared_once_sent() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Sealed Mail Clinic").await;
    let owner = clinic.owner();
    let mut raw = Raw::open(&t).await;
    let before = raw.outbox().await.len();

    forgot_password(&t, &owner.email).await;
    let rows = raw.outbox().await;
    assert_eq!(rows.len(), before + 1);
    let queued = rows.last().unwrap();
    assert!(queued.sealed.as_ref().is_some_and(|s| !s.is_empty()), "sealed");
    assert_eq!(
        (queued.to_addr.as_str(), queued.subject.as_str(), queued.body.as_str()),
        ("", "", "")
    );
    let stored = queued.as_text();

    assert!(t.deliver_mail().await >= 1);
    let mail = t.smtp.messages().pop().expect("the reset email");
    assert!(mail.contains(&owner.email), "sent to the owner");
    let link = mail
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/reset/", t.base_url)))
        .expect("a reset link in the email")
        .to_owned();
    let secret = link.rsplit(['/', '.']).next().unwrap();
    assert!(secret.len() >= 32, "{link}");
    for needle in [link.as_str(), secret, owner.email.as_str(), "Reset your Velum password"] {
        assert!(!stored.contains(needle), "the queued row shows {needle:?}");
    }

    // Sent: nothing of the message is left, and the link works.
    let rows = raw.outbox().await;
    let sent = rows.last().unwrap();
    assert!(sent.sent_at.is_some());
    assert_eq!(sent.sealed, None);
    assert_eq!(
        (sent.to_addr.as_str(), sent.subject.as_str(), sent.body.as_str()),
        ("", "", "")
    );
    let path = link.trim_start_matches(&t.base_url).to_owned();
    assert_eq!(t.http.get(t.url(&path)).send().await.unwrap().status(), 200);
    raw.close().await;
}

/// Mail queued in plaintext before the outbox was sealed (migration 0013)
/// is sealed when the app starts, and still delivered; a message that can
/// no longer be opened is given up and cleared, and says why without any
/// personal data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_mail_from_before_is_sealed_and_unopenable_mail_is_given_up() {
    let t = TestApp::spawn().await;
    let _clinic = t.clinic("Legacy Mail Clinic").await;
    let mut raw = Raw::open(&t).await;
    t.deliver_mail().await;
    let n = raw
        .exec(
            "INSERT INTO outbox (id, clinic_id, to_addr, subject, body, created_at, next_attempt_at) \
             SELECT id, id, 'legacy.person@example.org', 'Old subject', 'Old body with a link', 1, 1 \
             FROM clinics WHERE kind = 'clinic'",
        )
        .await;
    assert_eq!(n, 1);
    // The row's id is the clinic's id: unique, and any id will do.
    assert_eq!(t.app.seal_plaintext_outbox().await.unwrap(), 1);
    let rows = raw.outbox().await;
    let legacy = rows.iter().find(|r| r.sent_at.is_none()).unwrap();
    assert!(legacy.sealed.is_some());
    assert!(!legacy.as_text().contains("legacy.person"), "{legacy:?}");
    assert_eq!(t.app.seal_plaintext_outbox().await.unwrap(), 0, "only once");
    assert_eq!(t.deliver_mail().await, 1);
    let mail = t.smtp.messages().pop().unwrap();
    assert!(mail.contains("legacy.person@example.org") && mail.contains("Old body with a link"));

    // A message whose sealed bytes no longer open (altered, or its key
    // destroyed) is given up at once, and cleared.
    let clinic = t.clinic("Broken Mail Clinic").await;
    forgot_password(&t, &clinic.owner().email).await;
    assert_eq!(
        raw.exec("UPDATE outbox SET sealed = substr(sealed, 2) WHERE sent_at IS NULL")
            .await,
        1
    );
    assert_eq!(t.deliver_mail().await, 0);
    assert_eq!(t.app.outbox_pending().await.unwrap(), 0);
    let rows = raw.outbox().await;
    let given_up = rows.iter().find(|r| r.failed_at.is_some()).expect("given up");
    assert_eq!(given_up.sealed, None);
    assert_eq!(
        given_up.last_error.as_deref(),
        Some("the message cannot be opened (its key is gone)")
    );
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
            .await,
        0
    );
    raw.close().await;
}

/// Issue 16 item 23 (housekeeping): expired sessions, spent links and stale
/// throttle rows are deleted by the worker's housekeeping run; live ones
/// stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_deletes_expired_sign_in_state_and_keeps_live_state() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Housekeeping Clinic").await;
    let owner = clinic.owner();
    let mut raw = Raw::open(&t).await;
    let old_session = t.login(owner).await;
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": owner.email, "password": "not-the-password-at-all", "totp": "000000"}),
        )
        .await;
    assert_eq!(r.status(), 401);
    forgot_password(&t, &owner.email).await;
    const SESSIONS: &str = "SELECT COUNT(*) FROM sessions";
    const RESETS: &str = "SELECT COUNT(*) FROM one_time_tokens WHERE purpose = 'reset'";
    const THROTTLE: &str = "SELECT COUNT(*) FROM login_throttle";
    let sessions = raw.count(SESSIONS).await;
    assert!(sessions >= 1);
    assert_eq!(raw.count(RESETS).await, 1);
    let throttle_rows = raw.count(THROTTLE).await;
    assert!(throttle_rows >= 1);

    // Nothing is due yet: everything stays.
    let purged = t.app.housekeeping().await.unwrap();
    assert_eq!(purged, velum_app::housekeeping::Purged::default());
    assert_eq!(raw.count(SESSIONS).await, sessions);
    assert_eq!(raw.count(RESETS).await, 1);
    assert_eq!(raw.count(THROTTLE).await, throttle_rows);
    assert_eq!(old_session.get("/api/v1/audit").await.status(), 200);

    // Two hours later: the session has been idle too long, the reset link
    // (one hour) has expired, the failure count's window has passed. A new
    // session and a new link are live.
    t.clock.advance(jiff::SignedDuration::from_hours(2));
    let new_session = t.login(owner).await;
    forgot_password(&t, &owner.email).await;
    let purged = t.app.housekeeping().await.unwrap();
    assert_eq!(purged.links, 1, "{purged:?}");
    assert!(purged.throttle >= 1, "{purged:?}");
    assert!(purged.sessions >= 1, "{purged:?}");
    assert_eq!(raw.count(SESSIONS).await, 1, "only the new session is left");
    assert_eq!(raw.count(RESETS).await, 1, "only the new link is left");
    // Only counters of this last hour's attempts are left.
    let hour_ago = velum_app::Clock::now(t.clock.as_ref()).as_microsecond() - 3_600_000_000;
    assert_eq!(raw.throttle_rows_before(hour_ago).await, 0);
    assert_eq!(new_session.get("/api/v1/audit").await.status(), 200);
    assert_eq!(old_session.get("/api/v1/audit").await.status(), 401);

    // A used link goes at the next run, though it has not expired.
    assert_eq!(t.deliver_mail().await, 2);
    let mail = t.smtp.messages().pop().unwrap();
    let link = mail
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/reset/", t.base_url)))
        .unwrap()
        .to_owned();
    let web = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let page = web.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = velum_testkit::csrf_in(&page);
    let r = web
        .post(&link)
        .form(&[("csrf", csrf.as_str()), ("password", "tidal-copper-meadow-fox-19")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.app.housekeeping().await.unwrap().links, 1);
    assert_eq!(raw.count(RESETS).await, 0);
    raw.close().await;
}

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Issue 16 item 17: with STARTTLS required (the default), a server that
/// does not offer it is sent nothing: the mail stays queued and sealed, and
/// the failure is logged and stored without personal data. Every other mail
/// test goes through the test kit's sink, which refuses MAIL before
/// STARTTLS, so they all prove delivery over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_starttls_sends_nothing_to_a_server_that_does_not_offer_it() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,reqwest=off,hyper=off,hyper_util=off",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global: the app's tasks run on the runtime's worker threads. Each test
    // is its own process under nextest.
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");

    let t = TestApp::spawn().await;
    let clinic = t.clinic("Plain Relay Clinic").await;
    let owner = clinic.owner();
    t.deliver_mail().await;
    forgot_password(&t, &owner.email).await;

    let plain = velum_testkit::SmtpSink::start_without_tls().await;
    let settings = velum_app::AppSettings {
        base_url: t.base_url.clone(),
        smtp: Some(velum_app::SmtpSettings {
            tls: velum_app::mail::SmtpTls::Required,
            ..velum_testkit::smtp_settings(&plain)
        }),
        blobs: None,
    };
    let relay = velum_app::App::open(&t.location, test_master_key(), t.clock.clone(), settings)
        .await
        .unwrap();
    assert_eq!(relay.deliver_outbox().await.unwrap(), 0);
    assert!(plain.messages().is_empty(), "nothing sent in the clear");
    assert_eq!(relay.outbox_pending().await.unwrap(), 1, "still queued");
    let mut raw = Raw::open(&t).await;
    let row = raw.outbox().await.pop().unwrap();
    assert!(row.sealed.is_some() && row.failed_at.is_none(), "{row:?}");
    assert_eq!(
        row.last_error.as_deref(),
        Some("the SMTP server does not offer STARTTLS, or refused the session")
    );
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("email delivery failed; will retry"), "{logged}");
    assert!(logged.contains("does not offer STARTTLS"), "{logged}");
    assert!(!logged.contains(&owner.email), "the recipient was logged");
    assert!(!logged.contains("/reset/"), "the link was logged");

    // The server that offers STARTTLS gets it, once the back-off has passed.
    t.clock.advance(jiff::SignedDuration::from_mins(5));
    assert_eq!(t.deliver_mail().await, 1);
    assert!(t.smtp.messages().pop().unwrap().contains(&owner.email));
    relay.close().await;
    raw.close().await;
}

/// Issue 16 item 17: `--smtp-tls none` is refused at start for a server
/// that is not on loopback, and half a set of credentials is refused, each
/// with one line naming the setting and never the password.
#[test]
fn serve_refuses_plain_smtp_to_a_remote_host_and_half_credentials() {
    const BIN: &str = env!("CARGO_BIN_EXE_velum");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let velum = |args: &[&str]| {
        let mut c = std::process::Command::new(BIN);
        c.args(args)
            .env_remove("VELUM_MASTER_KEY_FILE")
            .env_remove("VELUM_SMTP_TLS")
            .env_remove("VELUM_SMTP_USERNAME")
            .env_remove("VELUM_SMTP_PASSWORD")
            .env("RUST_LOG", "warn");
        c
    };
    assert!(
        velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
    let serve = ["serve", "--data-dir", d, "--listen", "127.0.0.1:0", "--smtp-host"];

    let mut args = serve.to_vec();
    args.extend(["smtp.example.com", "--smtp-tls", "none"]);
    let out = velum(&args).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("VELUM_SMTP_TLS (--smtp-tls)") && err.contains("loopback"),
        "{err}"
    );

    // By environment too.
    let mut args = serve.to_vec();
    args.push("10.1.2.3");
    let out = velum(&args).env("VELUM_SMTP_TLS", "none").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("VELUM_SMTP_TLS"));

    let mut args = serve.to_vec();
    args.push("smtp.example.com");
    let out = velum(&args)
        .env("VELUM_SMTP_PASSWORD", "hunter2-smtp-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("VELUM_SMTP_USERNAME / VELUM_SMTP_PASSWORD"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let mut args = serve.to_vec();
    args.extend(["smtp.example.com", "--smtp-tls", "sometimes"]);
    let out = velum(&args).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--smtp-tls"));

    assert!(
        !dir.path().join("velum.db").exists(),
        "refused before the database was opened"
    );
}

/// `--smtp-tls wrapper`: TLS from the first byte, to a server that expects
/// it (as on port 465).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapper_tls_delivers_to_an_implicit_tls_server() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Wrapper Clinic").await;
    t.deliver_mail().await;
    forgot_password(&t, &clinic.owner().email).await;
    let sink = velum_testkit::SmtpSink::start_implicit_tls().await;
    let settings = velum_app::AppSettings {
        base_url: t.base_url.clone(),
        smtp: Some(velum_app::SmtpSettings {
            tls: velum_app::mail::SmtpTls::Wrapper,
            ..velum_testkit::smtp_settings(&sink)
        }),
        blobs: None,
    };
    let relay = velum_app::App::open(&t.location, test_master_key(), t.clock.clone(), settings)
        .await
        .unwrap();
    assert_eq!(relay.deliver_outbox().await.unwrap(), 1);
    assert!(sink.messages().pop().unwrap().contains(&clinic.owner().email));
    relay.close().await;
}

/// Background work runs through the job queue: the recurring jobs are
/// queued once however often they are scheduled, and one run of the due
/// jobs handles a password-reset request and sends its mail (a job queued
/// by a job runs in the same call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_recurring_jobs_and_the_mail_they_queue() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Scheduled Clinic").await;
    t.deliver_mail().await;
    t.app.schedule_recurring().await.unwrap();
    t.app.schedule_recurring().await.unwrap();
    let mut raw = Raw::open(&t).await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM jobs WHERE kind = 'password_resets'")
            .await,
        1,
        "one row per recurring kind"
    );
    t.app.request_password_reset(&clinic.owner().email, None).await.unwrap();
    let resets = |t: &TestApp| t.smtp.messages().iter().filter(|m| m.contains("/reset/")).count();
    let before = resets(&t);
    let ran = t.app.run_due_jobs().await.unwrap();
    use velum_app::jobs::{JobKind, Ran};
    assert!(ran.contains(&(JobKind::PasswordResets, Ran::Done)), "{ran:?}");
    assert!(ran.contains(&(JobKind::Mail, Ran::Done)), "{ran:?}");
    assert_eq!(resets(&t), before + 1);
    let mail = t
        .smtp
        .messages()
        .into_iter()
        .find(|m| m.contains("/reset/") && m.contains(&clinic.owner().email))
        .expect("the reset mail");
    // Text and HTML parts, each with the same link.
    assert!(
        mail.contains("multipart/alternative") && mail.contains("text/html"),
        "{mail}"
    );
    let link = mail
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/reset/", t.base_url)))
        .expect("the link in the text part");
    assert!(mail.contains(&format!("<a href=\"{link}\">")), "{mail}");
    // The recurring job is queued again for its next run, not done.
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM jobs WHERE kind = 'password_resets' AND state = 'queued'")
            .await,
        1
    );
    // Nothing is due again until its time comes.
    let again = t.app.run_due_jobs().await.unwrap();
    assert!(!again.iter().any(|(k, _)| *k == JobKind::PasswordResets), "{again:?}");
    raw.close().await;
}

/// A mail job that fails for good is shown to its clinic's owner (page,
/// linked from the owner's navigation, and API) with what it was doing and
/// why, never the address or the link; other clinics and other roles see
/// nothing of it, and operators see counts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_shown_to_its_owner_and_counted_for_operators() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Failing Mail Clinic").await;
    let other = t.clinic("Quiet Mail Clinic").await;
    t.deliver_mail().await;
    forgot_password(&t, &clinic.owner().email).await;
    let mut raw = Raw::open(&t).await;
    assert_eq!(
        raw.exec("UPDATE outbox SET sealed = substr(sealed, 2) WHERE sent_at IS NULL")
            .await,
        1
    );
    assert_eq!(t.deliver_mail().await, 0);
    let reason = "the message cannot be opened (its key is gone)";

    let owner = t.login(clinic.owner()).await;
    let r = owner.get("/api/v1/jobs/failed").await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains(&clinic.owner().email) && !body.contains("/reset/"),
        "{body}"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let jobs = json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{body}");
    assert_eq!(jobs[0]["kind"], "mail");
    assert_eq!(jobs[0]["description"], "Sending an email");
    assert_eq!(jobs[0]["error"], reason);

    let web = t.web_login(clinic.owner()).await;
    let home = web.get("/clients").await.text().await.unwrap();
    assert!(home.contains("href=\"/jobs\""), "the owner's navigation links the page");
    let page = web.get("/jobs").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Sending an email") && page.contains(reason), "{page}");
    assert!(!page.contains(&clinic.owner().email));

    let theirs = t.login(other.owner()).await;
    let r = theirs.get("/api/v1/jobs/failed").await;
    assert_eq!(r.status(), 200);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["jobs"].as_array().unwrap().len(), 0, "another clinic's failures");
    let practitioner = t.login(clinic.by_role(velum_app::Role::Practitioner)).await;
    assert_eq!(practitioner.get("/api/v1/jobs/failed").await.status(), 403);
    assert_eq!(owner.get("/api/v1/platform/jobs").await.status(), 403);

    let operator = t.operator().await;
    let ops = t.login(&operator).await;
    let r = ops.get("/api/v1/platform/jobs").await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        json["counts"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"kind": "mail", "state": "failed", "count": 1})),
        "{body}"
    );
    assert!(
        !body.contains(&clinic.owner().email) && !body.contains(reason),
        "counts only: {body}"
    );
    assert_eq!(ops.get("/api/v1/jobs/failed").await.status(), 403);
    let platform = t
        .web_login(&operator)
        .await
        .get("/platform")
        .await
        .text()
        .await
        .unwrap();
    assert!(platform.contains("Background jobs"), "{platform}");
    raw.close().await;
}
