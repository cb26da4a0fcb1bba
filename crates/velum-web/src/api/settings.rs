//! The clinic's settings through the API: read by its owner and managers,
//! replaced by its owner.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use velum_core::settings::{ClinicSettings, SettingsInput};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, ApiJson};

api_routes! {
    get "/settings" => get;
    put "/settings" => put;
}

/// The clinic's postal address.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsAddressJson {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub town: String,
    pub postcode: String,
}

/// A clinic's settings. `PUT` replaces all of them: a field left out or
/// null is cleared (retention: back to the statutory minimum).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsJson {
    /// An IANA time zone name; clinic-local dates (today, a client's age)
    /// are taken in it. Europe/London until changed.
    #[schema(example = "Europe/London")]
    pub time_zone: String,
    /// The clinic's name in its public pages' address: lower-case letters,
    /// digits and single hyphens, 3 to 63 characters, unique across the
    /// installation (409 when another clinic has it).
    #[serde(default)]
    #[schema(example = "bright-skin-leeds")]
    pub public_slug: Option<String>,
    /// The name shown to clients.
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub address: Option<SettingsAddressJson>,
    /// `cqc`, `his`, `hiw` or `rqia`; with `registration_number`.
    #[serde(default)]
    pub regulator: Option<String>,
    #[serde(default)]
    pub registration_number: Option<String>,
    /// The council that licensed the clinic for cosmetic procedures.
    #[serde(default)]
    pub licensing_authority: Option<String>,
    #[serde(default)]
    pub licence_number: Option<String>,
    /// 0 to 672.
    pub cancellation_notice_hours: i64,
    /// 0 (no reminder) to 672.
    pub reminder_lead_hours: i64,
    /// At least 8 (the statutory minimum, used when null), at most 100.
    #[serde(default)]
    pub clinical_retention_years: Option<i64>,
    /// At least 6 (the minimum, used when null), at most 100.
    #[serde(default)]
    pub financial_retention_years: Option<i64>,
}

fn json(s: &ClinicSettings) -> SettingsJson {
    let v = SettingsInput::from_settings(s);
    let opt = |t: String| (!t.is_empty()).then_some(t);
    SettingsJson {
        time_zone: v.time_zone,
        public_slug: opt(v.public_slug),
        display_name: opt(v.display_name),
        address: s.address.as_ref().map(|a| SettingsAddressJson {
            line1: a.line1.as_str().to_owned(),
            line2: a.line2.as_ref().map(|l| l.as_str().to_owned()),
            town: a.town.as_str().to_owned(),
            postcode: a.postcode.as_str().to_owned(),
        }),
        regulator: opt(v.regulator),
        registration_number: opt(v.registration_number),
        licensing_authority: opt(v.licensing_authority),
        licence_number: opt(v.licence_number),
        cancellation_notice_hours: i64::from(s.cancellation_notice.hours()),
        reminder_lead_hours: i64::from(s.reminder_lead.hours()),
        clinical_retention_years: s.clinical_retention.map(|y| i64::from(y.years())),
        financial_retention_years: s.financial_retention.map(|y| i64::from(y.years())),
    }
}

impl From<SettingsJson> for SettingsInput {
    fn from(b: SettingsJson) -> Self {
        let a = b.address;
        SettingsInput {
            time_zone: b.time_zone,
            public_slug: b.public_slug.unwrap_or_default(),
            display_name: b.display_name.unwrap_or_default(),
            line1: a.as_ref().map(|a| a.line1.clone()).unwrap_or_default(),
            line2: a.as_ref().and_then(|a| a.line2.clone()).unwrap_or_default(),
            town: a.as_ref().map(|a| a.town.clone()).unwrap_or_default(),
            postcode: a.map(|a| a.postcode).unwrap_or_default(),
            regulator: b.regulator.unwrap_or_default(),
            registration_number: b.registration_number.unwrap_or_default(),
            licensing_authority: b.licensing_authority.unwrap_or_default(),
            licence_number: b.licence_number.unwrap_or_default(),
            cancellation_notice_hours: b.cancellation_notice_hours.to_string(),
            reminder_lead_hours: b.reminder_lead_hours.to_string(),
            clinical_retention_years: b.clinical_retention_years.map(|y| y.to_string()).unwrap_or_default(),
            financial_retention_years: b.financial_retention_years.map(|y| y.to_string()).unwrap_or_default(),
        }
    }
}

/// The clinic's settings (the defaults until the owner saves any). Owners
/// and managers.
#[utoipa::path(get, path = "/api/v1/settings", operation_id = "get_settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = SettingsJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<SettingsJson>, ApiError> {
    let s = state.app.clinic_settings(&actor).await?;
    Ok(Json(json(&s)))
}

/// Replace the clinic's settings. Owner only. Every bad field is named
/// (422) and nothing is changed; a public slug another clinic has is 409.
#[utoipa::path(put, path = "/api/v1/settings", operation_id = "put_settings", request_body = SettingsJson, tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = SettingsJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<SettingsJson>,
) -> Result<Json<SettingsJson>, ApiError> {
    let s = state.app.update_clinic_settings(&actor, &body.into()).await?;
    Ok(Json(json(&s)))
}

velum_core::debug_redacted!(SettingsJson {
    display_name, address, registration_number, licence_number;
    shown: time_zone, public_slug, regulator, licensing_authority, cancellation_notice_hours,
        reminder_lead_hours, clinical_retention_years, financial_retention_years
});

velum_core::debug_redacted!(SettingsAddressJson {
    line1,
    line2,
    town,
    postcode
});
