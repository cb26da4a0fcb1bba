//! Schema-driven fuzzing of the JSON API: schemathesis (from the venv made
//! by scripts/pytools) reads the served OpenAPI document and sends
//! generated requests to every documented operation, with a clinic owner's
//! bearer token (and the platform's operations again with an operator's),
//! on a real server with a seeded clinic. Its checks fail the
//! test on any 5xx, any status the document does not list for the
//! operation, and any response (4xx errors included) whose content type or
//! body does not match the document, so every error is in the envelope of
//! docs/API.md.
//!
//! The short run here is part of every test run. `scripts/fuzz-api --long`
//! runs the same test with many more examples per operation
//! (`VELUM_FUZZ_EXAMPLES`).

use std::process::Command;

use velum_testkit::TestApp;

/// Generated examples per operation in the fuzzing phase.
#[expect(clippy::disallowed_methods, reason = "the test reads its own setting")]
fn examples() -> u32 {
    std::env::var("VELUM_FUZZ_EXAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
}

/// Run schemathesis over the operations `filter` selects; the exit status
/// and its report.
async fn schemathesis(t: &TestApp, token: &str, filter: &[&str]) -> (bool, String) {
    let Some(st) = crate::pytools::tool("schemathesis", "schemathesis over the API") else {
        return (true, String::new());
    };
    let mut cmd = Command::new(st);
    cmd.arg("run")
        .arg(t.url("/api/v1/openapi.json"))
        .args(["--url", &t.url("")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        // The document types most fields as plain strings that the server
        // then parses (dates, postcodes, control characters refused): a
        // schema-valid value may rightly get a 422 naming its field, which
        // the other checks hold to the documented envelope.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", &examples().to_string()])
        .args(["--seed", "17"])
        .args(["--workers", "1"])
        .args(["--no-color"])
        .args(filter)
        // Its own files (hypothesis database, reports) stay out of the tree.
        .current_dir(std::env::temp_dir());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("schemathesis runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The closing line, e.g. "== 1024 passed in 15.25s ==".
    eprintln!(
        "schemathesis {}: {}",
        filter.join(" "),
        said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default()
    );
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_undocumented_answer() {
    if crate::pytools::tool("schemathesis", "schemathesis over the API").is_none() {
        return;
    }
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    t.clients(clinic.owner(), 5, 17).await;
    let api = t.login(clinic.owner()).await;
    // Signed in before the run: its sign-in attempts soon throttle this
    // address.
    let operator = t.login(&t.operator().await).await;

    // Everything but signing out first: signing out ends the token's session.
    let (ok, said) = schemathesis(&t, &api.token, &["--exclude-path", "/api/v1/auth/logout"]).await;
    assert!(ok, "schemathesis found failures:\n{said}");
    assert!(said.contains("passed"), "schemathesis ran no test:\n{said}");

    // The platform's operations refuse an owner; an operator reaches them.
    let (ok, said) = schemathesis(&t, &operator.token, &["--include-path-regex", "^/api/v1/platform/"]).await;
    assert!(ok, "schemathesis found failures as an operator:\n{said}");
    assert!(said.contains("passed"), "schemathesis ran no test:\n{said}");

    let (ok, said) = schemathesis(&t, &api.token, &["--include-path", "/api/v1/auth/logout"]).await;
    assert!(ok, "schemathesis found failures signing out:\n{said}");
    assert!(said.contains("passed"), "schemathesis ran no test:\n{said}");
}

/// What the framework would answer in plain text (a wrong method, malformed
/// JSON, a body that is not JSON, an id or query that does not parse) is
/// answered in the documented envelope, and an array is not taken for an
/// object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_before_a_handler_are_in_the_error_envelope() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    let bearer = format!("Bearer {}", api.token);
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (t.http.delete(t.url("/api/v1/clients")), 405),
        (t.http.put(t.url("/api/v1/auth/login")), 405),
        (
            t.http
                .post(t.url("/api/v1/clients/search"))
                .header("content-type", "application/json")
                .body("{\"q\": "),
            400,
        ),
        (t.http.post(t.url("/api/v1/clients/search")).body("q=a"), 415),
        (
            t.http
                .post(t.url("/api/v1/clients/search"))
                .header("content-type", "application/json")
                .body("[]"),
            422,
        ),
        (t.http.get(t.url("/api/v1/clients/not-an-id")), 400),
        (t.http.get(t.url("/api/v1/clients?include_archived=perhaps")), 400),
        (
            t.http
                .post(t.url("/api/v1/clients?allow_duplicate=90"))
                .json(&velum_testkit::client_json(1)),
            400,
        ),
        (t.http.get(t.url("/api/v1/no-such-thing")), 404),
    ];
    for (req, status) in cases {
        let r = req.header("authorization", &bearer).send().await.unwrap();
        let what = format!("{} {}", r.url().path(), r.status());
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["errors"][0]["message"].is_string(), "{what}: {body}");
    }
}
