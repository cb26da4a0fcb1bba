//! `velum audit verify`: recompute every clinic's audit chain (plain SHA-256
//! links of old events, then keyed HMAC-SHA-256 links). `velum audit
//! upgrade`: re-link chains that still end in a plain link under the key.

use std::process::ExitCode;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Exit 0 if every audit chain is intact; otherwise name the first bad event and exit 1.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-link every audit chain that still ends in an unkeyed (v1) link
    /// under this installation's key, recording it in the chain. Chains that
    /// do not verify are left as they are and named (exit 1).
    Upgrade {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Verify { data } => verify(&data).await,
        Command::Upgrade { data } => upgrade(&data).await,
    }
}

async fn verify(data: &DataArgs) -> anyhow::Result<ExitCode> {
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
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

async fn upgrade(data: &DataArgs) -> anyhow::Result<ExitCode> {
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let report = app.upgrade_audit_chains().await?;
    app.close().await;
    for (clinic, events) in &report.upgraded {
        println!("Re-linked chain {clinic} under the key ({events} earlier events now covered).");
    }
    for b in &report.broken {
        println!(
            "NOT upgraded: chain {} does not verify at event #{}: {}.",
            b.clinic_id, b.seq, b.reason
        );
    }
    println!(
        "{} chains re-linked, {} keyed already, {} broken.",
        report.upgraded.len(),
        report.already_keyed,
        report.broken.len()
    );
    Ok(if report.broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
