//! `velum clinic create|list`.

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
            match result {
                Ok(created) => {
                    println!("Clinic created: {}", created.clinic_id);
                    println!("Owner set-up link (works once, for 72 hours; give it only to the owner):");
                    println!("{}", created.setup_link);
                    Ok(ExitCode::SUCCESS)
                }
                Err(velum_app::AppError::Validation(errors) | velum_app::AppError::Conflict(errors)) => {
                    for e in errors.as_slice() {
                        let flag = if e.field == "name" { "--name" } else { "--owner-email" };
                        eprintln!("error: {flag} {}", e.message);
                    }
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
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
    }
}
