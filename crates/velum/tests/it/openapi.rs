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
