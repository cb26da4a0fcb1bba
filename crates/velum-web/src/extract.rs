//! Extractors: who is asking (G6), and request bodies parsed into our error
//! format (G11).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, IntoResponseParts, Redirect, Response, ResponseParts};
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use velum_app::auth::SessionInfo;
use velum_core::{Actor, StaffActor};

use crate::AppState;
use crate::error::{ApiError, api_error};

/// A cookie's name. Over HTTPS it carries the `__Host-` prefix, so a
/// browser only accepts it when it is `Secure`, has `Path=/` and no
/// `Domain`: a neighbouring subdomain cannot plant or overwrite it. Browsers
/// refuse that prefix on cookies without `Secure`, so over plain HTTP
/// (`--insecure-http`, the loopback demo) the bare name is used instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieName(&'static str, &'static str);

impl CookieName {
    /// The name on the wire: `__Host-…` over HTTPS, bare over plain HTTP.
    #[must_use]
    pub fn name(self, secure: bool) -> &'static str {
        if secure { self.0 } else { self.1 }
    }
}

pub const SESSION_COOKIE: CookieName = CookieName("__Host-velum_session", "velum_session");
pub const PENDING_COOKIE: CookieName = CookieName("__Host-velum_pending", "velum_pending");
pub const CSRF_COOKIE: CookieName = CookieName("__Host-velum_csrf", "velum_csrf");

/// A session cookie: HttpOnly, SameSite=Strict, `Path=/`, no `Domain`;
/// `Secure` and `__Host-` prefixed over HTTPS.
pub fn cookie(name: CookieName, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name.name(secure), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .build()
}

/// The cookies of a page request, read and written under the names this
/// server uses ([`CookieName`]): only the `__Host-` names over HTTPS, so a
/// bare-named cookie planted by another site on the same domain is ignored.
#[derive(Clone, Debug)]
pub struct CookieJar {
    jar: axum_extra::extract::CookieJar,
    secure: bool,
}

/// A cookie to delete ([`CookieJar::remove`]).
#[derive(Clone, Copy, Debug)]
pub struct Removal(CookieName);

/// Delete the cookie `name` (with the attributes it was set with, or the
/// browser keeps a `__Host-` cookie).
#[must_use]
pub fn removal(name: CookieName) -> Removal {
    Removal(name)
}

impl CookieJar {
    #[must_use]
    pub fn get(&self, name: CookieName) -> Option<&Cookie<'static>> {
        self.jar.get(name.name(self.secure))
    }

    #[must_use]
    pub fn add(self, cookie: Cookie<'static>) -> Self {
        CookieJar {
            jar: self.jar.add(cookie),
            secure: self.secure,
        }
    }

    #[must_use]
    pub fn remove(self, Removal(name): Removal) -> Self {
        let mut c = cookie(name, String::new(), self.secure);
        c.make_removal();
        CookieJar {
            jar: self.jar.remove(c),
            secure: self.secure,
        }
    }
}

impl FromRequestParts<AppState> for CookieJar {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(CookieJar {
            jar: axum_extra::extract::CookieJar::from_headers(&parts.headers),
            secure: state.config.secure_cookies,
        })
    }
}

impl IntoResponseParts for CookieJar {
    type Error = std::convert::Infallible;
    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        self.jar.into_response_parts(res)
    }
}

impl IntoResponse for CookieJar {
    fn into_response(self) -> Response {
        self.jar.into_response()
    }
}

/// The caller's address: the source for throttling and the audit trail.
/// The TCP peer, unless the peer is a trusted proxy (see
/// [`crate::WebConfig::trusted_proxies`] and [`source_address`]).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(peer.map(|p| {
            source_address(p, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

/// The source address of a request from `peer`. When `peer` is a trusted
/// proxy, the hops its headers list (`Forwarded: for=`, else
/// `X-Forwarded-For`) are read from the right, skipping trusted proxies:
/// the first hop that is not one is the source. A hop that cannot be read
/// stops the walk at the last address known. Otherwise the headers are
/// ignored: anyone can send them.
#[must_use]
pub fn source_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<Option<IpAddr>> = headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("for=unknown").split(','))
        .map(|element| {
            element
                .split(';')
                .find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| parse_hop(v))
                })
                .flatten()
        })
        .collect();
    let hops = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("unknown").split(','))
            .map(parse_hop)
            .collect()
    } else {
        forwarded
    };
    let mut source = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                source = *ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    source
}

/// One hop: `203.0.113.7`, `203.0.113.7:4711`, `"[2001:db8::1]:4711"`,
/// `2001:db8::1`. `None` for anything else (`unknown`, obfuscated names).
fn parse_hop(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Some(rest) = t.strip_prefix('[') {
        return rest
            .split(']')
            .next()?
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical());
    }
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

impl ClientIp {
    pub fn text(&self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }
}

fn record_span(account: &StaffActor) {
    let span = tracing::Span::current();
    span.record("clinic_id", tracing::field::display(account.clinic_id));
    span.record("actor_id", tracing::field::display(account.staff_id));
}

/// A fully signed-in API caller (`Authorization: Bearer <token>`). A
/// handler that takes this cannot run for anyone else.
#[derive(Clone, Debug)]
pub struct ApiActor(pub Actor);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientIp(None));
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError(velum_app::AppError::Unauthenticated))?;
        let info = state.app.session(token).await?;
        let actor = info.actor(ip).ok_or(ApiError(velum_app::AppError::Unauthenticated))?;
        let account = actor
            .account()
            .map_err(|_| ApiError(velum_app::AppError::Unauthenticated))?;
        record_span(&account);
        Ok(ApiActor(actor))
    }
}

/// A fully signed-in member of staff in the browser. Without one, pages
/// redirect to the sign-in page.
#[derive(Clone, Debug)]
pub struct StaffSession {
    pub actor: Actor,
    /// The signed-in account behind `actor` (staff, or an operator's own
    /// account), for what pages show about who is signed in.
    pub account: StaffActor,
    pub info: SessionInfo,
    pub token: String,
}

impl StaffSession {
    /// Forms carry the session's CSRF token; a form without the right one
    /// is refused before anything else happens.
    fn check_csrf(&self, submitted: &str) -> Result<(), Response> {
        if constant_eq(submitted.as_bytes(), self.info.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(crate::error::error_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Please go back, reload the page and try again.",
            ))
        }
    }
}

/// Compare without an early exit, so timing does not reveal the token.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientIp(None));
        let jar = axum_extra::extract::CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE.name(state.config.secure_cookies))
            .map(|c| c.value().to_owned())
            .ok_or_else(|| Redirect::to("/login").into_response())?;
        let info = state
            .app
            .session(&token)
            .await
            .map_err(|_| Redirect::to("/login").into_response())?;
        let actor = info.actor(ip).ok_or_else(|| Redirect::to("/login").into_response())?;
        let account = actor.account().map_err(|_| Redirect::to("/login").into_response())?;
        record_span(&account);
        let session = StaffSession {
            actor,
            account,
            info,
            token,
        };
        // For a [`CsrfForm`] later in the same handler's arguments.
        parts.extensions.insert(session.clone());
        Ok(session)
    }
}

/// A JSON body parsed into `T`, with every failure in our error envelope:
/// 413 for an oversized body, 415 without a JSON content type, 400 for
/// malformed JSON, 422 naming the field for a wrong type or unknown field.
/// Values never appear in the messages.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                api_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "the request body is too large (at most 64 KiB)",
                )
            } else {
                api_error(StatusCode::BAD_REQUEST, None, "the request body could not be read")
            }
        })?;
        if !is_json {
            return Err(api_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send the body as application/json",
            ));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A page's form body, parsed into `T`. axum's own `Form` answers (and
/// logs, at TRACE) serde's message, which can quote what was typed; this one
/// answers a fixed error page and logs nothing: 413 for an oversized body,
/// 415 for a body that is not a form, 400 otherwise.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Form(v)),
            Err(e) => Err(form_rejection(e.status())),
        }
    }
}

/// A signed-in page's form body, parsed into `T` as [`Form`] does, and
/// refused with the "This form has expired" page (403) unless its `csrf`
/// field is the session's CSRF token; without a session, the sign-in
/// redirect. `T` does not declare `csrf`. Put it last among the handler's
/// arguments (it reads the body); the session is not looked up twice when
/// the handler also takes a [`StaffSession`].
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// A form with no field but its CSRF token: `CsrfForm<NoFields>`.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = match parts.extensions.get::<StaffSession>() {
            Some(s) => s.clone(),
            None => StaffSession::from_request_parts(&mut parts, state).await?,
        };
        let Form(WithCsrf { csrf, form }) =
            Form::<WithCsrf<T>>::from_request(Request::from_parts(parts, body), state).await?;
        session.check_csrf(&csrf)?;
        Ok(CsrfForm(form))
    }
}

fn form_rejection(status: StatusCode) -> Response {
    let (status, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (status, "What you sent is too large (at most 64 KiB)."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (status, "This address takes a form sent from its page."),
        _ => (
            StatusCode::BAD_REQUEST,
            "This form could not be read. Please go back, reload the page and try again.",
        ),
    };
    crate::error::error_page(status, "Form not accepted", message)
}

/// Parse a JSON body. Every message is fixed text: serde's own messages can
/// quote the value (`invalid type: string "…"`), so none is passed on, and
/// nothing here is logged. A field is named by its path (`address.postcode`,
/// `allergies[2]`) only when the path looks like our field names (lower-case
/// letters, digits, `_`), since an unknown key is whatever the caller typed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        // Every body is an object; serde would also read a struct from an
        // array, by position.
        Ok(_) if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') => Err(api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            "the body must be a JSON object",
        )),
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let named = |p: &str| field_like(p).then(|| p.to_owned());
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let msg = inner.to_string();
                    // serde names an unknown field in backticks; for an
                    // unknown field the path already ends with it.
                    if let Some(field) = msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
                        let full = if path == "." { field.to_owned() } else { path.clone() };
                        let (field, message) = match named(&full) {
                            Some(f) => (Some(f), "is not a known field"),
                            None => (None, "the body has a field that is not known"),
                        };
                        return Err(api_error(StatusCode::UNPROCESSABLE_ENTITY, field.as_deref(), message));
                    }
                    if let Some(field) = msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                        let full = if path == "." {
                            field.to_owned()
                        } else {
                            format!("{path}.{field}")
                        };
                        return Err(api_error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            named(&full).as_deref(),
                            "is required",
                        ));
                    }
                    let field = if path == "." { None } else { named(&path) };
                    Err(api_error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        field.as_deref(),
                        "has the wrong type",
                    ))
                }
                _ => Err(api_error(StatusCode::BAD_REQUEST, None, "the body is not valid JSON")),
            }
        }
    }
}

/// Whether a serde path could be one of ours: `given_name`,
/// `address.postcode`, `allergies[2]`.
fn field_like(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 64
        && path
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.[]".contains(&b))
}

/// An id from the path, parsed; anything that is not a UUID is a 400 that
/// names `id` (API) instead of a 500 or a bare 404.
#[derive(Debug)]
pub struct ApiId<T>(pub T);

impl<T: FromStr + Send, S: Send + Sync> FromRequestParts<S> for ApiId<T> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| api_error(StatusCode::BAD_REQUEST, Some("id"), "must be an id in UUID form"))?;
        raw.parse()
            .map(ApiId)
            .map_err(|_| api_error(StatusCode::BAD_REQUEST, Some("id"), "must be an id in UUID form"))
    }
}

/// An id from a page's path; anything that is not a UUID is "not found".
#[derive(Debug)]
pub struct PageId<T>(pub T);

impl<T: FromStr + Send, S: Send + Sync> FromRequestParts<S> for PageId<T> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || crate::error::PageError(velum_app::AppError::NotFound).into_response();
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        raw.parse().map(PageId).map_err(|_| not_found())
    }
}

/// Two ids from a page's path (`/platform/clinics/{id}/support/{grant}/…`),
/// in order; either not a UUID is "not found".
#[derive(Debug)]
pub struct PageIds<A, B>(pub A, pub B);

impl<A: FromStr + Send, B: FromStr + Send, S: Send + Sync> FromRequestParts<S> for PageIds<A, B> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || crate::error::PageError(velum_app::AppError::NotFound).into_response();
        let Path((a, b)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => Ok(PageIds(a, b)),
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| crate::parse_trusted_proxy(n).unwrap()).collect()
    }

    #[test]
    fn without_a_trusted_proxy_the_peer_is_the_source() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7"), ("forwarded", "for=198.51.100.1")]);
        assert_eq!(source_address(ip("10.0.0.5"), &h, &[]), ip("10.0.0.5"));
        assert_eq!(
            source_address(ip("192.0.2.1"), &h, &nets(&["10.0.0.0/8"])),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn a_trusted_proxy_gives_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "fd00::/8"]);
        // The client can put anything on the left; it is not believed.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.1.1.1")]);
        assert_eq!(source_address(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
        let h = headers(&[("forwarded", "for=1.2.3.4, for=\"[2001:db8::9]:4711\";proto=https")]);
        assert_eq!(source_address(ip("fd00::1"), &h, &trusted), ip("2001:db8::9"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[("forwarded", "for=198.51.100.1:80"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(source_address(ip("10.0.0.5"), &h, &trusted), ip("198.51.100.1"));
        // An unreadable hop stops the walk at the last address known.
        let h = headers(&[("x-forwarded-for", "203.0.113.7, unknown, 10.2.2.2")]);
        assert_eq!(source_address(ip("10.0.0.5"), &h, &trusted), ip("10.2.2.2"));
        // No header: the proxy itself.
        assert_eq!(
            source_address(ip("10.0.0.5"), &HeaderMap::new(), &trusted),
            ip("10.0.0.5")
        );
        // An IPv4 peer seen as IPv6-mapped is matched as IPv4.
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(source_address(ip("::ffff:10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
    }

    #[test]
    fn trusted_proxy_values_parse_or_are_refused() {
        assert!(crate::parse_trusted_proxy("10.0.0.0/8").is_some());
        assert!(crate::parse_trusted_proxy("127.0.0.1").is_some());
        assert!(crate::parse_trusted_proxy("fd00::/8").is_some());
        assert!(crate::parse_trusted_proxy("10.0.0.0/33").is_none());
        assert!(crate::parse_trusted_proxy("proxy.example").is_none());
    }
}
