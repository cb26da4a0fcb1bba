//! `velum serve`: the web app and API, plus the outbox worker, until
//! SIGTERM or Ctrl-C; then requests in flight finish and the store closes.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

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
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut settings = args.mail.settings(Some(args.listen));
    // Checked before the database is opened, so a bad value stops start-up
    // with one line naming the setting.
    settings.blobs = args.blobs.open(&args.data)?;
    let secure = settings.base_url.starts_with("https://");
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
    let worker = tokio::spawn(background_worker(app.clone()));
    tracing::info!(%listen, "velum is listening");
    velum_web::serve(listener, router, shutdown_signal())
        .await
        .context("server failed")?;
    worker.abort();
    app.close().await;
    tracing::info!("velum stopped");
    Ok(ExitCode::SUCCESS)
}

/// Every few seconds, handle queued password-reset requests and deliver
/// queued email; once a minute, delete
/// offboarding archives that waited past their time.
async fn background_worker(app: App) {
    for round in 0_u64.. {
        // Password-reset requests first, so their mail goes out this round.
        if let Err(e) = app.process_password_resets().await {
            tracing::warn!(error = %e, "password-reset requests failed");
        }
        if let Err(e) = app.deliver_outbox().await {
            tracing::warn!(error = %e, "outbox delivery failed");
        }
        if round % 12 == 0
            && let Err(e) = app.drop_expired_archives().await
        {
            tracing::warn!(error = %e, "clearing expired offboarding archives failed");
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
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
