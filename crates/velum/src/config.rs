//! Settings shared by the subcommands: where the data lives, where the
//! master key is, how to reach SMTP. Flags first, then `VELUM_*` variables;
//! each error names the setting at fault. This module is the only reader of
//! the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use velum_app::mail::{SmtpSettingsError, SmtpTls};
use velum_app::{App, AppSettings, BlobStore, DataLocation, MasterKey, SmtpSettings, SystemClock};

/// Read an environment variable (the one place that does).
#[expect(clippy::disallowed_methods, reason = "config is the one reader of the environment")]
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub const KEY_FILE_ENV: &str = "VELUM_MASTER_KEY_FILE";
pub const DB_FILE: &str = "velum.db";
pub const KEY_FILE: &str = "master.key";

/// Flags common to every command that opens the data.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Directory holding the encrypted database (and, unless
    /// VELUM_MASTER_KEY_FILE says otherwise, master.key).
    #[arg(long, env = "VELUM_DATA_DIR", required_unless_present = "database_url")]
    pub data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of the embedded database: postgres://user@host/db.
    /// A server not on this machine needs sslmode=verify-full (the default).
    #[arg(long, env = "VELUM_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// Flags for commands that send mail or make links.
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// Public base URL of this installation, for links in emails.
    #[arg(long, env = "VELUM_BASE_URL")]
    pub base_url: Option<String>,
    /// SMTP server host for outgoing mail (without it, mail waits in the outbox).
    #[arg(long, env = "VELUM_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP server port.
    #[arg(long, env = "VELUM_SMTP_PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// Sender address for outgoing mail.
    #[arg(long, env = "VELUM_SMTP_FROM", default_value = "Velum <velum@localhost>")]
    pub smtp_from: String,
    /// How mail reaches the SMTP server: required (STARTTLS, refused if the
    /// server does not offer it), wrapper (TLS from the start, port 465), or
    /// none (only for a relay on loopback). SMTP AUTH credentials come from
    /// VELUM_SMTP_USERNAME and VELUM_SMTP_PASSWORD (environment only).
    #[arg(long, env = "VELUM_SMTP_TLS", default_value = "required", value_name = "MODE")]
    pub smtp_tls: SmtpTls,
    /// PEM file of root certificates to trust for the SMTP server besides
    /// the system's (a private CA).
    #[arg(long, env = "VELUM_SMTP_CA_FILE", value_name = "FILE")]
    pub smtp_ca_file: Option<PathBuf>,
}

impl MailArgs {
    /// Settings for commands that send nothing.
    pub fn offline() -> AppSettings {
        MailArgs {
            base_url: None,
            smtp_host: None,
            smtp_port: 25,
            smtp_from: String::new(),
            smtp_tls: SmtpTls::Required,
            smtp_ca_file: None,
        }
        .settings(None)
    }

    /// [`MailArgs::settings`] for commands that send mail: reads the CA file
    /// and checks the SMTP settings, so a bad one stops start-up with one
    /// line naming it (never a credential).
    pub fn checked_settings(&self, listen: Option<SocketAddr>) -> anyhow::Result<AppSettings> {
        let mut settings = self.settings(listen);
        let Some(smtp) = &mut settings.smtp else {
            return Ok(settings);
        };
        if let Some(path) = &self.smtp_ca_file {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!(
                    "VELUM_SMTP_CA_FILE (--smtp-ca-file): cannot read {} ({})",
                    path.display(),
                    e.kind()
                )
            })?;
            smtp.ca_pem = Some(pem);
        }
        smtp.transport().map_err(|e| {
            let setting = match e {
                SmtpSettingsError::PlainToRemoteHost => "VELUM_SMTP_TLS (--smtp-tls)",
                SmtpSettingsError::BadCaFile => "VELUM_SMTP_CA_FILE (--smtp-ca-file)",
                SmtpSettingsError::HalfCredentials => "VELUM_SMTP_USERNAME / VELUM_SMTP_PASSWORD",
                SmtpSettingsError::Tls => "VELUM_SMTP_HOST (--smtp-host)",
            };
            anyhow::anyhow!("{setting}: {e}")
        })?;
        Ok(settings)
    }

    pub fn settings(&self, listen: Option<SocketAddr>) -> AppSettings {
        let base_url = self.base_url.clone().unwrap_or_else(|| {
            format!(
                "http://{}",
                listen.map_or_else(|| "127.0.0.1:8080".to_owned(), |a| a.to_string())
            )
        });
        AppSettings {
            base_url: base_url.trim_end_matches('/').to_owned(),
            smtp: self.smtp_host.clone().map(|host| SmtpSettings {
                host,
                port: self.smtp_port,
                from: self.smtp_from.clone(),
                tls: self.smtp_tls,
                ca_pem: None,
                username: env("VELUM_SMTP_USERNAME"),
                password: env("VELUM_SMTP_PASSWORD").map(secrecy::SecretString::from),
            }),
            blobs: None,
        }
    }
}

/// The blob store setting, for commands that store or delete blobs.
#[derive(Debug, Clone, clap::Args)]
pub struct BlobArgs {
    /// Where photos, signed PDFs and attachments are kept: a directory,
    /// file:///dir, or s3://bucket[/prefix]?endpoint=…&region=… (default
    /// with the embedded database: DIR/blobs; with PostgreSQL: none).
    #[arg(long, env = "VELUM_BLOB_URL", value_name = "URL")]
    pub blob_url: Option<String>,
}

/// How the blob setting is named in errors (the URL itself may hold a
/// secret and is never printed).
pub const BLOB_SETTING: &str = "VELUM_BLOB_URL (--blob-url)";

impl BlobArgs {
    /// Open the blob store: `--blob-url` / `VELUM_BLOB_URL`, else `DIR/blobs`
    /// when the data is in the embedded database, else none. A bad value is
    /// one error line naming the setting and the rule, never the value.
    pub fn open(&self, data: &DataArgs) -> anyhow::Result<Option<BlobStore>> {
        let location = match (&self.blob_url, &data.database_url, &data.data_dir) {
            (Some(url), _, _) => url.clone(),
            (None, None, Some(dir)) if !dir.is_dir() => bail!("--data-dir: {} is not a directory", dir.display()),
            (None, None, Some(dir)) => std::path::absolute(dir.join("blobs"))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{BLOB_SETTING}: the default DIR/blobs cannot be resolved ({})",
                        e.kind()
                    )
                })?
                .to_string_lossy()
                .into_owned(),
            (None, _, _) => return Ok(None),
        };
        match BlobStore::open(&location) {
            Ok(store) => Ok(Some(store)),
            // Its message starts with the setting's name already.
            Err(e @ velum_app::BlobError::BadLocation(_)) => Err(anyhow::anyhow!("{e}")),
            Err(e) => Err(anyhow::anyhow!("{BLOB_SETTING}: {e}")),
        }
    }
}

/// The key file to use: `VELUM_MASTER_KEY_FILE`, else `DIR/master.key`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    env(KEY_FILE_ENV).map_or_else(|| data_dir.join(KEY_FILE), PathBuf::from)
}

/// Load the master key, refusing a file others can read.
pub fn load_key(path: &Path) -> anyhow::Result<MasterKey> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "no master key at {} (set {KEY_FILE_ENV}, or create one with `velum keys init`)",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{KEY_FILE_ENV}: {} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
                path.display()
            );
        }
    }
    let bytes = std::fs::read(path).with_context(|| format!("{KEY_FILE_ENV}: cannot read {}", path.display()))?;
    MasterKey::from_bytes(&bytes)
        .map_err(|_| anyhow::anyhow!("{KEY_FILE_ENV}: {} is not a 32-byte Velum master key", path.display()))
}

/// Write a new master key file with mode 0600; never overwrites.
pub fn write_new_key(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let key = MasterKey::generate();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create the key file {} (it must not exist yet)", path.display()))?;
    let mut bytes = key.to_bytes();
    let written = f.write_all(&bytes).and_then(|()| f.sync_all());
    bytes.iter_mut().for_each(|b| *b = 0);
    written.with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Open the app: on PostgreSQL when a database URL is given, otherwise on
/// `DIR/velum.db`; with the key from `VELUM_MASTER_KEY_FILE` or `DIR/master.key`.
pub async fn open_app(data: &DataArgs, settings: AppSettings) -> anyhow::Result<App> {
    let key = data_key(data)?;
    open_app_with_key(data, key, settings).await
}

/// The master key for `data`: `VELUM_MASTER_KEY_FILE`, else `DIR/master.key`
/// (checking that `--data-dir` is a directory first).
pub fn data_key(data: &DataArgs) -> anyhow::Result<MasterKey> {
    if let Some(dir) = &data.data_dir
        && !dir.is_dir()
    {
        bail!("--data-dir: {} is not a directory", dir.display());
    }
    let key_file = match &data.data_dir {
        Some(dir) => key_path(dir),
        None => env(KEY_FILE_ENV)
            .map(PathBuf::from)
            .ok_or_else(|| anyhow::anyhow!("{KEY_FILE_ENV} must be set when there is no --data-dir"))?,
    };
    load_key(&key_file)
}

/// [`open_app`] with a key already loaded by [`data_key`].
pub async fn open_app_with_key(data: &DataArgs, key: MasterKey, settings: AppSettings) -> anyhow::Result<App> {
    let (location, setting) = match (&data.database_url, &data.data_dir) {
        (Some(url), _) => (
            DataLocation::Postgres(url.clone()),
            "--database-url (VELUM_DATABASE_URL)".to_owned(),
        ),
        (None, Some(dir)) => (
            DataLocation::SqliteFile(dir.join(DB_FILE)),
            format!("--data-dir {}", dir.display()),
        ),
        (None, None) => bail!("give --data-dir DIR or --database-url postgres://…"),
    };
    App::open(&location, key, Arc::new(SystemClock), settings)
        .await
        .map_err(|e| match e {
            velum_app::AppError::Startup(m) => anyhow::anyhow!("{setting}: {m}"),
            other => anyhow::anyhow!(
                "{setting}: cannot open the database: {}",
                other.to_string().trim_start_matches("internal error: ")
            ),
        })
}
