//! `velum serve`: the web app and API, plus the background worker (the job
//! queue: queued mail, password-reset requests, housekeeping, weekly signed
//! heads; see `velum_app::jobs`), until SIGTERM or Ctrl-C; then requests in
//! flight finish and the store closes.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use velum_app::App;
use velum_web::WebConfig;

use crate::config::{BlobArgs, DataArgs, MailArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on.
    #[arg(long, env = "VELUM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    blobs: BlobArgs,
    /// Allow an http:// base URL: cookies lose `Secure` and the `__Host-`
    /// prefix, and no HSTS is sent. For trying Velum on loopback only;
    /// otherwise serve behind a TLS proxy and give its https:// address.
    #[arg(long, env = "VELUM_INSECURE_HTTP", action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new())]
    insecure_http: bool,
    /// A reverse proxy in front of Velum, as an address range (CIDR, e.g.
    /// 10.0.0.0/8; repeat the flag for more). Only requests from these
    /// addresses have their X-Forwarded-For / Forwarded headers believed
    /// for the client's address; by default none are, and the TCP peer is
    /// the source address for throttling and the audit trail.
    #[arg(
        long = "trusted-proxy",
        env = "VELUM_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    trusted_proxy: Vec<String>,
}

/// How the HTTPS rule is named in errors.
pub const INSECURE_SETTING: &str = "--insecure-http (VELUM_INSECURE_HTTP)";

/// Whether the web app is served over HTTPS, from the base URL (the address
/// people use, usually a TLS proxy's): `https://` is, `http://` is refused
/// unless `insecure_http` allows it, anything else is refused.
///
/// # Errors
/// One line naming the setting; the URL itself is not repeated.
pub fn https_base_url(base_url: &str, insecure_http: bool) -> anyhow::Result<bool> {
    let scheme = base_url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("https") => Ok(true),
        Some("http") if insecure_http => Ok(false),
        Some("http") => anyhow::bail!(
            "--base-url (VELUM_BASE_URL): an http:// base URL (the default without one) is refused; give the https:// \
             address of the TLS proxy in front of Velum, or pass {INSECURE_SETTING} to serve plain HTTP for a trial on loopback"
        ),
        _ => {
            anyhow::bail!("--base-url (VELUM_BASE_URL): must start with https:// (or http:// with {INSECURE_SETTING})")
        }
    }
}

/// How the trusted-proxy setting is named in errors.
pub const TRUSTED_PROXY_SETTING: &str = "--trusted-proxy (VELUM_TRUSTED_PROXIES)";

/// Parse the `--trusted-proxy` values; a bad one is one error line naming
/// the setting.
pub fn trusted_proxies(values: &[String]) -> anyhow::Result<Vec<velum_web::IpNet>> {
    values
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            velum_web::parse_trusted_proxy(v).ok_or_else(|| {
                anyhow::anyhow!(
                    "{TRUSTED_PROXY_SETTING}: {:?} is not an address range in CIDR form, such as 10.0.0.0/8",
                    v.trim()
                )
            })
        })
        .collect()
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let trusted_proxies = trusted_proxies(&args.trusted_proxy)?;
    let mut settings = args.mail.checked_settings(Some(args.listen))?;
    // Checked before the database is opened, so a bad value stops start-up
    // with one line naming the setting.
    let secure = https_base_url(&settings.base_url, args.insecure_http)?;
    settings.blobs = args.blobs.open(&args.data)?;
    let base_url = settings.base_url.clone();
    let app = crate::config::open_app(&args.data, settings).await?;
    // A new installation: the first-run page needs a token only the
    // operator can see (this console), so nobody else can claim the server.
    let first_run_token = if app.clinics().await?.is_empty() {
        let token = uuid::Uuid::new_v4().simple().to_string();
        println!("No clinic exists yet. Create the first one at {base_url}/first-run?token={token}");
        println!("(or run `velum clinic create`). The token works until a clinic exists or the server restarts.");
        Some(token)
    } else {
        None
    };
    serve(
        app,
        args.listen,
        WebConfig {
            secure_cookies: secure,
            first_run_token,
            trusted_proxies,
        },
    )
    .await
}

/// Serve until a shutdown signal.
pub async fn serve(app: App, listen: SocketAddr, config: WebConfig) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--listen: cannot listen on {listen}"))?;
    let router = velum_web::router(app.clone(), config);
    let worker = tokio::spawn(app.clone().work());
    tracing::info!(%listen, "velum is listening");
    velum_web::serve(listener, router, shutdown_signal())
        .await
        .context("server failed")?;
    worker.abort();
    app.close().await;
    tracing::info!("velum stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::https_base_url;

    #[test]
    fn only_https_base_urls_are_served_unless_insecure_http_is_given() {
        assert!(https_base_url("https://velum.example", false).unwrap());
        assert!(https_base_url("HTTPS://velum.example", true).unwrap());
        assert!(!https_base_url("http://127.0.0.1:8080", true).unwrap());
        for url in ["http://127.0.0.1:8080", "velum.example", "ftp://velum.example"] {
            let err = https_base_url(url, false).unwrap_err().to_string();
            assert!(err.starts_with("--base-url (VELUM_BASE_URL): "), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = https_base_url("http://velum.example", false).unwrap_err().to_string();
        assert!(err.contains("--insecure-http (VELUM_INSECURE_HTTP)"), "{err}");
        assert!(https_base_url("velum.example", true).is_err());
    }
}
