//! The OpenAPI 3.1 document: the paths of every module's route table
//! (`super::MODULES`, from each handler's `#[utoipa::path]`) under the
//! description here, completed by `CommonResponses` (pinned by a snapshot
//! test).

use axum::Json;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorItem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Velum API",
        version = "1",
        description = "Practice management for UK aesthetic clinics. Every read of a client's record is recorded in its access history.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(ErrorBody, ErrorItem)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Signing in"), (name = "clients", description = "Client cards"), (name = "audit", description = "The clinic's audit trail"),
        (name = "platform", description = "Hosted mode, for platform operators: clinics, usage, health, asking for support access"),
        (name = "support", description = "Break-glass support access, decided by the clinic's owner"),
        (name = "staff", description = "Staff administration, for owners and managers"),
        (name = "settings", description = "The clinic's own settings: read by owners and managers, changed by owners"),
        (name = "jobs", description = "Background jobs that failed, for the clinic's owner"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Completes every operation's responses so the document says what the
/// server does and is valid OpenAPI 3.1 (a response must have a
/// description):
/// - the errors every operation of its kind can answer, in the envelope:
///   401 with a bearer token, 400 with a path id or query parameters,
///   400/413/415 with a JSON body (malformed, larger than 64 KiB, not
///   `application/json`), 422 for a field not accepted;
/// - a description for each response that has none, by status.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                complete(op);
            }
        }
    }
}

fn complete(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params
        .iter()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
    let has_query = params
        .iter()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
    let has_body = op.request_body.is_some();
    let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut add = Vec::new();
    if signed_in {
        add.push("401");
    }
    if has_path || has_query || has_body {
        add.push("400");
    }
    if has_body {
        add.extend(["413", "415"]);
    }
    if has_query || has_body {
        add.push("422");
    }
    for status in add {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_response()));
    }
    for (status, response) in &mut op.responses.responses {
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            status_description(status).clone_into(&mut r.description);
        }
    }
}

fn error_response() -> Response {
    ResponseBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// What a status means in this API, for a response documented without
/// words of its own.
fn status_description(status: &str) -> &'static str {
    match status {
        "200" => "Done; the result is in the body",
        "201" => "Created; the new resource is in the body",
        "202" => "Accepted; the work happens in the background",
        "204" => "Done; no body",
        "400" => {
            "The request could not be read: a malformed body, query parameter or path id \
                  (the error names the field when it can)"
        }
        "401" => "Not signed in: no bearer token, or one that is not (or no longer) valid",
        "403" => "The caller's role does not allow this, or the clinic's state refuses it",
        "404" => "Not found (or not visible to the caller)",
        "409" => "Refused: it conflicts with the current state",
        "413" => "The body is larger than 64 KiB",
        "415" => "The body is not sent as application/json",
        "422" => "A field was not accepted (each error names its field), or the body is not a JSON object",
        "429" => "Too many attempts: wait for the seconds in Retry-After",
        "500" => "An internal error; it has been logged and nothing of it is shown",
        _ => "See the error envelope",
    }
}

/// The whole document.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for paths in super::paths() {
        doc.merge(paths);
    }
    CommonResponses.modify(&mut doc);
    doc
}

/// The document as JSON text.
#[must_use]
pub fn openapi_json() -> String {
    document().to_pretty_json().unwrap_or_default()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// `(method, path)` of every operation in the document, upper-case method.
#[must_use]
pub fn documented_operations() -> Vec<(String, String)> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
            ("HEAD", &item.head),
            ("OPTIONS", &item.options),
            ("TRACE", &item.trace),
        ] {
            if op.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// `(method, path)` of every route of the table, as served.
#[must_use]
pub fn routed_operations() -> Vec<(String, String)> {
    super::routed()
        .map(|(method, path)| (method.to_uppercase(), format!("/api/v1{path}")))
        .collect()
}

#[cfg(test)]
mod tests {
    /// Every route of the table is documented at the method and path it is
    /// served at (a handler's `#[utoipa::path]` that disagrees with its line
    /// in the table fails here), and nothing else is documented.
    #[test]
    fn every_route_is_documented_where_it_is_served_and_nothing_else_is() {
        let mut routed = super::routed_operations();
        routed.sort();
        let before = routed.len();
        routed.dedup();
        assert_eq!(routed.len(), before, "a route is in the table twice");
        let mut documented = super::documented_operations();
        documented.sort();
        assert_eq!(routed, documented);
        assert_eq!(routed.len(), 29);
    }
}
