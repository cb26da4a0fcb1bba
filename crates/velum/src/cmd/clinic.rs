//! `velum clinic create|list|suspend|resume` and `velum operator create`.

use std::process::ExitCode;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a clinic and print its owner's one-time set-up link.
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        mail: MailArgs,
        /// The clinic's name.
        #[arg(long)]
        name: String,
        /// The owner's email: they sign in with it.
        #[arg(long)]
        owner_email: String,
    },
    /// List clinics.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Suspend a clinic: nobody can sign in to it, live sessions end.
    Suspend {
        #[command(flatten)]
        data: DataArgs,
        /// The clinic's id (from `velum clinic list`).
        #[arg(long)]
        clinic: String,
    },
    /// Make a suspended clinic active again.
    Resume {
        #[command(flatten)]
        data: DataArgs,
        /// The clinic's id (from `velum clinic list`).
        #[arg(long)]
        clinic: String,
    },
}

/// `velum operator ...`: platform operators (hosted mode).
#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// Create a platform operator account and print its one-time set-up link.
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        mail: MailArgs,
        /// The operator's email: they sign in with it.
        #[arg(long)]
        email: String,
        /// The operator's name, as clinics see it on support requests.
        #[arg(long)]
        name: String,
    },
}

pub async fn run_operator(c: OperatorCommand) -> anyhow::Result<ExitCode> {
    let OperatorCommand::Create {
        data,
        mail,
        email,
        name,
    } = c;
    let app = crate::config::open_app(&data, mail.settings(None)).await?;
    let result = app.create_operator(&email, &name).await;
    app.close().await;
    print_setup_link(
        result.map(|op| (format!("Operator created: {}", op.id), op.setup_link)),
        "this operator",
        |field| if field == "email" { "--email" } else { "--name" },
    )
}

/// Print a new account's one-time set-up link, or each field error against
/// its flag (exit 2).
fn print_setup_link(
    result: Result<(String, String), velum_app::AppError>,
    for_whom: &str,
    flag: impl Fn(&str) -> &'static str,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok((created, link)) => {
            println!("{created}");
            println!("Set-up link (works once, for 72 hours; give it only to {for_whom}):");
            println!("{link}");
            Ok(ExitCode::SUCCESS)
        }
        Err(velum_app::AppError::Validation(errors) | velum_app::AppError::Conflict(errors)) => {
            for e in errors.as_slice() {
                eprintln!("error: {} {}", flag(&e.field), e.message);
            }
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

async fn set_suspended(data: &DataArgs, clinic: &str, suspended: bool) -> anyhow::Result<ExitCode> {
    let Ok(id) = clinic.parse::<velum_core::ClinicId>() else {
        eprintln!("error: --clinic must be a clinic id, as `velum clinic list` prints");
        return Ok(ExitCode::from(2));
    };
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let result = app.set_clinic_suspended(None, id, suspended).await;
    app.close().await;
    match result {
        Ok(()) => {
            println!("Clinic {id} is now {}", if suspended { "suspended" } else { "active" });
            Ok(ExitCode::SUCCESS)
        }
        Err(velum_app::AppError::NotFound) => {
            eprintln!("error: --clinic names no clinic here");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Create {
            data,
            mail,
            name,
            owner_email,
        } => {
            let app = crate::config::open_app(&data, mail.settings(None)).await?;
            let result = app.create_clinic(&name, &owner_email, None).await;
            app.close().await;
            print_setup_link(
                result.map(|c| (format!("Clinic created: {}", c.clinic_id), c.setup_link)),
                "the owner",
                |field| if field == "name" { "--name" } else { "--owner-email" },
            )
        }
        Command::List { data } => {
            let settings = MailArgs::offline();
            let app = crate::config::open_app(&data, settings).await?;
            for c in app.clinics().await? {
                println!("{}  {}  {}", c.id, c.status, c.name);
            }
            app.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Suspend { data, clinic } => set_suspended(&data, &clinic, true).await,
        Command::Resume { data, clinic } => set_suspended(&data, &clinic, false).await,
    }
}
