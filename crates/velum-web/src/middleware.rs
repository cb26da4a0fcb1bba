//! Middleware on every response.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The Content Security Policy: everything from this origin only, no inline
/// script at all, no framing (clickjacking), forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// HSTS for an HTTPS installation: two years, subdomains included, so a
/// browser that has been here once never tries plain HTTP again.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Security headers on every response (ASVS 14.3.2, 3.4): strict CSP,
/// no framing, no referrer, no sniffing, `Cache-Control: no-store` on
/// everything except the stylesheet, since nearly every page and answer
/// carries personal data, and HSTS when served over HTTPS (`https` is
/// `WebConfig::secure_cookies`).
pub async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    res
}

pub fn request_id_layer() -> tower::layer::util::Stack<PropagateRequestIdLayer, SetRequestIdLayer<MakeRequestUuid>> {
    // The outer layer sets the id on the way in; the inner one copies it
    // onto the response.
    tower::layer::util::Stack::new(
        PropagateRequestIdLayer::new(REQUEST_ID),
        SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid),
    )
}

/// One span per request with the route *template* (`/clients/{id}`, never
/// the raw path, which may hold a token) and the request id; the session
/// extractor fills in clinic and actor ids. Nothing else: no query string,
/// no body, no address (docs/LOGGING.md).
pub fn trace_layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            let request_id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!(
                "request",
                method = %req.method(),
                route,
                request_id,
                clinic_id = tracing::field::Empty,
                actor_id = tracing::field::Empty,
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// Refuse state-changing page requests that come from another site (a
/// second line behind the per-form CSRF token and SameSite cookies).
pub async fn same_origin(req: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let safe = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if !safe {
        let h = req.headers();
        // Browsers say where a request came from in Sec-Fetch-Site. With
        // `Referrer-Policy: no-referrer` they send `Origin: null` even for
        // same-origin posts, so "null" is left to Sec-Fetch-Site and the
        // CSRF token.
        let cross_site = h
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site" || v == "same-site");
        let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin_mismatch = match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
            (Some("null") | None, _) => false,
            (Some(origin), Some(host)) => origin.split("://").nth(1) != Some(host),
            (Some(_), None) => true,
        };
        if cross_site || origin_mismatch {
            return crate::error::error_page(
                axum::http::StatusCode::FORBIDDEN,
                "Refused",
                "This form was sent from another site.",
            )
            .into_response();
        }
    }
    next.run(req).await
}
