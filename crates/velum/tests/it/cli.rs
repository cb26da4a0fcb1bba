//! The binary from the outside: `velum demo`, `serve` refusing without a
//! key, `keys init`, `clinic create`, and data that is unreadable on disk.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_velum");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn velum(args: &[&str]) -> Command {
    velum_testkit::cli::command(BIN, args)
}

/// Poll `/healthz` until the server answers (or the process exits).
async fn wait_healthy(child: &mut Child, base: &str) {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "velum exited before answering");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("velum did not answer /healthz");
}

fn terminate(child: &mut Child) -> i32 {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap().code().unwrap_or(-1)
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn totp_now(secret: &str) -> String {
    #[expect(clippy::disallowed_methods, reason = "the code must match the server's real clock")]
    let now = jiff::Timestamp::now();
    velum_testkit::code_at(secret, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seeds_once_serves_signs_everyone_in_and_stores_nothing_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut child = velum(&[
        "demo",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        &listen,
        "--clients-per-clinic",
        "200",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_healthy(&mut child, &base).await;

    let creds: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(data.join("demo-credentials.json")).unwrap()).unwrap();
    assert_eq!(
        creds.len(),
        13,
        "two clinics with one account per role, and a platform operator"
    );
    assert_eq!(creds.iter().filter(|c| c["role"] == "operator").count(), 1);
    let http = reqwest::Client::new();
    let mut owner_token = None;
    for c in &creds {
        for key in ["clinic", "email", "password", "role", "totp_secret"] {
            assert!(c[key].is_string(), "{key} in {c}");
        }
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": c["email"], "password": c["password"], "totp": totp_now(c["totp_secret"].as_str().unwrap())}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "sign-in for {}", c["email"]);
        let body: Value = r.json().await.unwrap();
        if c["role"] == "owner" && owner_token.is_none() {
            owner_token = Some(body["token"].as_str().unwrap().to_owned());
        }
    }
    // Seeded clients: at least 200, some with allergies.
    let token = owner_token.unwrap();
    let list: Value = http
        .get(format!("{base}/api/v1/clients"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &list["items"][0];
    let surname = first["family_name"].as_str().unwrap().to_owned();
    let email = first["email"].as_str().unwrap().to_owned();
    let mut total = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/clients?cursor={c}"),
            None => format!("{base}/api/v1/clients"),
        };
        let page: Value = http
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        total += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(total >= 200, "{total} clients");
    assert_eq!(terminate(&mut child), 0, "graceful shutdown on SIGTERM");

    // Nothing about a client is readable anywhere under the data dir.
    for file in files_under(&data) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [surname.as_bytes(), email.as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} contains a client's personal data in plaintext",
                file.display()
            );
        }
    }

    // A restart keeps the data and does not seed twice.
    let mut child = velum(&["demo", "--data-dir", data.to_str().unwrap(), "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&mut child, &base).await;
    assert_eq!(terminate(&mut child), 0);
    let out = velum(&["clinic", "list", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let out = velum(&["audit", "verify", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn serve_refuses_to_start_without_a_master_key_or_with_a_readable_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = velum(&["serve", "--insecure-http", "--data-dir", d, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("VELUM_MASTER_KEY_FILE") && err.contains("keys init"),
        "{err}"
    );

    let out = velum(&["keys", "init", "--data-dir", d]).output().unwrap();
    assert!(out.status.success());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(dir.path().join("master.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = velum(&["serve", "--insecure-http", "--data-dir", d, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    // `keys init` never overwrites a key.
    assert!(
        !velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
}

/// HTTPS by default: an http:// base URL (also the default without one)
/// stops `serve` with one line naming the setting, before anything is
/// opened; `--insecure-http` or `VELUM_INSECURE_HTTP` allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_an_http_base_url_unless_insecure_http_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(
        velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
    for extra in [&[][..], &["--base-url", "http://velum.example"][..]] {
        let mut args = vec!["serve", "--data-dir", d, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let out = velum(&args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("--base-url (VELUM_BASE_URL)") && err.contains("--insecure-http (VELUM_INSECURE_HTTP)"),
            "{err}"
        );
    }
    assert!(
        !dir.path().join("velum.db").exists(),
        "refused before the database was opened"
    );
    // The environment variable allows it as the flag does.
    let port = free_port();
    let mut child = velum(&["serve", "--data-dir", d, "--listen", &format!("127.0.0.1:{port}")])
        .env("VELUM_INSECURE_HTTP", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&mut child, &base).await;
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    assert_eq!(terminate(&mut child), 0);
    // With an https:// base URL no flag is needed, and answers carry HSTS.
    let port = free_port();
    let mut child = velum(&[
        "serve",
        "--data-dir",
        d,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--base-url",
        "https://velum.example",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&mut child, &base).await;
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn a_wrong_master_key_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(
        velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(velum(&["migrate", "--data-dir", d]).output().unwrap().status.success());
    let other = dir.path().join("other.key");
    assert!(
        velum(&["keys", "init", "--out", other.to_str().unwrap()])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = velum(&["migrate", "--data-dir", d])
        .env("VELUM_MASTER_KEY_FILE", &other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clinic_create_prints_a_one_time_setup_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(
        velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = velum(&[
        "clinic",
        "create",
        "--data-dir",
        d,
        "--name",
        "Bramley Aesthetics",
        "--owner-email",
        "owner@bramley.example",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.contains("/setup/")), "{text}");
    let out = velum(&[
        "clinic",
        "create",
        "--data-dir",
        d,
        "--name",
        "",
        "--owner-email",
        "not-an-email",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--name") && err.contains("--owner-email"), "{err}");
}

/// Issue check: two `velum serve` processes on one PostgreSQL database are
/// stateless: sign in on one, use the token on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_one_postgres_database_share_sessions() {
    if velum_testkit::skip_without_pg("cli::two_serve_processes_on_one_postgres_database_share_sessions") {
        return;
    }
    let db = velum_testkit::fresh_pg_database().await;
    let url = db.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let d = data.to_str().unwrap();
    let out = velum(&[
        "demo",
        "--data-dir",
        d,
        "--database-url",
        &url,
        "--clients-per-clinic",
        "5",
        "--seed-only",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let creds: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(data.join("demo-credentials.json")).unwrap()).unwrap();
    let key = data.join("master.key");
    let mut servers = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = velum(&[
            "serve",
            "--insecure-http",
            "--database-url",
            &url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("VELUM_MASTER_KEY_FILE", &key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        wait_healthy(&mut child, &base).await;
        servers.push(child);
        bases.push(base);
    }
    let http = reqwest::Client::new();
    let owner = creds.iter().find(|c| c["role"] == "owner").unwrap();
    let r = http
        .post(format!("{}/api/v1/auth/login", bases[0]))
        .json(&json!({"email": owner["email"], "password": owner["password"], "totp": totp_now(owner["totp_secret"].as_str().unwrap())}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let on_second: Value = http
        .get(format!("{}/api/v1/clients", bases[1]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(on_second["items"].as_array().unwrap().len(), 5);
    let on_first: Value = http
        .get(format!("{}/api/v1/clients", bases[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        on_first["items"], on_second["items"],
        "the same answers from both servers"
    );
    for mut s in servers {
        assert_eq!(terminate(&mut s), 0);
    }
}

#[test]
fn a_bad_trusted_proxy_stops_serve_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(
        velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
    for (flag, env) in [(Some("10.0.0.0/33"), None), (None, Some("10.0.0.0/8,proxy.example"))] {
        let mut args = vec!["serve", "--data-dir", d, "--listen", "127.0.0.1:0"];
        if let Some(f) = flag {
            args.extend(["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", f]);
        }
        let mut cmd = velum(&args);
        cmd.env_remove("VELUM_TRUSTED_PROXIES");
        if let Some(e) = env {
            cmd.env("VELUM_TRUSTED_PROXIES", e);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("--trusted-proxy (VELUM_TRUSTED_PROXIES)"), "{err}");
    }
    assert!(
        !dir.path().join("velum.db").exists(),
        "refused before the database was opened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_opens_the_blob_store_and_a_bad_blob_url_stops_it_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(
        velum(&["keys", "init", "--data-dir", d])
            .output()
            .unwrap()
            .status
            .success()
    );
    // A bad value, by flag or environment: one line naming the setting and
    // the rule, never the value (an S3 URL may carry a secret).
    for (flag, env) in [
        (Some("ftp://files.example/velum"), None),
        (
            None,
            Some("s3://?endpoint=http://127.0.0.1:9&secret_access_key=hunter2-secret"),
        ),
        (Some("relative/blobs"), None),
    ] {
        let mut args = vec!["serve", "--insecure-http", "--data-dir", d, "--listen", "127.0.0.1:0"];
        if let Some(f) = flag {
            args.extend(["--blob-url", f]);
        }
        let mut cmd = velum(&args);
        cmd.env_remove("VELUM_BLOB_URL");
        if let Some(e) = env {
            cmd.env("VELUM_BLOB_URL", e);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("VELUM_BLOB_URL (--blob-url)"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("files.example"), "{err}");
    }
    assert!(
        !dir.path().join("velum.db").exists(),
        "refused before the database was opened"
    );

    // The default on the embedded database: DIR/blobs, made at start-up.
    let port = free_port();
    let mut child = velum(&[
        "serve",
        "--insecure-http",
        "--data-dir",
        d,
        "--listen",
        &format!("127.0.0.1:{port}"),
    ])
    .env_remove("VELUM_BLOB_URL")
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_healthy(&mut child, &format!("http://127.0.0.1:{port}")).await;
    assert!(dir.path().join("blobs").is_dir());
    assert_eq!(terminate(&mut child), 0);
}

/// A remote PostgreSQL server is reached with sslmode=verify-full only: a
/// weaker mode stops start-up with one line naming the setting, before any
/// connection is tried, and without repeating the URL (it holds a password).
#[test]
fn a_weak_sslmode_for_a_remote_database_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    assert!(
        velum(&["keys", "init", "--out", key.to_str().unwrap()])
            .output()
            .unwrap()
            .status
            .success()
    );
    for cmd in ["migrate", "serve"] {
        let mut args = vec![
            cmd,
            "--database-url",
            "postgres://velum:hunter2@db.example.invalid/velum?sslmode=require",
        ];
        if cmd == "serve" {
            args.extend(["--insecure-http", "--listen", "127.0.0.1:0"]);
        }
        let out = velum(&args).env("VELUM_MASTER_KEY_FILE", &key).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("--database-url (VELUM_DATABASE_URL)") && err.contains("sslmode=verify-full"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}

/// Hosted mode (an operator account exists): `velum clinic create` prints
/// ids only, and the owner's one-time link goes to the owner's email. The
/// person at the console (an operator) cannot become the clinic's owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clinic_create_in_hosted_mode_emails_the_link_to_the_owner_only() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The test kit's master key, so the test can open the database after.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.path().join("master.key"))
        .unwrap()
        .write_all(&[7; 32])
        .unwrap();
    let out = velum(&[
        "operator",
        "create",
        "--data-dir",
        d,
        "--email",
        "ops@platform.example",
        "--name",
        "Sam Support",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = velum(&[
        "clinic",
        "create",
        "--data-dir",
        d,
        "--name",
        "Bramley Aesthetics",
        "--owner-email",
        "owner@bramley.example",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("/setup/"), "no link on the console: {text}");
    assert!(text.contains("Clinic created:") && text.contains("emailed"), "{text}");

    let smtp = velum_testkit::SmtpSink::start().await;
    #[expect(clippy::disallowed_methods, reason = "the test clock starts at the real time")]
    let clock = std::sync::Arc::new(velum_app::FixedClock::new(jiff::Timestamp::now()));
    let location = velum_app::DataLocation::SqliteFile(dir.path().join("velum.db"));
    let app = velum_testkit::open_app(&location, clock, Some(&smtp)).await;
    assert_eq!(app.deliver_outbox().await.unwrap(), 1);
    app.close().await;
    let mail = smtp.messages().pop().unwrap();
    assert!(
        mail.contains("owner@bramley.example") && mail.contains("/setup/"),
        "{mail}"
    );
}
