//! In a real browser (Debian's Chromium, driven through chromedriver): sign
//! in with the TOTP code and open a client card.

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
    let _ = std::fs::write(
        std::env::temp_dir().join("velum-recovery-used.png"),
        b.screenshot().await.unwrap(),
    );
    b.close().await.unwrap();
}
