//! `velum loadtest` against a running test server: it signs in with a
//! credentials file, drives every available operation, and each read it
//! reports was audited.

use serde_json::Value;
use velum_core::Role;
use velum_testkit::{TestApp, cli, with_db};

/// Run `velum loadtest` with `args` off the runtime's threads (the server
/// runs on them); returns (exit code, stdout, stderr).
async fn loadtest(args: Vec<String>) -> (i32, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli::command(env!("CARGO_BIN_EXE_velum"), &["loadtest"])
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn credentials(dir: &std::path::Path, staff: &velum_testkit::Staff, password: &str) -> String {
    let path = dir.join("demo-credentials.json");
    let json = serde_json::json!([{
        "clinic": "Alpha", "role": staff.role.as_str(), "email": staff.email,
        "password": password, "totp_secret": staff.totp_secret, "otpauth_uri": ""
    }]);
    std::fs::write(&path, json.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadtest_drives_every_operation_and_its_reads_are_audited() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let prac = clinic.by_role(Role::Practitioner);
    t.clients(prac, 20, 7).await;
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path(), prac, &prac.password);

    let (code, out, err) = loadtest(
        [
            "--url",
            &t.base_url,
            "--credentials",
            &creds,
            "--clients",
            "2",
            "--seconds",
            "0.7",
            "--json",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["clients"], 2);
    let ops = report["operations"].as_array().unwrap();
    let names: Vec<&str> = ops.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "healthz",
            "create_client",
            "read_client_full",
            "practitioner_day",
            "create_appointment"
        ]
    );
    let op = |name: &str| ops.iter().find(|o| o["name"] == name).unwrap();
    for name in ["healthz", "create_client", "read_client_full"] {
        let o = op(name);
        assert_eq!(o["available"], true, "{o}");
        assert!(o["count"].as_u64().unwrap() > 0, "{o}");
        assert_eq!(o["errors"], 0, "{o}");
        assert!(o["per_second"].as_f64().unwrap() > 0.0, "{o}");
        let (p50, p95, p99) = (
            o["p50_ms"].as_f64().unwrap(),
            o["p95_ms"].as_f64().unwrap(),
            o["p99_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{o}");
    }
    for name in ["practitioner_day", "create_appointment"] {
        assert_eq!(op(name)["available"], false);
        assert_eq!(op(name)["count"], 0);
    }
    let reads = op("read_client_full");
    assert_eq!(
        reads["requests"].as_u64().unwrap(),
        2 * reads["count"].as_u64().unwrap()
    );

    // Every full-record read wrote its two audit events: contact and medical.
    let (clinic_id, actor) = (clinic.id.as_uuid(), prac.id.as_uuid());
    let by_section: Vec<(String, i64)> = with_db!(t, |c| sqlx::query_as::<_, (String, i64)>(
        "SELECT sections, COUNT(*) FROM audit_events WHERE clinic_id = $1 AND actor_id = $2 \
         AND action = 'read' AND client_id IS NOT NULL GROUP BY sections"
    )
    .bind(clinic_id)
    .bind(actor)
    .fetch_all(&mut c)
    .await
    .unwrap());
    let count = |s: &str| by_section.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let n = i64::try_from(reads["count"].as_u64().unwrap()).unwrap();
    assert_eq!(
        count("medical"),
        n,
        "one medical read event per operation: {by_section:?}"
    );
    assert!(
        count("contact") >= n,
        "a contact read event per operation: {by_section:?}"
    );
    let created = op("create_client")["count"].as_u64().unwrap();
    let cards: i64 = with_db!(t, |c| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM clients WHERE clinic_id = $1"
    )
    .bind(clinic.id.as_uuid())
    .fetch_one(&mut c)
    .await
    .unwrap());
    assert_eq!(cards, 20 + i64::try_from(created).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadtest_names_a_bad_url_unreadable_credentials_and_a_refused_sign_in() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let prac = clinic.by_role(Role::Practitioner);
    let dir = tempfile::tempdir().unwrap();
    let good = credentials(dir.path(), prac, &prac.password);
    let args = |url: &str, creds: &str| {
        ["--url", url, "--credentials", creds, "--seconds", "0.2"]
            .map(str::to_owned)
            .to_vec()
    };

    let (code, _, err) = loadtest(args("localhost:8080", &good)).await;
    assert_eq!(code, 1);
    assert!(err.contains("--url: expected http://HOST:PORT"), "{err}");

    // Nothing listens on port 9 of the loopback.
    let (code, _, err) = loadtest(args("http://127.0.0.1:9", &good)).await;
    assert_eq!(code, 1);
    assert!(err.contains("--url: cannot reach http://127.0.0.1:9"), "{err}");

    let missing = dir.path().join("nope.json");
    let (code, _, err) = loadtest(args(&t.base_url, &missing.to_string_lossy())).await;
    assert_eq!(code, 1);
    assert!(err.contains("--credentials: cannot read"), "{err}");

    let wrong = dir.path().join("wrong");
    std::fs::create_dir(&wrong).unwrap();
    let bad = credentials(&wrong, prac, "not-the-password-at-all");
    let (code, _, err) = loadtest(args(&t.base_url, &bad)).await;
    assert_eq!(code, 1);
    assert!(err.contains("sign-in refused: 401"), "{err}");
}
