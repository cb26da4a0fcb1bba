//! `velum audit verify`: recompute every clinic's hash chain.

use std::process::ExitCode;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Exit 0 if every audit chain is intact; otherwise name the first bad event and exit 1.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn run(c: Command) -> anyhow::Result<ExitCode> {
    let Command::Verify { data } = c;
    let settings = MailArgs::offline();
    let app = crate::config::open_app(&data, settings).await?;
    let report = app.verify_audit().await?;
    app.close().await;
    match report.first_break {
        None => {
            println!(
                "Audit trail intact: {} chains, {} events verified.",
                report.chains, report.events
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            let id = b.event_id.map_or_else(|| "-".to_owned(), |i| i.to_string());
            println!(
                "Audit trail BROKEN: clinic {} at event #{} (id {id}): {}.",
                b.clinic_id, b.seq, b.reason
            );
            Ok(ExitCode::from(1))
        }
    }
}
