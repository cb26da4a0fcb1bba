//! `velum export`: write one clinic, every row of it, to an encrypted file
//! that `velum import` reads (to move a clinic between the embedded file
//! and PostgreSQL). The file opens only with this installation's master key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use velum_app::ClinicId;
use velum_app::transfer::TransferError;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The clinic to export, by id (see `velum clinic list`). May be left
    /// out when the installation holds exactly one clinic.
    #[arg(long, value_name = "CLINIC_ID")]
    clinic: Option<ClinicId>,
    /// The file to write. Must not exist yet; written with mode 0600.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Everything about --out is checked before the database is opened.
    if std::fs::symlink_metadata(&args.out).is_ok() {
        bail!(
            "--out: {} already exists; an export never overwrites a file, give a new name",
            args.out.display()
        );
    }
    let Some(name) = args.out.file_name() else {
        bail!("--out: {} is not a file name", args.out.display());
    };
    let dir = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!("--out: the directory {} does not exist", dir.display());
    }
    let app = crate::config::open_app(&args.data, MailArgs::offline()).await?;
    let clinic = match args.clinic {
        Some(c) => c,
        None => match only_clinic(&app).await {
            Ok(c) => c,
            Err(e) => {
                app.close().await;
                return Err(e);
            }
        },
    };
    // Written under a temporary name beside --out, then linked into place
    // once the export's audit event has committed.
    let partial = dir.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = app.export_clinic(clinic, |bytes| write_new(&partial, bytes)).await;
    app.close().await;
    let summary = match result {
        Ok((summary, ())) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(match e {
                TransferError::NoSuchClinic(_) => anyhow::anyhow!("--clinic: {e}"),
                TransferError::Save(_) => anyhow::anyhow!("--out: {e}"),
                other => other.into(),
            });
        }
    };
    // A hard link never replaces an existing file (unlike rename), so a file
    // that appeared at --out meanwhile is kept and this export refused.
    let linked = std::fs::hard_link(&partial, &args.out);
    let _ = std::fs::remove_file(&partial);
    linked.with_context(|| format!("--out: cannot create {}", args.out.display()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    println!(
        "Exported clinic {} to {}: {} rows ({}).",
        summary.clinic_id,
        args.out.display(),
        summary.total(),
        summary.counts()
    );
    Ok(ExitCode::SUCCESS)
}

/// The installation's one clinic; otherwise an error that says how many
/// there are and names the flag (never the clinics' names).
async fn only_clinic(app: &velum_app::App) -> anyhow::Result<ClinicId> {
    match app.clinics().await?.as_slice() {
        [one] => Ok(one.id),
        [] => bail!("--clinic: this installation holds no clinic; there is nothing to export"),
        many => bail!(
            "--clinic: this installation holds {} clinics; name the one to export with --clinic CLINIC_ID \
             (ids from `velum clinic list`)",
            many.len()
        ),
    }
}

/// Create `path` (mode 0600, never an existing file) and make `bytes`
/// durable in it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
