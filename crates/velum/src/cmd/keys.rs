//! `velum keys init`: create a master key file.
//!
//! `velum keys rotate-clinic --clinic ID`: give a clinic a new clinic key and
//! re-wrap every client key under it (resumable; see
//! `velum_app::App::rotate_clinic_key`).

use std::path::PathBuf;
use std::process::ExitCode;

use velum_app::{AppError, ClinicId};

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a new random master key file (mode 0600). Refuses to overwrite.
    Init {
        /// Where to write it (default: DATA_DIR/master.key).
        #[arg(long, conflicts_with = "data_dir")]
        out: Option<PathBuf>,
        /// Write DATA_DIR/master.key.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Give a clinic a new clinic key and re-wrap every client key under it,
    /// then delete the old clinic key. If interrupted, run it again: it
    /// finishes the same rotation (clients stay readable meanwhile).
    RotateClinic(RotateArgs),
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The clinic whose key to rotate (see `velum clinic list`).
    #[arg(long, value_name = "CLINIC_ID")]
    clinic: ClinicId,
    /// Re-wrap at most this many client keys in this run, then stop (to
    /// rotate a large clinic in slices); run again to go on.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_clients: Option<u64>,
}

pub async fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::RotateClinic(args) => rotate_clinic(args).await,
        Command::Init { out, data_dir } => {
            let path = match (out, data_dir) {
                (Some(p), _) => p,
                (None, Some(d)) => {
                    std::fs::create_dir_all(&d)?;
                    d.join(crate::config::KEY_FILE)
                }
                (None, None) => anyhow::bail!("give --out FILE or --data-dir DIR"),
            };
            crate::config::write_new_key(&path)?;
            println!("Master key written to {} (mode 0600).", path.display());
            println!("Keep a copy somewhere safe and separate from backups: without it the data cannot be read.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn rotate_clinic(args: RotateArgs) -> anyhow::Result<ExitCode> {
    let app = crate::config::open_app(&args.data, MailArgs::offline()).await?;
    let result = app.rotate_clinic_key(args.clinic, args.max_clients).await;
    app.close().await;
    let r = match result {
        Ok(r) => r,
        Err(AppError::NotFound) => anyhow::bail!("--clinic: no clinic {} here (or it was offboarded)", args.clinic),
        Err(e) => return Err(e.into()),
    };
    let how = if r.started {
        "New clinic key"
    } else {
        "Resumed rotation to clinic key"
    };
    if r.finished() {
        println!(
            "{how} {} for clinic {}: {} client keys re-wrapped; {} old clinic key(s) deleted.",
            r.key_id, args.clinic, r.rewrapped, r.retired
        );
    } else {
        println!(
            "{how} {} for clinic {}: {} client keys re-wrapped, {} left; run again to finish.",
            r.key_id, args.clinic, r.rewrapped, r.remaining
        );
    }
    Ok(ExitCode::SUCCESS)
}
