//! `velum audit verify`: recompute every clinic's audit chain (plain SHA-256
//! links of old events, then keyed HMAC-SHA-256 links), and with
//! `--against HEAD_FILE` check a signed head kept elsewhere. `velum audit
//! upgrade`: re-link chains that still end in a plain link under the key.
//! `velum audit head`: print a clinic chain's head, signed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use velum_app::ClinicId;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Exit 0 if every audit chain is intact; otherwise name the first bad event and exit 1.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// Also prove that the chain still holds the head in this signed
        /// head file (from `velum audit head` or the weekly email), signed by
        /// this installation's key.
        #[arg(long, value_name = "HEAD_FILE")]
        against: Option<PathBuf>,
    },
    /// Print the clinic chain's current head (sequence, keyed link, time),
    /// signed with this installation's Ed25519 head key, to keep somewhere
    /// the database administrator cannot write.
    Head {
        #[command(flatten)]
        data: DataArgs,
        /// The clinic (its id, from `velum clinic list`).
        #[arg(long)]
        clinic: ClinicId,
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
        Command::Verify { data, against } => verify(&data, against.as_deref()).await,
        Command::Upgrade { data } => upgrade(&data).await,
        Command::Head { data, clinic } => head(&data, clinic).await,
    }
}

async fn verify(data: &DataArgs, against: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let head_text = match against {
        Some(path) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("--against: cannot read {}", path.display()))?)
        }
        None => None,
    };
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let report = app.verify_audit().await?;
    let head = match &head_text {
        Some(text) => Some(app.check_signed_head(text).await?),
        None => None,
    };
    app.close().await;
    let mut intact = true;
    match report.first_break {
        None => println!(
            "Audit trail intact: {} chains, {} events verified.",
            report.chains, report.events
        ),
        Some(b) => {
            intact = false;
            let id = b.event_id.map_or_else(|| "-".to_owned(), |i| i.to_string());
            println!(
                "Audit trail BROKEN: clinic {} at event #{} (id {id}): {}.",
                b.clinic_id, b.seq, b.reason
            );
        }
    }
    match head {
        None => {}
        Some(Ok(h)) => println!(
            "Signed head holds: clinic {} event #{} (signed {}) is still in the chain.",
            h.clinic_id, h.seq, h.signed_at
        ),
        Some(Err(e)) => {
            intact = false;
            println!("Signed head does NOT hold: {e}.");
        }
    }
    Ok(if intact { ExitCode::SUCCESS } else { ExitCode::from(1) })
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

async fn head(data: &DataArgs, clinic: ClinicId) -> anyhow::Result<ExitCode> {
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let head = app.signed_head(clinic).await;
    app.close().await;
    match head {
        Ok(h) => {
            print!("{}", h.to_text());
            Ok(ExitCode::SUCCESS)
        }
        Err(velum_app::AppError::NotFound) => anyhow::bail!("--clinic: clinic {clinic} has no audit chain here"),
        Err(e) => Err(e.into()),
    }
}
