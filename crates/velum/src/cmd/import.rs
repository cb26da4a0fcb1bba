//! `velum import`: load a clinic from a `velum export` file into this
//! installation (migrating it first if needed), in one transaction. The file
//! is checked in full (marker, format version, master key, sealed body)
//! before the target is opened, so a bad file creates and changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The export file written by `velum export`.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("FILE: cannot read {}", args.file.display()))?;
    let key = crate::config::data_key(&args.data)?;
    velum_app::transfer::check_export(&bytes, &key).with_context(|| format!("{}", args.file.display()))?;
    let app = crate::config::open_app_with_key(&args.data, key, MailArgs::offline()).await?;
    let result = app.import_clinic(&bytes).await;
    app.close().await;
    let summary = result.with_context(|| format!("{}", args.file.display()))?;
    println!(
        "Imported clinic {}: {} rows ({}).",
        summary.clinic_id,
        summary.total(),
        summary.counts()
    );
    Ok(ExitCode::SUCCESS)
}
