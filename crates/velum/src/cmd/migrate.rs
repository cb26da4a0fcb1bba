//! `velum migrate`: apply pending schema migrations and exit.

use std::process::ExitCode;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = MailArgs::offline();
    let app = crate::config::open_app(&args.data, settings).await?;
    app.close().await;
    println!("Database is up to date.");
    Ok(ExitCode::SUCCESS)
}
