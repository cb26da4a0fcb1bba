//! Sign-in, two-step verification, sign-out, set-up and reset pages.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use velum_app::AppError;
use velum_app::auth::LinkPurpose;
use velum_app::auth::Stage;
use velum_core::client::FieldErrors;

use super::{Errors, Nav, ok, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{
    CSRF_COOKIE, ClientIp, CookieJar, CsrfForm, Form, NoFields, PENDING_COOKIE, SESSION_COOKIE, StaffSession,
    constant_eq, cookie, removal,
};

/// Signing in and out, first run, the account's password, set-up and reset.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/first-run", get(first_run_form).post(first_run))
        .route("/login", get(login_form).post(login))
        .route("/login/code", get(code_form).post(code))
        .route("/login/two-step-setup", get(enrol_form).post(enrol))
        .route("/logout", post(logout))
        .route("/account/password", get(password_form).post(change_password))
        .route("/forgot-password", get(forgot_form).post(forgot))
        .route("/reset/{token}", get(reset_form).post(reset))
        .route("/setup/{token}", get(setup_form).post(setup))
}

/// Forms shown before sign-in carry a random token that must match a cookie
/// (double submit), since there is no session yet.
fn anon_csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF_COOKIE) {
        let v = c.value().to_owned();
        return (jar, v);
    }
    let v = uuid::Uuid::new_v4().simple().to_string();
    (jar.add(cookie(CSRF_COOKIE, v.clone(), secure)), v)
}

fn anon_csrf_ok(jar: &CookieJar, submitted: &str) -> bool {
    jar.get(CSRF_COOKIE)
        .is_some_and(|c| !submitted.is_empty() && constant_eq(c.value().as_bytes(), submitted.as_bytes()))
}

fn expired_form() -> Response {
    crate::error::error_page(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Please go back, reload the page and try again.",
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    email: String,
    errors: Errors,
    notice: String,
}

pub async fn home(
    State(state): State<AppState>,
    session: Result<StaffSession, Response>,
) -> Result<Response, PageError> {
    if let Ok(s) = session {
        let to = if s.account.role == velum_core::Role::Operator {
            "/platform"
        } else {
            "/clients"
        };
        return Ok(Redirect::to(to).into_response());
    }
    if state.app.clinics().await?.is_empty() {
        return Ok(Redirect::to("/first-run").into_response());
    }
    Ok(Redirect::to("/login").into_response())
}

pub async fn login_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = anon_csrf(jar, state.config.secure_cookies);
    (
        jar,
        ok(&LoginPage {
            nav: None,
            csrf,
            email: String::new(),
            errors: Errors::default(),
            notice: String::new(),
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    if !anon_csrf_ok(&jar, &form.csrf) {
        return Ok(expired_form());
    }
    match state
        .app
        .web_sign_in(&form.email, &form.password, ip.text().as_deref())
        .await
    {
        Ok(pending) => {
            let next = if pending.stage == Stage::Enrol {
                "/login/two-step-setup"
            } else {
                "/login/code"
            };
            let jar = jar.add(cookie(PENDING_COOKIE, pending.token, state.config.secure_cookies));
            Ok((jar, Redirect::to(next)).into_response())
        }
        Err(AppError::BadCredentials) => {
            let csrf = form.csrf;
            Ok(render(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    nav: None,
                    csrf,
                    email: form.email,
                    errors: Errors(FieldErrors::single("credentials", "Email or password not recognised.")),
                    notice: String::new(),
                },
            ))
        }
        Err(AppError::ClinicSuspended) => Ok(render(
            StatusCode::FORBIDDEN,
            &LoginPage {
                nav: None,
                csrf: form.csrf,
                email: form.email,
                errors: Errors(FieldErrors::single("credentials", crate::error::CLINIC_SUSPENDED)),
                notice: String::new(),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    nav: Option<Nav>,
    csrf: String,
    errors: Errors,
}

pub async fn code_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    if jar.get(PENDING_COOKIE).is_none() {
        return Redirect::to("/login").into_response();
    }
    let (jar, csrf) = anon_csrf(jar, state.config.secure_cookies);
    (
        jar,
        ok(&CodePage {
            nav: None,
            csrf,
            errors: Errors::default(),
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    /// Set by the "Lost your phone?" form instead of `code`.
    #[serde(default)]
    recovery_code: String,
}

pub async fn code(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    if !anon_csrf_ok(&jar, &form.csrf) {
        return Ok(expired_form());
    }
    let Some(pending) = jar.get(PENDING_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    // Both forms go to the same check, which takes an app code or a
    // recovery code; the error goes on the field the person used.
    let recovery = form.code.trim().is_empty() && !form.recovery_code.trim().is_empty();
    let typed = if recovery { &form.recovery_code } else { &form.code };
    match state.app.web_verify_totp(&pending, typed, ip.text().as_deref()).await {
        Ok(session) if session.recovery_codes_left.is_some() => {
            // Signed in with a recovery code: show how many are left.
            let jar = jar.remove(removal(PENDING_COOKIE)).add(cookie(
                SESSION_COOKIE,
                session.token,
                state.config.secure_cookies,
            ));
            Ok((jar, Redirect::to("/account/recovery-codes?used=1")).into_response())
        }
        Ok(session) => Ok(signed_in(jar, session.token, state.config.secure_cookies)),
        Err(AppError::BadCredentials) => Ok(render(
            StatusCode::UNAUTHORIZED,
            &CodePage {
                nav: None,
                csrf: form.csrf,
                errors: Errors(if recovery {
                    FieldErrors::single(
                        "recovery_code",
                        "was not accepted. Check you typed one of the codes you saved; each works once.",
                    )
                } else {
                    FieldErrors::single(
                        "code",
                        "was not accepted. Codes change every 30 seconds and each works once: wait for the next code and try again.",
                    )
                }),
            },
        )),
        Err(AppError::Unauthenticated) => {
            Ok((jar.remove(removal(PENDING_COOKIE)), Redirect::to("/login")).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn signed_in(jar: CookieJar, token: String, secure: bool) -> Response {
    let jar = jar
        .remove(removal(PENDING_COOKIE))
        .add(cookie(SESSION_COOKIE, token, secure));
    (jar, Redirect::to("/")).into_response()
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    nav: Option<Nav>,
    csrf: String,
    qr_svg: String,
    secret: String,
    errors: Errors,
}

async fn enrol_page(
    state: &AppState,
    jar: CookieJar,
    errors: Errors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let Some(pending) = jar.get(PENDING_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let enrolment = match state.app.web_enrolment(&pending).await {
        Ok(e) => e,
        Err(AppError::Unauthenticated) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e.into()),
    };
    let (jar, csrf) = anon_csrf(jar, state.config.secure_cookies);
    let secret = enrolment
        .secret_base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok((
        jar,
        render(
            status,
            &EnrolPage {
                nav: None,
                csrf,
                qr_svg: enrolment.qr_svg,
                secret,
                errors,
            },
        ),
    )
        .into_response())
}

pub async fn enrol_form(State(state): State<AppState>, jar: CookieJar) -> Result<Response, PageError> {
    enrol_page(&state, jar, Errors::default(), StatusCode::OK).await
}

pub async fn enrol(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    if !anon_csrf_ok(&jar, &form.csrf) {
        return Ok(expired_form());
    }
    let Some(pending) = jar.get(PENDING_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    match state
        .app
        .web_confirm_enrolment(&pending, &form.code, ip.text().as_deref())
        .await
    {
        Ok(session) => {
            // Signed in, and the recovery codes are shown this once.
            let jar = jar.remove(removal(PENDING_COOKIE)).add(cookie(
                SESSION_COOKIE,
                session.token,
                state.config.secure_cookies,
            ));
            Ok((
                jar,
                super::recovery::codes_page(None, "Two-step sign-in is set up", session.recovery_codes),
            )
                .into_response())
        }
        Err(AppError::Validation(errors)) => {
            enrol_page(&state, jar, Errors(errors), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::Unauthenticated) => Ok(Redirect::to("/login").into_response()),
        Err(e) => Err(e.into()),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    session: StaffSession,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    state.app.sign_out(&session.token, Some(&session.actor)).await?;
    Ok((jar.remove(removal(SESSION_COOKIE)), Redirect::to("/login")).into_response())
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    nav: Option<Nav>,
    title: String,
    message: String,
    link: String,
    link_text: String,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    nav: Option<Nav>,
    csrf: String,
}

pub async fn forgot_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = anon_csrf(jar, state.config.secure_cookies);
    (jar, ok(&ForgotPage { nav: None, csrf })).into_response()
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    if !anon_csrf_ok(&jar, &form.csrf) {
        return Ok(expired_form());
    }
    state
        .app
        .request_password_reset(&form.email, ip.text().as_deref())
        .await?;
    Ok(ok(&MessagePage {
        nav: None,
        title: "Check your email".into(),
        message: "If that address has a Velum account, a link to choose a new password is on its way. The link works once, for one hour.".into(),
        link: "/login".into(),
        link_text: "Back to sign in".into(),
    }))
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Option<Nav>,
    csrf: String,
    title: String,
    email: String,
    ask_name: bool,
    display_name: String,
    errors: Errors,
}

async fn password_page(
    state: &AppState,
    jar: CookieJar,
    token: &str,
    purpose: LinkPurpose,
) -> Result<Response, PageError> {
    let (email, name) = state.app.link_account(token, purpose).await?;
    let (jar, csrf) = anon_csrf(jar, state.config.secure_cookies);
    let setup = purpose == LinkPurpose::Setup;
    Ok((
        jar,
        ok(&PasswordPage {
            nav: None,
            csrf,
            title: if setup {
                "Set up your account".into()
            } else {
                "Choose a new password".into()
            },
            email,
            ask_name: setup,
            display_name: if setup { name } else { String::new() },
            errors: Errors::default(),
        }),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    password: String,
}

async fn save_password(
    state: &AppState,
    jar: CookieJar,
    ip: ClientIp,
    token: &str,
    purpose: LinkPurpose,
    form: PasswordForm,
) -> Result<Response, PageError> {
    if !anon_csrf_ok(&jar, &form.csrf) {
        return Ok(expired_form());
    }
    let setup = purpose == LinkPurpose::Setup;
    let name = if setup { form.display_name.as_deref() } else { None };
    match state
        .app
        .set_password_with_link(token, purpose, name, &form.password, ip.text().as_deref())
        .await
    {
        Ok(()) => Ok(ok(&MessagePage {
            nav: None,
            title: "Password saved".into(),
            message: if setup {
                "Your password is set. Sign in now: you will be asked to set up two-step sign-in with an authenticator app.".into()
            } else {
                "Your password has been changed and every session of your account has been ended. Sign in with the new password.".into()
            },
            link: "/login".into(),
            link_text: "Sign in".into(),
        })),
        Err(AppError::Validation(errors)) => {
            let (email, _) = state.app.link_account(token, purpose).await?;
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasswordPage {
                    nav: None,
                    csrf: form.csrf,
                    title: if setup {
                        "Set up your account".into()
                    } else {
                        "Choose a new password".into()
                    },
                    email,
                    ask_name: setup,
                    display_name: form.display_name.unwrap_or_default(),
                    errors: Errors(errors),
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn reset_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    password_page(&state, jar, &token, LinkPurpose::Reset).await
}

pub async fn reset(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    save_password(&state, jar, ip, &token, LinkPurpose::Reset, form).await
}

pub async fn setup_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    password_page(&state, jar, &token, LinkPurpose::Setup).await
}

pub async fn setup(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    save_password(&state, jar, ip, &token, LinkPurpose::Setup, form).await
}

#[derive(Template)]
#[template(path = "first_run.html")]
struct FirstRunPage {
    nav: Option<Nav>,
    csrf: String,
    token: String,
    name: String,
    owner_email: String,
    errors: Errors,
}

#[derive(Deserialize)]
pub struct FirstRunQuery {
    #[serde(default)]
    token: String,
}

/// Whether `given` is the first-run token the server printed.
fn first_run_allowed(state: &AppState, given: &str) -> bool {
    state
        .config
        .first_run_token
        .as_deref()
        .is_some_and(|t| constant_eq(t.as_bytes(), given.as_bytes()))
}

/// Shown only while no clinic exists, and only with the token the server
/// printed at start: create the first clinic and its owner.
pub async fn first_run_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<FirstRunQuery>,
) -> Result<Response, PageError> {
    if !state.app.clinics().await?.is_empty() {
        return Ok(Redirect::to("/login").into_response());
    }
    if !first_run_allowed(&state, &q.token) {
        return Ok(ok(&MessagePage {
            nav: None,
            title: "Welcome to Velum".into(),
            message: "No clinic exists yet. Open the first-run link that `velum serve` printed on its console, \
                      or create a clinic with `velum clinic create`."
                .into(),
            link: String::new(),
            link_text: String::new(),
        }));
    }
    let (jar, csrf) = anon_csrf(jar, state.config.secure_cookies);
    Ok((
        jar,
        ok(&FirstRunPage {
            nav: None,
            csrf,
            token: q.token,
            name: String::new(),
            owner_email: String::new(),
            errors: Errors::default(),
        }),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct FirstRunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    owner_email: String,
}

pub async fn first_run(
    State(state): State<AppState>,
    jar: CookieJar,
    ip: ClientIp,
    Form(form): Form<FirstRunForm>,
) -> Result<Response, PageError> {
    if !anon_csrf_ok(&jar, &form.csrf) {
        return Ok(expired_form());
    }
    if !first_run_allowed(&state, &form.token) {
        return Ok(Redirect::to("/login").into_response());
    }
    match state
        .app
        .create_first_clinic(&form.name, &form.owner_email, ip.text().as_deref())
        .await
    {
        // A clinic exists (made meanwhile, perhaps by another first run).
        Err(AppError::Forbidden) => Ok(Redirect::to("/login").into_response()),
        Ok(created) => Ok(ok(&MessagePage {
            nav: None,
            title: "Clinic created".into(),
            message:
                "Open this one-time link to set the owner's password. It works once, for 72 hours; keep it private."
                    .into(),
            link: created.setup_link.clone(),
            link_text: created.setup_link,
        })),
        Err(AppError::Validation(errors) | AppError::Conflict(errors)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FirstRunPage {
                nav: None,
                csrf: form.csrf,
                token: form.token,
                name: form.name,
                owner_email: form.owner_email,
                errors: Errors(errors),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Option<Nav>,
    errors: Errors,
}

pub async fn password_form(session: StaffSession) -> Response {
    ok(&AccountPage {
        nav: Some(Nav::of(&session)),
        errors: Errors::default(),
    })
}

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    session: StaffSession,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .change_own_password(&session.actor, &form.current_password, &form.password)
        .await
    {
        Ok(()) => Ok((
            jar.remove(removal(SESSION_COOKIE)),
            ok(&MessagePage {
                nav: None,
                title: "Password changed".into(),
                message: "Your password has been changed and you have been signed out everywhere. Sign in with the new password.".into(),
                link: "/login".into(),
                link_text: "Sign in".into(),
            }),
        )
            .into_response()),
        Err(AppError::Validation(errors)) => {
            // The new password's field is labelled "New password" here.
            let mut shown = FieldErrors::new();
            for e in errors.as_slice() {
                let field = if e.field == "password" { "new_password" } else { e.field.as_str() };
                shown.add(field, e.message.clone());
            }
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &AccountPage {
                    nav: Some(Nav::of(&session)),
                    errors: Errors(shown),
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}
