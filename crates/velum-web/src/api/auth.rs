//! API sign-in: email, password and TOTP code in one request.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ClientIp};

api_routes! {
    post "/auth/login" => login;
    post "/auth/logout" => logout;
    post "/auth/password-reset" => password_reset;
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The current 6-digit code from the authenticator app, or one of the
    /// account's single-use recovery codes (`abcd-efgh-ijkl-mnop`).
    pub totp: String,
}

velum_core::debug_redacted!(LoginRequest { email, password, totp });

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Absolute expiry (RFC 3339, UTC). Sessions also end after 30 minutes unused.
    pub expires_at: String,
    /// Only when a recovery code was used to sign in: how many unused
    /// recovery codes the account has left (the account holder is emailed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes_left: Option<i64>,
}

/// Sign in. Every failure is the same 401, whatever was wrong, with one
/// exception that only a correct password can reach: a clinic its provider
/// has suspended is a 403 with `"code": "clinic_suspended"`. Too many
/// attempts from one address (at one account, or at all) are refused with
/// a 429, `"code": "too_many_attempts"` and a `Retry-After` header, before
/// anything is checked.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest, tag = "auth",
    responses((status = 200, body = LoginResponse),
        (status = 401, body = ErrorBody, description = "Email, password or code not recognised (the same answer whatever was wrong)"),
        (status = 403, body = ErrorBody, description = "The password was right but the clinic is suspended (`\"code\": \"clinic_suspended\"`)"),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let s = state
        .app
        .api_sign_in(&body.email, &body.password, &body.totp, ip.text().as_deref())
        .await?;
    Ok(Json(LoginResponse {
        token: s.token,
        expires_at: s.expires_at.to_string(),
        recovery_codes_left: s.recovery_codes_left,
    }))
}

/// End this token's session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    crate::extract::ApiActor(actor): crate::extract::ApiActor,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    state.app.sign_out(&token, Some(&actor)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

impl std::fmt::Debug for PasswordResetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordResetRequest")
            .field("email", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetAccepted {
    /// The same words whether or not the email has an account.
    pub message: String,
}

/// Ask for a password-reset link. The answer is the same 202, with the same
/// body, whether or not the email has an account: the request is queued and
/// the background worker mails a single-use link (valid for one hour; it
/// replaces any earlier one) only if it has. Too many requests from one
/// address are refused with a 429, `"code": "too_many_attempts"` and a
/// `Retry-After` header.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", request_body = PasswordResetRequest, tag = "auth",
    responses((status = 202, body = PasswordResetAccepted), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn password_reset(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> Result<Response, ApiError> {
    state
        .app
        .request_password_reset(&body.email, ip.text().as_deref())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PasswordResetAccepted {
            message: "If that address has a Velum account, a link to choose a new password is on its way. \
                      It works once, for one hour."
                .into(),
        }),
    )
        .into_response())
}
