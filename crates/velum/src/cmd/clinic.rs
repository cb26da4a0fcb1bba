//! `velum clinic create|list|suspend|resume|offboard|certificate` and
//! `velum operator create`.

use std::path::PathBuf;
use std::process::ExitCode;

use velum_app::offboard::{OffboardError, OffboardRequest, Offboarding};
use velum_core::clinic::ClinicStatus;

use crate::cmd::export::NewFile;
use crate::config::{BlobArgs, DataArgs, MailArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a clinic and its owner's account. Embedded (SQLite, no
    /// operator account): prints the owner's one-time set-up link. Hosted
    /// (PostgreSQL, or an operator account exists): emails it to the owner
    /// through the outbox and prints ids only.
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
    /// Suspend a clinic: nobody can sign in to it, live sessions end. The
    /// owner is emailed the reason (through the outbox).
    Suspend {
        #[command(flatten)]
        data: DataArgs,
        /// The clinic's id (from `velum clinic list`).
        #[arg(long)]
        clinic: String,
        /// Why (10 to 500 characters): emailed to the clinic's owner.
        #[arg(long)]
        reason: String,
    },
    /// Make a suspended clinic active again.
    Resume {
        #[command(flatten)]
        data: DataArgs,
        /// The clinic's id (from `velum clinic list`).
        #[arg(long)]
        clinic: String,
    },
    /// Complete the offboarding of a suspended clinic whose owner asked to
    /// leave (on the Leaving page): write its archive, sealed to the owner's
    /// passphrase, then destroy its keys, rows and blobs, and write the
    /// certificate. No key is printed: only the owner can open the archive.
    /// Without the owner's request it refuses (two operators approve on
    /// /platform instead).
    Offboard {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        blobs: BlobArgs,
        /// The clinic's id (from `velum clinic list`); it must be suspended.
        #[arg(long)]
        clinic: String,
        /// Where to write the clinic's archive (a new file, mode 0600).
        #[arg(long, value_name = "FILE")]
        export: PathBuf,
        /// Where to write the certificate (a new file; default: the archive's
        /// name followed by .certificate.json).
        #[arg(long, value_name = "FILE")]
        certificate: Option<PathBuf>,
        /// Why (10 to 500 characters): emailed to the clinic's owner.
        #[arg(long)]
        reason: String,
    },
    /// Print an offboarded clinic's certificate, checked against the
    /// platform's audit chain.
    Certificate {
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

/// Hosted mode: the clinic's ids; its owner's link went to their email.
fn print_mailed(
    result: Result<velum_app::clinics::CreatedClinic, velum_app::AppError>,
    owner_email: &str,
    flag: impl Fn(&str) -> &'static str,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(c) => {
            println!("Clinic created: {}", c.clinic_id);
            println!("Owner account: {}", c.owner_id);
            println!(
                "The owner's one-time set-up link is queued for {} (hosted mode: it is emailed, never shown here; \
                 `velum serve` with SMTP settings sends it).",
                owner_email.trim()
            );
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

async fn set_suspended(data: &DataArgs, clinic: &str, suspended: bool, reason: &str) -> anyhow::Result<ExitCode> {
    let Ok(id) = clinic.parse::<velum_core::ClinicId>() else {
        eprintln!("error: --clinic must be a clinic id, as `velum clinic list` prints");
        return Ok(ExitCode::from(2));
    };
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let result = app.set_clinic_suspended(None, id, suspended, reason).await;
    app.close().await;
    match result {
        Ok(()) => {
            let now = if suspended {
                ClinicStatus::Suspended
            } else {
                ClinicStatus::Active
            };
            println!("Clinic {id} is now {now}");
            Ok(ExitCode::SUCCESS)
        }
        Err(velum_app::AppError::NotFound) => {
            eprintln!("error: --clinic names no clinic here");
            Ok(ExitCode::from(2))
        }
        Err(velum_app::AppError::Validation(errors)) => {
            for e in errors.as_slice() {
                eprintln!("error: --{} {}", e.field, e.message);
            }
            Ok(ExitCode::from(2))
        }
        Err(velum_app::AppError::Conflict(errors)) => {
            for e in errors.as_slice() {
                eprintln!("error: --clinic: clinic {id} {}", e.message);
            }
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
            let flag = |field: &str| if field == "name" { "--name" } else { "--owner-email" };
            // Hosted (PostgreSQL, or any operator account exists): the link
            // goes to the owner's email, never to the console.
            let hosted = app.is_hosted().await;
            let result = match hosted {
                Ok(true) => {
                    let created = app.create_clinic_mailing_owner(&name, &owner_email, None).await;
                    app.close().await;
                    return print_mailed(created, &owner_email, flag);
                }
                Ok(false) => app.create_clinic(&name, &owner_email, None).await,
                Err(e) => Err(e),
            };
            app.close().await;
            print_setup_link(
                result.map(|c| (format!("Clinic created: {}", c.clinic_id), c.setup_link)),
                "the owner",
                flag,
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
        Command::Suspend { data, clinic, reason } => set_suspended(&data, &clinic, true, &reason).await,
        Command::Resume { data, clinic } => set_suspended(&data, &clinic, false, "").await,
        Command::Offboard {
            data,
            blobs,
            clinic,
            export,
            certificate,
            reason,
        } => offboard(&data, &blobs, &clinic, export, certificate, &reason).await,
        Command::Certificate { data, clinic } => print_certificate(&data, &clinic).await,
    }
}

fn clinic_id(clinic: &str) -> anyhow::Result<velum_core::ClinicId> {
    clinic
        .parse()
        .map_err(|_| anyhow::anyhow!("--clinic: must be a clinic id, as `velum clinic list` prints"))
}

async fn offboard(
    data: &DataArgs,
    blobs: &BlobArgs,
    clinic: &str,
    export: PathBuf,
    certificate: Option<PathBuf>,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    // Every flag is checked before the database is opened.
    let id = clinic_id(clinic)?;
    let certificate = certificate.unwrap_or_else(|| {
        let mut name = export.clone().into_os_string();
        name.push(".certificate.json");
        PathBuf::from(name)
    });
    let archive = NewFile::prepare("--export", &export)?;
    let cert_file = NewFile::prepare("--certificate", &certificate)?;
    let mut settings = MailArgs::offline();
    settings.blobs = blobs.open(data)?;
    let app = crate::config::open_app(data, settings).await?;
    let request = OffboardRequest {
        clinic: id,
        confirm_name: None,
        reason,
        keep_for_download: false,
    };
    let result = app
        .offboard_clinic_to(None, request, |file| {
            archive.write_partial_with(&mut |out| std::io::copy(file, out).map(|_| ()))
        })
        .await;
    app.close().await;
    let done = match result {
        Ok(Offboarding::Done(done)) if done.archive.is_some() => done,
        Ok(_) => {
            // The command line completes only what the owner asked for, so
            // it always has an archive; anything else is a bug.
            archive.discard();
            anyhow::bail!("--clinic: the offboarding did not complete as the owner asked; nothing was written");
        }
        Err(e) => {
            archive.discard();
            return Err(match e {
                OffboardError::UnknownClinic(_)
                | OffboardError::PlatformRow
                | OffboardError::NotSuspended { .. }
                | OffboardError::OwnerHasNotAsked(_)
                | OffboardError::AlreadyOffboarded(_) => anyhow::anyhow!("--clinic: {e}"),
                OffboardError::Save(_) => anyhow::anyhow!("--export: {e}"),
                OffboardError::App(velum_app::AppError::Validation(f)) => anyhow::anyhow!(
                    "--{}",
                    f.as_slice()
                        .first()
                        .map_or_else(String::new, |x| format!("{} {}", x.field, x.message))
                ),
                other => anyhow::anyhow!("{other}"),
            });
        }
    };
    let (archive_bytes, archive_sha256) = done
        .archive
        .as_ref()
        .map_or((0, String::new()), |a| (a.bytes, a.sha256.clone()));
    // The clinic's data is gone now: never lose the archive. If it cannot
    // take its name, it stays under the temporary one, and we say where.
    let archive_at = match archive.link() {
        Ok(()) => export.display().to_string(),
        Err(e) => {
            eprintln!("warning: {e:#}; the archive is at {}", archive.partial().display());
            archive.partial().display().to_string()
        }
    };
    let cert_at = match cert_file
        .write_partial(done.certificate.as_bytes())
        .map_err(anyhow::Error::from)
        .and_then(|()| cert_file.link())
    {
        Ok(()) => certificate.display().to_string(),
        Err(e) => {
            cert_file.discard();
            eprintln!(
                "warning: --certificate: {e:#}; it is stored with the clinic's tombstone \
                 (velum clinic certificate --clinic {id})"
            );
            "(not written; see the warning above)".to_owned()
        }
    };
    println!("Clinic {id} has been offboarded: its keys, data and blobs are destroyed.");
    println!("Archive: {archive_at} ({archive_bytes} bytes, SHA-256 {archive_sha256})");
    println!(
        "It is sealed to the passphrase the clinic's owner chose when asking to leave: nobody here can open it. \
         Give the file to the owner, who opens it with"
    );
    println!("    velum export open --file ARCHIVE --passphrase-file FILE");
    println!(
        "Certificate: {cert_at} (SHA-256 {}, recorded in the platform's audit chain)",
        done.certificate_sha256
    );
    Ok(ExitCode::SUCCESS)
}

async fn print_certificate(data: &DataArgs, clinic: &str) -> anyhow::Result<ExitCode> {
    let id = clinic_id(clinic)?;
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let result = async {
        let Some(row) = app.offboarding(None, id).await? else {
            anyhow::bail!("--clinic: clinic {id} has not been offboarded (or is not here)");
        };
        let checked = app.verify_certificate(&row.certificate).await.map_err(|e| match e {
            velum_app::AppError::Validation(f) => anyhow::anyhow!(
                "the stored certificate {}",
                f.as_slice().first().map_or("does not verify", |x| x.message.as_str())
            ),
            other => other.into(),
        })?;
        println!("{}", row.certificate);
        eprintln!(
            "Checked against the platform's audit chain (event #{}).",
            checked.recorded_in.seq
        );
        let left: Vec<String> = app
            .remaining_rows(id)
            .await?
            .into_iter()
            .filter(|(t, n)| *n > 0 && t != "clinic_offboardings")
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        if left.is_empty() {
            eprintln!("No row of the clinic remains in any table (the tombstone and this certificate aside).");
        } else {
            anyhow::bail!("rows of the offboarded clinic remain: {}", left.join(", "));
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    app.close().await;
    result
}
