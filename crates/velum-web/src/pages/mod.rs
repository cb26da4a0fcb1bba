//! Server-rendered pages for staff. Each handler: extract, parse, call one
//! use case, render. Pages work without JavaScript; forms carry a CSRF token
//! and re-render with what was typed when something is wrong.

pub mod assets;
mod audit;
mod auth;
mod clients;
mod jobs;
mod platform;
mod recovery;
mod settings;
mod staff;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use velum_core::Role;
use velum_core::client::FieldErrors;

use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;

/// Every page route: each module serves its own, and all of them pass the
/// same-origin check.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(auth::routes())
        .merge(recovery::routes())
        .merge(clients::routes())
        .merge(audit::routes())
        .merge(settings::routes())
        .merge(jobs::routes())
        .merge(staff::routes())
        .merge(platform::routes())
        .layer(axum::middleware::from_fn(crate::middleware::same_origin))
}

/// What the page header shows for a signed-in member of staff.
#[derive(Clone, Debug)]
pub struct Nav {
    pub name: String,
    pub role: &'static str,
    pub csrf: String,
    pub is_admin: bool,
    pub can_audit: bool,
    pub is_owner: bool,
    pub can_read_settings: bool,
    pub is_operator: bool,
    /// On a support visit: the clinic's name and when the grant ends.
    pub visit: Option<(String, String)>,
}

impl Nav {
    pub fn of(s: &StaffSession) -> Nav {
        Nav {
            name: s.info.display_name.clone(),
            role: s.account.role.label(),
            csrf: s.info.csrf_token.clone(),
            is_admin: s.account.role.may_manage_staff(),
            can_audit: s.account.role.may_read_audit(),
            is_owner: s.account.role == Role::Owner,
            can_read_settings: velum_app::settings::may_read(s.account.role),
            is_operator: s.account.role == Role::Operator,
            visit: s
                .info
                .support
                .as_ref()
                .map(|v| (v.clinic_name.clone(), clients::when(v.until))),
        }
    }
}

/// Render a template, or a generic error page if rendering fails.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => PageError(velum_app::AppError::Internal(format!("template: {e}"))).into_response(),
    }
}

pub fn ok<T: Template>(t: &T) -> Response {
    render(StatusCode::OK, t)
}

/// A form's errors, keyed by field, for templates.
#[derive(Clone, Debug, Default)]
pub struct Errors(pub FieldErrors);

impl Errors {
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).unwrap_or("")
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.get(field).is_some()
    }
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
    pub fn all(&self) -> Vec<(String, String, String)> {
        self.0
            .as_slice()
            .iter()
            .map(|e| (e.field.clone(), label(&e.field).to_owned(), e.message.clone()))
            .collect()
    }
}

/// Human labels for field names in error summaries.
pub fn label(field: &str) -> &str {
    match field {
        "given_name" => "Given name",
        "family_name" => "Family name",
        "date_of_birth" => "Date of birth",
        "email" | "owner_email" => "Email",
        "mobile" => "Mobile",
        "line1" => "Address line 1",
        "line2" => "Address line 2",
        "town" => "Town",
        "postcode" => "Postcode",
        "password" => "Password",
        "current_password" => "Current password",
        "new_password" => "New password",
        "display_name" => "Name",
        "role" => "Role",
        "code" => "Code",
        "recovery_code" => "Recovery code",
        "credentials" => "",
        "name" => "Clinic name",
        "notes" => "Notes",
        "reason" => "Reason",
        "minutes" => "Minutes",
        "confirm_name" => "Clinic name, to confirm",
        "passphrase" => "Archive passphrase",
        "passphrase_again" => "The passphrase again",
        "totp_code" => "Two-step code",
        "clinic" => "Clinic",
        "public_slug" => "Public address name",
        "time_zone" => "Time zone",
        "regulator" => "Regulator",
        "registration_number" => "Registration number",
        "licensing_authority" => "Licensing authority",
        "licence_number" => "Licence number",
        "cancellation_notice_hours" => "Cancellation notice",
        "reminder_lead_hours" => "Reminder",
        "clinical_retention_years" => "Clinical records",
        "financial_retention_years" => "Invoices and payments",
        f if f.starts_with("allergies") => "Allergies",
        f if f.starts_with("medications") => "Medications",
        f if f.starts_with("conditions") => "Conditions",
        other => other,
    }
}

pub async fn not_found() -> Response {
    PageError(velum_app::AppError::NotFound).into_response()
}
