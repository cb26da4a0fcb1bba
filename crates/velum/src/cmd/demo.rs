//! `velum demo`: a ready-to-try installation. Creates (or reopens) the data
//! directory with its own master key, seeds two synthetic clinics once, and
//! prints every account's email, password and TOTP secret.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use velum_app::demo::DemoAccount;
use velum_web::WebConfig;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the demo's data (created if missing).
    #[arg(long, default_value = "./velum-demo")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed and serve a PostgreSQL database instead of the embedded one
    /// (the key and credentials still go in --data-dir).
    #[arg(long, env = "VELUM_DATABASE_URL")]
    database_url: Option<String>,
    /// Synthetic clients per clinic, on first start.
    #[arg(long, default_value_t = 250)]
    clients_per_clinic: usize,
    /// Seed the data and exit without serving.
    #[arg(long)]
    seed_only: bool,
    #[command(flatten)]
    mail: MailArgs,
}

pub const CREDENTIALS_FILE: &str = "demo-credentials.json";

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("--data-dir: cannot create {}", args.data_dir.display()))?;
    let key = crate::config::key_path(&args.data_dir);
    if !key.exists() {
        crate::config::write_new_key(&key)?;
        eprintln!();
        eprintln!(
            "WARNING: DEMO MODE. A master key was created at {} next to the data it protects.",
            key.display()
        );
        eprintln!(
            "WARNING: This is for trying Velum with synthetic data only. For real clinics use `velum keys init`,"
        );
        eprintln!("WARNING: keep the key apart from the data and backups, and run `velum serve`.");
        eprintln!();
    }
    let data = DataArgs {
        data_dir: Some(args.data_dir.clone()),
        database_url: args.database_url.clone(),
    };
    let app = crate::config::open_app(&data, args.mail.checked_settings(Some(args.listen))?).await?;
    let creds_path = args.data_dir.join(CREDENTIALS_FILE);
    let accounts: Vec<serde_json::Value> = match app.seed_demo(args.clients_per_clinic, 0x7e1u64).await? {
        Some(accounts) => {
            write_credentials(&creds_path, &accounts)?;
            accounts
                .iter()
                .map(|a| serde_json::to_value(a).unwrap_or_default())
                .collect()
        }
        None => {
            let text = std::fs::read_to_string(&creds_path).unwrap_or_else(|_| "[]".into());
            serde_json::from_str(&text).unwrap_or_default()
        }
    };
    let url = format!("http://{}", args.listen);
    println!("Velum demo: {url}");
    println!("Credentials: {}", creds_path.display());
    for a in &accounts {
        let get = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        println!(
            "  {:<26} {:<13} {:<34} password {}  totp {}",
            get("clinic"),
            get("role"),
            get("email"),
            get("password"),
            get("otpauth_uri")
        );
    }
    if args.seed_only {
        app.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    // The demo serves plain http://127.0.0.1, as `serve --insecure-http`
    // would: bare cookie names without `Secure`, no HSTS.
    crate::cmd::serve::serve(
        app,
        args.listen,
        WebConfig {
            secure_cookies: false,
            first_run_token: None,
            trusted_proxies: Vec::new(),
        },
    )
    .await
}

fn write_credentials(path: &std::path::Path, accounts: &[DemoAccount]) -> anyhow::Result<()> {
    use std::io::Write;
    let json = serde_json::to_string_pretty(accounts)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(json.as_bytes())?;
    Ok(())
}
