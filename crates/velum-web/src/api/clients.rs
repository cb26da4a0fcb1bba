//! `/api/v1/clients`: the client card as JSON.

use axum::Json;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use velum_app::DuplicateMatch;
use velum_app::clients::{Card, ClientPatch, Contact, Listed, Medical};
use velum_core::client::{ClientInput, MedicalInput};
use velum_core::{ClientId, Section};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, ApiId, ApiJson};

api_routes! {
    get "/clients" => list;
    post "/clients" => create;
    post "/clients/search" => search;
    get "/clients/{id}" => get;
    patch "/clients/{id}" => update;
    get "/clients/{id}/medical" => get_medical;
    put "/clients/{id}/medical" => put_medical;
    get "/clients/{id}/access-log" => access_log;
}

/// A postal address.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressJson {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub town: String,
    /// UK postcode; normalised to upper case with one space ("SW1A 1AA").
    pub postcode: String,
}

velum_core::debug_redacted!(AddressJson {
    line1,
    line2,
    town,
    postcode
});

/// A client card's contact section.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientJson {
    pub id: String,
    pub given_name: String,
    pub family_name: String,
    /// YYYY-MM-DD.
    pub date_of_birth: String,
    pub email: Option<String>,
    /// E.164, e.g. "+447911123456".
    pub mobile: Option<String>,
    pub address: Option<AddressJson>,
    pub archived: bool,
    /// Bumped by every change.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn client_json(id: ClientId, archived: bool, c: &Contact) -> ClientJson {
    let d = &c.details;
    ClientJson {
        id: id.to_string(),
        given_name: d.given_name.as_str().to_owned(),
        family_name: d.family_name.as_str().to_owned(),
        date_of_birth: d.date_of_birth.to_iso(),
        email: d.email.as_ref().map(|e| e.as_str().to_owned()),
        mobile: d.mobile.as_ref().map(|m| m.as_str().to_owned()),
        address: d.address.as_ref().map(|a| AddressJson {
            line1: a.line1.as_str().to_owned(),
            line2: a.line2.as_ref().map(|l| l.as_str().to_owned()),
            town: a.town.as_str().to_owned(),
            postcode: a.postcode.as_str().to_owned(),
        }),
        archived,
        version: c.version,
        created_at: c.created_at.to_string(),
        updated_at: c.updated_at.to_string(),
    }
}

fn card_json(card: &Card) -> Result<ClientJson, ApiError> {
    let contact = card
        .contact
        .as_ref()
        .ok_or_else(|| ApiError(velum_app::AppError::Internal("card without contact".into())))?;
    Ok(client_json(card.header.id, card.header.archived, contact))
}

/// A new client card.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientJson {
    pub given_name: String,
    pub family_name: String,
    /// YYYY-MM-DD (DD/MM/YYYY is accepted too). Not in the future.
    pub date_of_birth: String,
    #[serde(default)]
    pub email: Option<String>,
    /// A UK mobile in any common format.
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub address: Option<AddressJson>,
}

velum_core::debug_redacted!(NewClientJson {
    given_name,
    family_name,
    date_of_birth,
    email,
    mobile,
    address
});

impl From<NewClientJson> for ClientInput {
    fn from(j: NewClientJson) -> Self {
        let a = j.address;
        ClientInput {
            given_name: j.given_name,
            family_name: j.family_name,
            date_of_birth: j.date_of_birth,
            email: j.email.unwrap_or_default(),
            mobile: j.mobile.unwrap_or_default(),
            line1: a.as_ref().map(|a| a.line1.clone()).unwrap_or_default(),
            line2: a.as_ref().and_then(|a| a.line2.clone()).unwrap_or_default(),
            town: a.as_ref().map(|a| a.town.clone()).unwrap_or_default(),
            postcode: a.map(|a| a.postcode).unwrap_or_default(),
        }
    }
}

/// Changes to a card: fields left out stay as they are; `""` clears an
/// optional field (email, mobile, address lines).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatchJson {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub address: Option<AddressPatchJson>,
}

velum_core::debug_redacted!(ClientPatchJson {
    given_name,
    family_name,
    date_of_birth,
    email,
    mobile,
    address
});

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPatchJson {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
}

velum_core::debug_redacted!(AddressPatchJson {
    line1,
    line2,
    town,
    postcode
});

impl From<ClientPatchJson> for ClientPatch {
    fn from(j: ClientPatchJson) -> Self {
        let a = j.address.unwrap_or_default();
        ClientPatch {
            given_name: j.given_name,
            family_name: j.family_name,
            date_of_birth: j.date_of_birth,
            email: j.email,
            mobile: j.mobile,
            line1: a.line1,
            line2: a.line2,
            town: a.town,
            postcode: a.postcode,
        }
    }
}

/// An existing card that looks like the one being created.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateJson {
    pub id: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    /// "name_and_date_of_birth", "email" or "mobile".
    pub reason: String,
}

impl From<DuplicateMatch> for DuplicateJson {
    fn from(d: DuplicateMatch) -> Self {
        DuplicateJson {
            id: d.id.to_string(),
            given_name: d.given_name,
            family_name: d.family_name,
            date_of_birth: d.date_of_birth,
            reason: d.reason.to_owned(),
        }
    }
}

/// A page of clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientListJson {
    pub items: Vec<ClientListItemJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A search result: the whole contact section, or only the name for roles
/// without the contact permission.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ClientListItemJson {
    Full(Box<ClientJson>),
    NameOnly(ClientNameJson),
}

/// Only the name, for roles without the contact permission. No other field:
/// a whole contact section is never mistaken for this.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientNameJson {
    pub id: String,
    pub given_name: String,
    pub family_name: String,
}

fn listed_json(l: &Listed) -> ClientListItemJson {
    match &l.contact {
        Some(c) => ClientListItemJson::Full(Box::new(client_json(l.header.id, l.header.archived, c))),
        None => ClientListItemJson::NameOnly(ClientNameJson {
            id: l.header.id.to_string(),
            given_name: l.header.given_name.clone(),
            family_name: l.header.family_name.clone(),
        }),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `next_cursor` from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Include archived cards.
    #[serde(default)]
    pub include_archived: bool,
}

/// The answer to `GET /api/v1/clients?q=…`: a search term in a URL ends up
/// in proxy and server access logs and in browser history, so searching is
/// `POST /api/v1/clients/search` only.
pub const SEARCH_IN_URL: &str =
    "a search does not go in the URL: POST /api/v1/clients/search with {\"q\", \"cursor\"} in the body";

/// List clients, 50 a page, in name order. To search, use
/// `POST /api/v1/clients/search`: a `q` parameter here is refused (400), so
/// that no name, date of birth, email or phone number is put in a URL.
#[utoipa::path(get, path = "/api/v1/clients", params(ListQuery), tag = "clients", security(("bearer" = [])),
    responses((status = 200, body = ClientListJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    RawQuery(raw): RawQuery,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ClientListJson>, Response> {
    let has_q = raw
        .as_deref()
        .is_some_and(|qs| qs.split('&').any(|p| p.split('=').next() == Some("q")));
    if has_q {
        return Err(crate::error::api_error(
            StatusCode::BAD_REQUEST,
            Some("q"),
            SEARCH_IN_URL,
        ));
    }
    let Query(q) = query.map_err(|_| {
        crate::error::api_error(
            StatusCode::BAD_REQUEST,
            None,
            "unknown or malformed query parameter (cursor, include_archived)",
        )
    })?;
    client_page(&state, &actor, "", q.cursor.as_deref(), q.include_archived).await
}

/// A client search. The query travels in the body so that it never
/// appears in a URL.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchJson {
    /// Name (prefix of family, given or full name), date of birth, email or
    /// phone; empty lists every client.
    #[serde(default)]
    pub q: String,
    /// `next_cursor` from the previous page of the same search.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Include archived cards.
    #[serde(default)]
    pub include_archived: bool,
}

velum_core::debug_redacted!(SearchJson { q; shown: cursor, include_archived });

/// Search clients by name prefix, date of birth, email or mobile, 50 a
/// page, in name order: the same page as `GET /api/v1/clients`.
#[utoipa::path(post, path = "/api/v1/clients/search", request_body = SearchJson, tag = "clients", security(("bearer" = [])),
    responses((status = 200, body = ClientListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<SearchJson>,
) -> Result<Json<ClientListJson>, Response> {
    client_page(&state, &actor, &body.q, body.cursor.as_deref(), body.include_archived).await
}

async fn client_page(
    state: &AppState,
    actor: &velum_core::Actor,
    q: &str,
    cursor: Option<&str>,
    include_archived: bool,
) -> Result<Json<ClientListJson>, Response> {
    let page = state
        .app
        .search_clients(actor, q, cursor, include_archived)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(ClientListJson {
        items: page.items.iter().map(listed_json).collect(),
        next_cursor: page.next,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// Create even though a similar card exists.
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Create a client card. 409 with `duplicates` when a card with the same
/// name and date of birth, email or mobile exists.
#[utoipa::path(post, path = "/api/v1/clients", request_body = NewClientJson, params(CreateQuery), tag = "clients", security(("bearer" = [])),
    responses((status = 201, body = ClientJson), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    query: Result<Query<CreateQuery>, axum::extract::rejection::QueryRejection>,
    ApiJson(body): ApiJson<NewClientJson>,
) -> Result<Response, Response> {
    let Query(CreateQuery { allow_duplicate: allow }) = query.map_err(|_| {
        crate::error::api_error(
            StatusCode::BAD_REQUEST,
            None,
            "unknown or malformed query parameter (allow_duplicate)",
        )
    })?;
    let card = state
        .app
        .create_client(&actor, &body.into(), allow)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    let json = card_json(&card).map_err(IntoResponse::into_response)?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Read a client's contact section (recorded in the access history).
#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "clients", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ClientJson), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClientId>,
) -> Result<Json<ClientJson>, ApiError> {
    let card = state.app.open_card(&actor, id, &[Section::Contact]).await?;
    Ok(Json(card_json(&card)?))
}

/// Change a client's contact details; the previous values are kept (sealed).
#[utoipa::path(patch, path = "/api/v1/clients/{id}", request_body = ClientPatchJson, tag = "clients", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ClientJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClientId>,
    ApiJson(body): ApiJson<ClientPatchJson>,
) -> Result<Json<ClientJson>, ApiError> {
    let card = state.app.update_client(&actor, id, body.into()).await?;
    Ok(Json(card_json(&card)?))
}

/// The medical summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct MedicalJson {
    pub allergies: Vec<String>,
    pub medications: Vec<String>,
    pub conditions: Vec<String>,
    pub notes: String,
    /// 0 when nothing has been recorded.
    pub version: i64,
}

/// A new medical summary (replaces the current one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicalInputJson {
    #[serde(default)]
    pub allergies: Vec<String>,
    #[serde(default)]
    pub medications: Vec<String>,
    #[serde(default)]
    pub conditions: Vec<String>,
    #[serde(default)]
    pub notes: String,
}

velum_core::debug_redacted!(MedicalInputJson {
    allergies,
    medications,
    conditions,
    notes
});

fn medical_json(m: &Medical) -> MedicalJson {
    let list = |v: &[velum_core::text::ShortText]| v.iter().map(|s| s.as_str().to_owned()).collect();
    MedicalJson {
        allergies: list(&m.summary.allergies),
        medications: list(&m.summary.medications),
        conditions: list(&m.summary.conditions),
        notes: m.summary.notes.as_str().to_owned(),
        version: m.version,
    }
}

/// Read the medical summary (practitioners, managers, owners).
#[utoipa::path(get, path = "/api/v1/clients/{id}/medical", tag = "clients", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = MedicalJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_medical(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClientId>,
) -> Result<Json<MedicalJson>, ApiError> {
    let card = state.app.open_card(&actor, id, &[Section::Medical]).await?;
    let m = card
        .medical
        .ok_or_else(|| ApiError(velum_app::AppError::Internal("no medical section".into())))?;
    Ok(Json(medical_json(&m)))
}

/// Replace the medical summary.
#[utoipa::path(put, path = "/api/v1/clients/{id}/medical", request_body = MedicalInputJson, tag = "clients", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = MedicalJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_medical(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClientId>,
    ApiJson(body): ApiJson<MedicalInputJson>,
) -> Result<Json<MedicalJson>, ApiError> {
    let input = MedicalInput {
        allergies: body.allergies,
        medications: body.medications,
        conditions: body.conditions,
        notes: body.notes,
    };
    let m = state.app.put_medical(&actor, id, &input).await?;
    Ok(Json(medical_json(&m)))
}

/// A page of the access history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogJson {
    pub events: Vec<AccessEventJson>,
    pub next_cursor: Option<String>,
}

/// One access: who, when, what, which sections.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEventJson {
    /// RFC 3339, UTC.
    pub at: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    /// "read", "create", "update", "archive", "denied", …
    pub action: String,
    pub sections: Vec<String>,
    pub purpose: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CursorQuery {
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Who opened or changed this card, newest first.
#[utoipa::path(get, path = "/api/v1/clients/{id}/access-log", params(("id" = uuid::Uuid, Path), CursorQuery), tag = "clients", security(("bearer" = [])),
    responses((status = 200, body = AccessLogJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn access_log(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClientId>,
    query: Result<Query<CursorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AccessLogJson>, Response> {
    let Query(q) = query.map_err(|_| {
        crate::error::api_error(
            StatusCode::BAD_REQUEST,
            None,
            "unknown or malformed query parameter (cursor)",
        )
    })?;
    let (_, page) = state
        .app
        .access_log(&actor, id, q.cursor.as_deref())
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(AccessLogJson {
        events: page
            .items
            .iter()
            .map(|e| AccessEventJson {
                at: e.at.to_string(),
                actor_id: e.actor_id.map(|a| a.to_string()),
                actor_name: e.actor_name.clone(),
                action: e.action.as_str().to_owned(),
                sections: e.sections.iter().map(|s| s.as_str().to_owned()).collect(),
                purpose: e.purpose.clone(),
            })
            .collect(),
        next_cursor: page.next,
    }))
}

#[cfg(test)]
mod tests {
    use super::{AddressJson, AddressPatchJson, ClientPatchJson, MedicalInputJson, NewClientJson, SearchJson};
    use crate::api::auth::LoginRequest;
    use crate::api::platform::{NewClinicJson, SupportRequestJson};

    const CANARY: &str = "Quarrington";

    /// Every JSON request body that can carry personal data prints its type
    /// and field names only (docs/LOGGING.md).
    #[test]
    fn request_bodies_debug_without_values() {
        let c = || CANARY.to_owned();
        let address = || AddressJson {
            line1: c(),
            line2: Some(c()),
            town: c(),
            postcode: c(),
        };
        let address_patch = || AddressPatchJson {
            line1: Some(c()),
            line2: Some(c()),
            town: Some(c()),
            postcode: Some(c()),
        };
        let texts = [
            format!("{:?}", address()),
            format!(
                "{:?}",
                NewClientJson {
                    given_name: c(),
                    family_name: c(),
                    date_of_birth: c(),
                    email: Some(c()),
                    mobile: Some(c()),
                    address: Some(address()),
                }
            ),
            format!(
                "{:#?}",
                ClientPatchJson {
                    given_name: Some(c()),
                    family_name: Some(c()),
                    date_of_birth: Some(c()),
                    email: Some(c()),
                    mobile: Some(c()),
                    address: Some(address_patch()),
                }
            ),
            format!("{:?}", address_patch()),
            format!(
                "{:?}",
                MedicalInputJson {
                    allergies: vec![c()],
                    medications: vec![c()],
                    conditions: vec![c()],
                    notes: c(),
                }
            ),
            format!(
                "{:?}",
                SearchJson {
                    q: c(),
                    cursor: None,
                    include_archived: true,
                }
            ),
            format!(
                "{:?}",
                LoginRequest {
                    email: c(),
                    password: c(),
                    totp: c(),
                }
            ),
            format!(
                "{:?}",
                NewClinicJson {
                    name: c(),
                    owner_email: c(),
                }
            ),
            format!(
                "{:?}",
                SupportRequestJson {
                    reason: c(),
                    minutes: Some(30),
                }
            ),
            format!("{:?}", crate::extract::ApiJson(address())),
        ];
        for text in texts {
            assert!(!text.contains(CANARY), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
