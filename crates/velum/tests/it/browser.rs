//! In a real browser (Debian's Chromium, driven through chromedriver): sign
//! in with the TOTP code and open a client card; and axe-core's
//! accessibility checks on the sign-in, code, client list, card, staff and
//! platform pages.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use velum_core::Role;
use velum_testkit::TestApp;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Driver, fantoccini::Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian package chromium-driver; .ci/run installs it)");
    let driver = Driver(child);
    let profile = tempfile::tempdir().unwrap().keep();
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1024,900", format!("--user-data-dir={}", profile.display())]
        }
    }))
    .unwrap();
    for _ in 0..100 {
        if let Ok(c) = ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            return (driver, c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not connect to chromedriver");
}

/// axe-core's script (`VELUM_AXE_JS`, or fetched by `scripts/axe`), or
/// `None` after saying SKIPPED; under CI a missing axe-core fails the test.
fn axe_source() -> Option<String> {
    #[expect(clippy::disallowed_methods, reason = "the test reads its own settings")]
    let path = std::env::var("VELUM_AXE_JS")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/axe");
            let out = Command::new(script).stderr(Stdio::inherit()).output().ok()?;
            let path = String::from_utf8(out.stdout).ok()?;
            out.status.success().then(|| path.trim().to_owned())
        });
    match path.and_then(|p| std::fs::read_to_string(p).ok()) {
        Some(js) => Some(js),
        None => {
            assert!(
                !velum_testkit::under_ci(),
                "axe-core is missing (VELUM_AXE_JS unset and scripts/axe failed) and CI is set"
            );
            eprintln!("SKIPPED: accessibility checks: no axe-core (set VELUM_AXE_JS or run scripts/axe)");
            None
        }
    }
}

/// Run axe-core on the page now shown; fail listing every serious or
/// critical violation (rule, impact, help and the elements concerned).
async fn assert_accessible(b: &fantoccini::Client, axe: Option<&str>, page: &str) {
    let Some(axe) = axe else { return };
    let (passed, serious) = run_axe(b, axe).await;
    assert!(passed > 10, "{page}: axe-core checked the page ({passed} rules passed)");
    assert!(
        serious.is_empty(),
        "{page}: {} serious or critical accessibility violations:\n{}",
        serious.len(),
        serious.join("\n")
    );
}

/// Inject axe-core and run it on the whole document: the number of rules
/// that passed, and each serious or critical violation as one line.
async fn run_axe(b: &fantoccini::Client, axe: &str) -> (u64, Vec<String>) {
    b.execute(axe, vec![]).await.expect("inject axe-core");
    const RUN: &str = "const done = arguments[arguments.length - 1];
        axe.run(document)
          .then(r => done({passed: r.passes.length, serious: r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' ['
              + v.nodes.map(n => n.target.join(' ')).join(', ') + ']')}))
          .catch(e => done({passed: 0, serious: ['axe-core failed: ' + e]}));";
    let found = b.execute_async(RUN, vec![]).await.expect("run axe-core");
    let passed = found["passed"].as_u64().expect("a count of passed rules");
    let serious = serde_json::from_value(found["serious"].clone()).expect("a list of violations");
    (passed, serious)
}

/// Fill in the sign-in form and the code step, checking both pages.
async fn sign_in(t: &TestApp, b: &fantoccini::Client, axe: Option<&str>, staff: &velum_testkit::Staff) {
    b.goto(&t.url("/login")).await.unwrap();
    b.wait().for_element(Locator::Id("email")).await.unwrap();
    assert_accessible(b, axe, "sign-in").await;
    b.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(&staff.email)
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(&staff.password)
        .await
        .unwrap();
    b.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if b.wait().for_element(Locator::Id("code")).await.is_err() {
        panic!(
            "no code page after the password step: {}",
            b.source().await.unwrap_or_default()
        );
    }
    assert_accessible(b, axe, "two-step code").await;
    let code = t.fresh_code(staff);
    b.find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    b.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Issue 17 item 13: axe-core finds no serious or critical violation on the
/// sign-in page, the code step, the client list, a client card, the staff
/// page, the settings and failed-jobs pages, and the platform page (hosted
/// mode, as an operator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_pages_have_no_serious_accessibility_violations() {
    let axe = axe_source();
    let axe = axe.as_deref();
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Harley Skin").await;
    let ids = t.clients(clinic.owner(), 3, 42).await;
    let op = t.operator().await;
    let (_driver, b) = browser().await;

    // axe-core finds what it should: an image without a text alternative
    // (critical) and a made-up autocomplete value (serious).
    if let Some(axe) = axe {
        b.goto(&t.url("/login")).await.unwrap();
        b.execute(
            "document.querySelector('main').insertAdjacentHTML('beforeend', \
             '<img src=\"/static/none.png\"><input id=\"probe\" autocomplete=\"not-a-token\">')",
            vec![],
        )
        .await
        .unwrap();
        let (_, serious) = run_axe(&b, axe).await;
        assert!(serious.iter().any(|v| v.contains("image-alt")), "{serious:?}");
        assert!(serious.iter().any(|v| v.contains("autocomplete-valid")), "{serious:?}");
    }

    sign_in(&t, &b, axe, clinic.owner()).await;
    if b.wait().for_element(Locator::Css("table.list")).await.is_err() {
        panic!("no client list: {}", b.source().await.unwrap_or_default());
    }
    assert_accessible(&b, axe, "client list").await;
    b.goto(&t.url(&format!("/clients/{}", ids[0]))).await.unwrap();
    b.wait().for_element(Locator::Css("dl.facts")).await.unwrap();
    assert_accessible(&b, axe, "client card").await;
    b.goto(&t.url("/staff")).await.unwrap();
    b.wait()
        .for_element(Locator::Css("form[action='/staff/invite']"))
        .await
        .unwrap();
    assert_accessible(&b, axe, "staff").await;
    b.goto(&t.url("/settings")).await.unwrap();
    b.wait()
        .for_element(Locator::Css("form[action='/settings']"))
        .await
        .unwrap();
    assert_accessible(&b, axe, "settings").await;
    b.goto(&t.url("/jobs")).await.unwrap();
    b.wait().for_element(Locator::Css("h1")).await.unwrap();
    assert_accessible(&b, axe, "failed jobs").await;

    b.delete_all_cookies().await.unwrap();
    sign_in(&t, &b, axe, &op).await;
    b.wait()
        .for_element(Locator::Css("form[action='/platform/clinics']"))
        .await
        .unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/platform"));
    assert_accessible(&b, axe, "platform").await;
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_with_totp_and_opens_a_client_card() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Harley Skin").await;
    let practitioner = clinic.by_role(Role::Practitioner);
    t.clients(clinic.owner(), 3, 42).await;
    let (_driver, b) = browser().await;

    b.goto(&t.url("/login")).await.unwrap();
    b.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(&practitioner.email)
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(&practitioner.password)
        .await
        .unwrap();
    b.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if b.wait().for_element(Locator::Id("code")).await.is_err() {
        panic!(
            "no code page after the password step: {}",
            b.source().await.unwrap_or_default()
        );
    }
    let code = t.fresh_code(practitioner);
    b.find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    b.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if b.wait().for_element(Locator::Css("table.list")).await.is_err() {
        panic!(
            "no client list after the code step: {}",
            b.source().await.unwrap_or_default()
        );
    }
    assert!(b.current_url().await.unwrap().path().ends_with("/clients"));

    let first = b.find(Locator::Css("table.list tbody a")).await.unwrap();
    let name = first.text().await.unwrap();
    first.click().await.unwrap();
    b.wait().for_element(Locator::Css("dl.facts")).await.unwrap();
    let body = b.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    let family = name.split(',').next().unwrap().trim();
    assert!(body.contains(family), "the card shows the client");
    assert!(body.contains("Medical") && body.contains("Contact details"), "tabs");
    // The medical tab opens for a practitioner.
    b.find(Locator::LinkText("Medical"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait().for_element(Locator::Css("h2")).await.unwrap();
    let png = b.screenshot().await.unwrap();
    assert!(png.len() > 1000);
    let _ = std::fs::write(std::env::temp_dir().join("velum-card.png"), png);
    b.close().await.unwrap();
}

/// Items 13 and 14 in a real browser: set up two-step sign-in from the QR
/// page's typed key, see the recovery codes once, then sign in again with
/// a recovery code from the code page's second form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sets_up_two_step_sign_in_and_signs_in_with_a_recovery_code() {
    use velum_app::Clock as _;
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Harley Skin").await;
    let (email, password) = crate::totp::invited_account(&t, &clinic, "bronwen").await;
    let (_driver, b) = browser().await;

    let sign_in = async |b: &fantoccini::Client| {
        b.goto(&t.url("/login")).await.unwrap();
        b.find(Locator::Id("email"))
            .await
            .unwrap()
            .send_keys(&email)
            .await
            .unwrap();
        b.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(&password)
            .await
            .unwrap();
        b.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait().for_element(Locator::Id("code")).await.unwrap();
    };
    sign_in(&b).await;
    let axe = axe_source();
    assert_accessible(&b, axe.as_deref(), "two-step set-up").await;
    let secret = b
        .find(Locator::Css("p.secret code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace(' ', "");
    t.clock.advance(jiff::SignedDuration::from_secs(30));
    let code = velum_testkit::code_at(&secret, t.clock.now());
    b.find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    b.find(Locator::Css("form[action='/login/two-step-setup'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if b.wait().for_element(Locator::Css("ol.recovery-codes")).await.is_err() {
        panic!(
            "no recovery codes after set-up: {}",
            b.source().await.unwrap_or_default()
        );
    }
    let mut codes = Vec::new();
    for li in b.find_all(Locator::Css("ol.recovery-codes code")).await.unwrap() {
        codes.push(li.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10);
    assert_accessible(&b, axe.as_deref(), "recovery codes").await;
    let _ = std::fs::write(
        std::env::temp_dir().join("velum-recovery-codes.png"),
        b.screenshot().await.unwrap(),
    );
    b.find(Locator::LinkText("I have saved my codes: continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait().for_element(Locator::Css("h1")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/clients"), "signed in");

    // A new browser session: sign in with a recovery code instead.
    b.delete_all_cookies().await.unwrap();
    sign_in(&b).await;
    b.find(Locator::Id("recovery_code"))
        .await
        .unwrap()
        .send_keys(&codes[3])
        .await
        .unwrap();
    b.find(Locator::Css("button.secondary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if b.wait().for_element(Locator::Css("p.notice")).await.is_err() {
        panic!(
            "no notice after a recovery code: {}",
            b.source().await.unwrap_or_default()
        );
    }
    let body = b.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("You signed in with a recovery code"), "{body}");
    assert!(body.contains("You have 9 unused recovery codes left"), "{body}");
    assert_accessible(&b, axe.as_deref(), "signed in with a recovery code").await;
    let _ = std::fs::write(
        std::env::temp_dir().join("velum-recovery-used.png"),
        b.screenshot().await.unwrap(),
    );
    b.close().await.unwrap();
}
