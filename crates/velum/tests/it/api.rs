//! The client card through the JSON API: shapes, validation, duplicates,
//! bad input.

use serde_json::{Value, json};
use velum_core::Role;
use velum_testkit::{TestApp, client_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_read_update_and_list_a_client() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.by_role(Role::Receptionist)).await;

    let r = api.post("/api/v1/clients", &client_json(1)).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["given_name"], "Amelia");
    assert_eq!(created["date_of_birth"], "1988-03-14");
    assert_eq!(created["mobile"], "+447911100001", "mobile normalised to E.164");
    assert_eq!(created["address"]["postcode"], "LS6 2AB");

    let got: Value = api.get(&format!("/api/v1/clients/{id}")).await.json().await.unwrap();
    assert_eq!(got["family_name"], created["family_name"]);

    let r = api
        .patch(
            &format!("/api/v1/clients/{id}"),
            &json!({"address": {"postcode": "ls1 4ap"}, "email": ""}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["address"]["postcode"], "LS1 4AP");
    assert_eq!(updated["email"], Value::Null);
    assert_eq!(updated["version"], 2);

    let list: Value = api
        .post("/api/v1/clients/search", &json!({"q": "amel"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["next_cursor"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_date_of_birth_phone_and_email_and_pages_with_a_cursor() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    for n in 0..60 {
        assert_eq!(api.post("/api/v1/clients", &client_json(n)).await.status(), 201);
    }
    let page1: Value = api.get("/api/v1/clients").await.json().await.unwrap();
    assert_eq!(page1["items"].as_array().unwrap().len(), 50);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = api
        .get(&format!("/api/v1/clients?cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 10);
    assert_eq!(page2["next_cursor"], Value::Null);
    let mut ids: Vec<String> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60, "pages neither repeat nor skip");

    // The search goes in the body (no personal data in URLs) and pages
    // like the list.
    let search = |q: &str, cursor: Value| json!({"q": q, "cursor": cursor});
    for q in ["14/03/1988", "1988-03-14"] {
        let r = api.post("/api/v1/clients/search", &search(q, Value::Null)).await;
        assert_eq!(r.status(), 200);
        let r: Value = r.json().await.unwrap();
        assert_eq!(r["items"].as_array().unwrap().len(), 50, "{q}");
        let more: Value = api
            .post("/api/v1/clients/search", &search(q, r["next_cursor"].clone()))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(more["items"].as_array().unwrap().len(), 10, "{q}");
        assert_eq!(more["next_cursor"], Value::Null);
    }
    let r: Value = api
        .post("/api/v1/clients/search", &json!({"q": "07911 100007"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    assert_eq!(r["items"][0]["mobile"], "+447911100007");
    let r: Value = api
        .post("/api/v1/clients/search", &json!({"q": "amelia.7@example.org"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    let by_name: Value = api
        .post("/api/v1/clients/search", &json!({"q": "Testcase"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["items"].as_array().unwrap().len(), 50);
    // The same page shape as the list: an empty search lists everyone.
    let all: Value = api
        .post("/api/v1/clients/search", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all, page1);
    let r = api
        .post("/api/v1/clients/search", &json!({"q": "x", "name": "y"}))
        .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["errors"][0]["field"], "name");
}

/// A search term in a URL would end up in access logs and history: the
/// list refuses `q`, naming the POST route; without `q` it still lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_refuses_a_search_in_its_url_and_names_the_post_route() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    assert_eq!(api.post("/api/v1/clients", &client_json(1)).await.status(), 201);
    for path in [
        "/api/v1/clients?q=amel",
        "/api/v1/clients?q=",
        "/api/v1/clients?include_archived=true&q=07911%20100001",
        "/api/v1/clients?q",
    ] {
        let r = api.get(path).await;
        assert_eq!(r.status(), 400, "{path}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["errors"][0]["field"], "q", "{path}");
        let msg = e["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains("POST /api/v1/clients/search"), "{msg}");
    }
    let r = api.get("/api/v1/clients?include_archived=true").await;
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_postcode_is_named_and_nothing_is_written() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    let before = t.app.count_clients(&clinic.owner().actor()).await.unwrap();
    let mut body = client_json(1);
    body["address"]["postcode"] = json!("XX1 1XXX");
    body["mobile"] = json!("55555");
    body["date_of_birth"] = json!("2999-01-01");
    let r = api.post("/api/v1/clients", &body).await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"postcode"), "{fields:?}");
    assert!(fields.contains(&"mobile"), "{fields:?}");
    assert!(fields.contains(&"date_of_birth"), "{fields:?}");
    assert_eq!(t.app.count_clients(&clinic.owner().actor()).await.unwrap(), before);
    let text = e.to_string();
    assert!(
        !text.contains("XX1 1XXX") && !text.contains("55555"),
        "errors never echo values: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_offered_instead_of_created() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    let first: Value = api.post("/api/v1/clients", &client_json(1)).await.json().await.unwrap();
    // Same email, different everything else.
    let mut same_email = client_json(2);
    same_email["email"] = client_json(1)["email"].clone();
    let r = api.post("/api/v1/clients", &same_email).await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["duplicates"][0]["id"], first["id"]);
    assert_eq!(e["duplicates"][0]["reason"], "email");
    // Same name and date of birth.
    let mut same_person = client_json(3);
    same_person["family_name"] = first["family_name"].clone();
    let r = api.post("/api/v1/clients", &same_person).await;
    assert_eq!(r.status(), 409);
    // Created anyway when staff confirm it is someone else.
    let r = api.post("/api/v1/clients?allow_duplicate=true", &same_person).await;
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_clear_4xx_answers_in_the_error_format() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    let url = t.url("/api/v1/clients");
    let send = |body: Vec<u8>| {
        t.http
            .post(&url)
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, u16, Option<&str>)> = vec![
        (b"{not json".to_vec(), 400, None),
        (
            br#"{"given_name": 5, "family_name": "A", "date_of_birth": "1990-01-01"}"#.to_vec(),
            422,
            Some("given_name"),
        ),
        (
            br#"{"given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "shoe_size": 9}"#.to_vec(),
            422,
            Some("shoe_size"),
        ),
        (br#"{"given_name": "A"}"#.to_vec(), 422, Some("family_name")),
    ];
    for (body, status, field) in cases {
        let r = send(body).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        let e: Value = r.json().await.unwrap();
        assert!(e["errors"][0]["message"].is_string());
        if let Some(f) = field {
            assert_eq!(e["errors"][0]["field"], f);
        }
    }
    // A body over the limit: 413. Sent by hand, reading while writing: the
    // server may answer and close while a client library is still writing
    // the 10 MiB, which it reports as a broken pipe instead of the answer.
    let (status, body) = oversized_post(&t, "/api/v1/clients", &api.token, 10 * 1024 * 1024).await;
    assert_eq!(status, 413, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert!(e["errors"][0]["message"].is_string());
    let r = api.get("/api/v1/clients/not-a-uuid").await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["errors"][0]["field"], "id");
    let r = api.get("/api/v1/clients?bogus=1").await;
    assert_eq!(r.status(), 400);
    let r = t.http.get(t.url("/api/v1/clients")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medical_summary_round_trips_and_reception_is_refused() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let prac = t.login(clinic.by_role(Role::Practitioner)).await;
    let desk = t.login(clinic.by_role(Role::Receptionist)).await;
    let c: Value = desk
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    let path = format!("/api/v1/clients/{id}/medical");

    let empty: Value = prac.get(&path).await.json().await.unwrap();
    assert_eq!(empty["version"], 0);
    let body = json!({"allergies": ["Lidocaine"], "medications": ["Warfarin 5 mg"], "conditions": [], "notes": "Bruises easily"});
    let r = prac.put(&path, &body).await;
    assert_eq!(r.status(), 200);
    let got: Value = prac.get(&path).await.json().await.unwrap();
    assert_eq!(got["allergies"], json!(["Lidocaine"]));
    assert_eq!(got["notes"], "Bruises easily");
    assert_eq!(got["version"], 1);

    // Issue rule: reception never sees medical (DOMAIN F38: refusals audited).
    assert_eq!(desk.get(&path).await.status(), 403);
    assert_eq!(desk.put(&path, &body).await.status(), 403);
    let bad = json!({"allergies": ["x".repeat(300)]});
    let r = prac.put(&path, &bad).await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["errors"][0]["field"], "allergies[0]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_are_on_pages_and_api_answers() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let api = t.login(clinic.owner()).await;
    let responses = vec![
        t.http.get(t.url("/login")).send().await.unwrap(),
        t.http.get(t.url("/healthz")).send().await.unwrap(),
        api.get("/api/v1/clients").await,
        t.http.get(t.url("/api/v1/clients")).send().await.unwrap(),
    ];
    for r in responses {
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }
}

/// POST a JSON body of `length` spaces to `path` by hand, reading the
/// answer while the body is still being written (the server may answer and
/// close before it has read it all; a write that fails then is expected).
/// The status and body of the answer.
async fn oversized_post(t: &TestApp, path: &str, token: &str, length: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(&t.url(path)).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rx, mut tx) = conn.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        tx.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut left = length;
        while left > 0 {
            let n = left.min(chunk.len());
            tx.write_all(&chunk[..n]).await?;
            left -= n;
        }
        Ok::<_, std::io::Error>(tx)
    });
    let read = async {
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let declared = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok());
                if declared.is_some_and(|n| body.len() >= n) {
                    return text;
                }
            }
            let n = rx.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed before a whole answer: {text}");
            answer.extend_from_slice(&buf[..n]);
        }
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .expect("an answer");
    writer.abort();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
