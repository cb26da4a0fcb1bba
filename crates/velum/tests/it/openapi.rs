//! The OpenAPI document is generated from the code and pinned here, so any
//! change to the API's shape shows up in review.

#[test]
fn openapi_document_is_pinned() {
    let doc = velum_web::openapi_json();
    let parsed: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(parsed["openapi"], "3.1.0");
    insta::assert_snapshot!("openapi", doc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_pinned_one() {
    let t = velum_testkit::TestApp::spawn().await;
    let served: serde_json::Value = t
        .http
        .get(t.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pinned: serde_json::Value = serde_json::from_str(&velum_web::openapi_json()).unwrap();
    assert_eq!(served, pinned);
}

/// The served document is valid OpenAPI 3.1, checked by a real validator
/// (openapi-spec-validator, from the venv made by scripts/pytools).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_valid_openapi_3_1() {
    let Some(validator) = crate::pytools::tool("openapi-spec-validator", "the OpenAPI document is valid 3.1") else {
        return;
    };
    let t = velum_testkit::TestApp::spawn().await;
    let r = t.http.get(t.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(validator)
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the OpenAPI document is not valid 3.1:\n{said}");
    assert!(said.contains(": OK"), "the validator did not say OK:\n{said}");
}
