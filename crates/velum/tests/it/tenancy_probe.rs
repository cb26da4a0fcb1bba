//! The tenancy probe: every operation of the served OpenAPI document that
//! takes an id is called, with every role's token, once with another
//! clinic's real id and once with an id that does not exist. Both answers
//! must be the same refusal (404, or 403 where the role lacks the section),
//! byte for byte, and listed in the document (DOMAIN F38; ASVS 8.4.1).
//! Nothing of the other clinic may change.
//!
//! An operation the probe does not know how to call (a new kind of path id,
//! an id in a query or a body, a request body it has no valid example of)
//! fails the test: extend the tables below rather than skip it.

use reqwest::Method;
use serde_json::{Value, json};
use velum_core::Role;
use velum_core::actor::{Actor, OperatorActor};
use velum_testkit::{Api, TestApp, client_json};

/// What a path id names, read from the path it sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdKind {
    Client,
    Staff,
    SupportGrant,
    Clinic,
}

fn id_kind(path: &str) -> Option<IdKind> {
    if path.starts_with("/api/v1/clients/{id}") {
        Some(IdKind::Client)
    } else if path.starts_with("/api/v1/staff/{id}/") {
        Some(IdKind::Staff)
    } else if path.starts_with("/api/v1/support/{id}/") {
        Some(IdKind::SupportGrant)
    } else if path.starts_with("/api/v1/platform/clinics/{id}/") {
        Some(IdKind::Clinic)
    } else {
        None
    }
}

/// A valid body for each request schema that goes with a path id, so the
/// request passes validation and reaches the lookup.
fn valid_body(schema: &str) -> Option<Value> {
    Some(match schema {
        "ClientPatchJson" => json!({"given_name": "Mallory"}),
        "MedicalInputJson" => json!({"allergies": ["Latex"], "notes": "Probe"}),
        "SuspendJson" => json!({"reason": "A probe of another clinic's id"}),
        "SupportRequestJson" => json!({"reason": "A probe of another clinic's id", "minutes": 30}),
        _ => return None,
    })
}

/// The component schemas a schema reaches through `$ref`, and itself.
fn schema_names(doc: &Value, schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/components/schemas/").to_owned();
                if !out.contains(&name) {
                    out.push(name.clone());
                    schema_names(doc, &doc["components"]["schemas"][&name], out);
                }
            }
            for v in map.values() {
                schema_names(doc, v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| schema_names(doc, v, out)),
        _ => {}
    }
}

/// Property names that look like ids, in a schema and everything it reaches.
fn id_properties(doc: &Value, schema: &Value) -> Vec<String> {
    let mut names = Vec::new();
    schema_names(doc, schema, &mut names);
    let mut schemas: Vec<&Value> = names.iter().map(|n| &doc["components"]["schemas"][n]).collect();
    schemas.push(schema);
    let mut found = Vec::new();
    for s in schemas {
        if let Some(props) = s["properties"].as_object() {
            for (name, p) in props {
                let uuid = p["format"] == "uuid";
                if uuid || name == "id" || name.ends_with("_id") || name.ends_with("_ids") {
                    found.push(name.clone());
                }
            }
        }
    }
    found
}

/// One operation to probe.
struct Probe {
    method: Method,
    path: String,
    kind: IdKind,
    body: Option<Value>,
    documented: Vec<u16>,
    platform: bool,
}

/// Read the served document into probes; everything the probe cannot call
/// goes into the returned list of problems.
fn probes(doc: &Value) -> (Vec<Probe>, Vec<String>) {
    let mut probes = Vec::new();
    let mut problems = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let what = format!("{} {path}", method.to_uppercase());
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut path_ids = 0;
            for p in &params {
                let name = p["name"].as_str().unwrap_or_default();
                let looks_like_id = p["schema"]["format"] == "uuid" || name == "id" || name.ends_with("_id");
                match (p["in"].as_str(), looks_like_id) {
                    (Some("path"), true) if name == "id" => path_ids += 1,
                    (Some("path"), _) => problems.push(format!("{what}: path parameter {name}")),
                    (_, true) => problems.push(format!("{what}: id parameter {name} in the query")),
                    _ => {}
                }
            }
            let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if !body_schema.is_null() {
                let ids = id_properties(doc, body_schema);
                if !ids.is_empty() {
                    problems.push(format!("{what}: ids in the body {ids:?}"));
                }
            }
            if path_ids == 0 {
                continue;
            }
            let Some(kind) = id_kind(path) else {
                problems.push(format!("{what}: a path id of a kind the probe does not know"));
                continue;
            };
            let body = if body_schema.is_null() {
                None
            } else {
                let name = body_schema["$ref"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("#/components/schemas/");
                match valid_body(name) {
                    Some(b) => Some(b),
                    None => {
                        problems.push(format!("{what}: no valid example of the body {name}"));
                        continue;
                    }
                }
            };
            let documented = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            probes.push(Probe {
                method: method.to_uppercase().parse().expect("method"),
                path: path.clone(),
                kind,
                body,
                documented,
                platform: path.starts_with("/api/v1/platform/"),
            });
        }
    }
    (probes, problems)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_another_clinics_ids_as_ids_that_do_not_exist() {
    let t = TestApp::spawn().await;
    let a = t.clinic("Alpha").await;
    let b = t.clinic("Beta").await;
    let doc: Value = t
        .http
        .get(t.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (probes, problems) = probes(&doc);
    assert!(
        problems.is_empty(),
        "operations the tenancy probe cannot call yet (extend its tables):\n{}",
        problems.join("\n")
    );
    let kinds: Vec<IdKind> = probes.iter().map(|p| p.kind).collect();
    for k in [IdKind::Client, IdKind::Staff, IdKind::SupportGrant, IdKind::Clinic] {
        assert!(kinds.contains(&k), "the document has an operation on a {k:?} id");
    }

    // Beta's real ids: a client with a medical summary, a member of staff,
    // a support grant waiting for its owner, and the clinic itself.
    let owner_b = t.login(b.owner()).await;
    let r = owner_b.post("/api/v1/clients", &client_json(1)).await;
    assert_eq!(r.status(), 201);
    let client_b = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let medical = json!({"allergies": ["Penicillin"], "notes": "Beta's own"});
    let r = owner_b
        .put(&format!("/api/v1/clients/{client_b}/medical"), &medical)
        .await;
    assert_eq!(r.status(), 200);
    let medical_b = owner_b
        .get(&format!("/api/v1/clients/{client_b}/medical"))
        .await
        .text()
        .await
        .unwrap();
    let op = t.operator().await;
    let operator = t.login(&op).await;
    let reason = json!({"reason": "Beta asked for help with a card", "minutes": 30});
    let r = operator
        .post(&format!("/api/v1/platform/clinics/{}/support", b.id), &reason)
        .await;
    assert_eq!(r.status(), 201);
    let grant_b = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let theirs = |k: IdKind| match k {
        IdKind::Client => client_b.clone(),
        IdKind::Staff => b.by_role(Role::Manager).id.to_string(),
        IdKind::SupportGrant => grant_b.clone(),
        IdKind::Clinic => b.id.to_string(),
    };

    // Every role's token in Alpha, the operator's, and an operator on a
    // support visit to Alpha.
    let mut callers: Vec<(String, Api)> = Vec::new();
    for role in Role::ALL {
        callers.push((role.as_str().to_owned(), t.login(a.by_role(role)).await));
    }
    let visitor = t.login(&op).await;
    let r = visitor
        .post(&format!("/api/v1/platform/clinics/{}/support", a.id), &reason)
        .await;
    assert_eq!(r.status(), 201);
    let grant_a = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let owner_a = t.login(a.owner()).await;
    let r = owner_a
        .post(&format!("/api/v1/support/{grant_a}/grant"), &json!({}))
        .await;
    assert_eq!(r.status(), 204);
    let as_operator = Actor::Operator(OperatorActor {
        staff_id: op.id,
        home: velum_app::platform::platform_id(),
        source: None,
    });
    t.app
        .enter_support(&as_operator, &visitor.token, a.id, grant_a.parse().unwrap())
        .await
        .unwrap();
    callers.push(("support visit".to_owned(), visitor));
    callers.push(("operator".to_owned(), operator.clone()));

    let mut failures = Vec::new();
    let mut calls = 0;
    for p in &probes {
        for (who, api) in &callers {
            // Operators run every clinic: a real clinic id is theirs to
            // act on, so the platform's operations only check that an
            // unknown clinic is 404 for them.
            let operator_on_platform = who == "operator" && p.platform;
            let missing_id = uuid::Uuid::now_v7().to_string();
            let missing = api
                .send(p.method.clone(), &p.path.replace("{id}", &missing_id), p.body.as_ref())
                .await;
            let (ms, mb) = (missing.status().as_u16(), missing.text().await.unwrap());
            calls += 1;
            let what = format!("{} {} as {who}", p.method, p.path);
            if operator_on_platform {
                if ms != 404 {
                    failures.push(format!("{what}: an unknown clinic answers {ms}, not 404: {mb}"));
                }
                continue;
            }
            let foreign = api
                .send(
                    p.method.clone(),
                    &p.path.replace("{id}", &theirs(p.kind)),
                    p.body.as_ref(),
                )
                .await;
            let (fs, fb) = (foreign.status().as_u16(), foreign.text().await.unwrap());
            calls += 1;
            if !matches!(fs, 403 | 404) {
                failures.push(format!("{what}: another clinic's id answers {fs}: {fb}"));
            }
            if !p.documented.contains(&fs) {
                failures.push(format!("{what}: {fs} is not in the document's {:?}", p.documented));
            }
            if (fs, &fb) != (ms, &mb) {
                failures.push(format!(
                    "{what}: another clinic's id answers {fs} {fb}, an unknown one {ms} {mb}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "tenancy probe ({calls} calls):\n{}",
        failures.join("\n")
    );

    // Nothing of Beta changed: its card, medical summary, grant, status,
    // and its manager still signs in with two-step codes.
    let card: Value = owner_b
        .get(&format!("/api/v1/clients/{client_b}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["given_name"], "Amelia");
    let now = owner_b
        .get(&format!("/api/v1/clients/{client_b}/medical"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(now, medical_b);
    let grants: Value = owner_b.get("/api/v1/support").await.json().await.unwrap();
    assert_eq!(grants["items"][0]["id"], grant_b.as_str());
    assert_eq!(grants["items"][0]["state"], "requested");
    let clinics = t.app.clinics().await.unwrap();
    let beta = clinics.iter().find(|c| c.id == b.id).expect("Beta is listed");
    assert!(beta.status.is_active(), "Beta was not suspended");
    t.login(b.by_role(Role::Manager)).await;
}
