//! Velum's HTTP layer: server-rendered staff pages (askama, no JavaScript
//! needed), the JSON API under `/api/v1` with its OpenAPI document, and the
//! middleware every response passes through (security headers, request ids,
//! PHI-free tracing).
//!
//! Handlers are thin: extract, parse, call one `velum-app` use case, render.
//! This crate depends on `velum-app` and `velum-core`, never on the store, so
//! nothing here can reach personal data except through a use case.

pub mod api;
mod error;
mod extract;
pub mod fuzz_checks;
mod middleware;
mod pages;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use velum_app::App;

pub use api::openapi::openapi_json;
pub use extract::source_address;
pub use ipnet::IpNet;

/// Parse one `--trusted-proxy` value: an address range in CIDR form
/// (`10.0.0.0/8`, `fd00::/8`) or a single address. `None` if it is neither.
#[must_use]
pub fn parse_trusted_proxy(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// Web settings.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Served over HTTPS (the base URL is `https://`): cookies are `Secure`
    /// with the `__Host-` prefix, and every response carries HSTS. Off only
    /// with `--insecure-http` and in the loopback demo.
    pub secure_cookies: bool,
    /// While no clinic exists, the first-run page asks for this token, which
    /// the server prints on its console at start, so that whoever reaches a
    /// new server first cannot make themselves its owner. `None` closes the
    /// first-run page.
    pub first_run_token: Option<String>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers are
    /// believed (`--trusted-proxy`). Only when the TCP peer is inside one of
    /// these ranges is the client's address taken from those headers (the
    /// rightmost hop that is not itself a trusted proxy); otherwise the TCP
    /// peer is the source address, for throttling and the audit trail.
    pub trusted_proxies: Vec<IpNet>,
}

/// Shared by every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub app: App,
    pub config: WebConfig,
}

/// Largest request body accepted (forms and JSON): 64 KiB. Anything larger
/// is answered 413 before it is parsed.
pub const MAX_BODY: usize = 64 * 1024;

/// The whole application router.
pub fn router(app: App, config: WebConfig) -> Router {
    let https = config.secure_cookies;
    let state = AppState { app, config };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/velum.css", get(pages::assets::css))
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .fallback(pages::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            https,
            middleware::security_headers,
        ))
        .layer(middleware::trace_layer())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(middleware::request_id_layer())
}

/// Serve `router` on `listener` until `shutdown` resolves, then finish the
/// requests in flight.
///
/// # Errors
/// IO errors from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
