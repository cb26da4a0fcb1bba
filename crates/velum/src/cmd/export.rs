//! `velum export`: write one clinic, every row of it, to an encrypted file
//! that `velum import` reads (to move a clinic between the embedded file
//! and PostgreSQL). The file opens only with this installation's master key.
//!
//! `velum export open`: open a clinic's offboarding archive (from `velum
//! clinic offboard` or the platform page) with the key given with it, and
//! write its JSON document. It needs no database and no master key, so a
//! clinic that has left can read its data with this open-source binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use velum_app::ClinicId;
use velum_app::transfer::TransferError;

use crate::config::{DataArgs, MailArgs};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    open: Option<Sub>,
    #[command(flatten)]
    data: DataArgs,
    /// The clinic to export, by id (see `velum clinic list`). May be left
    /// out when the installation holds exactly one clinic.
    #[arg(long, value_name = "CLINIC_ID")]
    clinic: Option<ClinicId>,
    /// The file to write. Must not exist yet; written with mode 0600.
    #[arg(long, value_name = "FILE", required = true)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Open a clinic's offboarding archive with the passphrase its owner
    /// chose (or, for an archive made before that, the key given with it)
    /// and write its JSON document (no database or master key needed).
    Open(OpenArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("the_key").required(true).args(["key", "key_file", "passphrase_file"])))]
struct OpenArgs {
    /// The archive file.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Read the passphrase the owner chose on the Leaving page from this
    /// file (its first line; `-` reads it from standard input).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The archive's key, as given with it (64 hex digits; hyphens and
    /// spaces are ignored).
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Read the key from this file instead (keeps it out of the shell history).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Write the document here (a new file, mode 0600) instead of to standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Sub::Open(open)) = args.open {
        return run_open(&open);
    }
    let Some(out) = args.out.clone() else {
        bail!("--out: give the file to write");
    };
    export(args, out).await
}

/// `velum export open`.
fn run_open(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out
        && std::fs::symlink_metadata(out).is_ok()
    {
        bail!("--out: {} already exists; give a new name", out.display());
    }
    use velum_app::offboard::{ArchiveError, ArchiveSecret, open_archive, open_archive_to};
    if let Some(path) = &args.passphrase_file {
        let text = if path.as_os_str() == "-" {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("--passphrase-file: cannot read standard input")?;
            line
        } else {
            std::fs::read_to_string(path)
                .with_context(|| format!("--passphrase-file: cannot read {}", path.display()))?
        };
        let passphrase = secrecy::SecretString::from(text.lines().next().unwrap_or_default().to_owned());
        // Opened as it is read: a format-3 archive one chunk at a time,
        // straight into the output, never whole in memory.
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("--file: cannot read {}", args.file.display()))?;
        let secret = ArchiveSecret::Passphrase(secrecy::ExposeSecret::expose_secret(&passphrase));
        let named = |e: ArchiveError| match e {
            ArchiveError::WrongPassphrase | ArchiveError::NeedsKey => anyhow::anyhow!("{e}"),
            ArchiveError::Write(_) => anyhow::anyhow!("--out: {e}"),
            other => anyhow::anyhow!("--file: {other}"),
        };
        match &args.out {
            Some(out) => {
                let target = NewFile::prepare("--out", out)?;
                let mut failed = None;
                let written = target.write_partial_with(&mut |w| match open_archive_to(&file, secret, w) {
                    Ok(header) => {
                        failed = Some(Ok(header));
                        Ok(())
                    }
                    Err(e) => {
                        failed = Some(Err(e));
                        Err(std::io::Error::other("not opened"))
                    }
                });
                let header = match (failed, written) {
                    (Some(Ok(header)), Ok(())) => header,
                    (Some(Err(e)), _) => {
                        target.discard();
                        return Err(named(e));
                    }
                    (_, Err(e)) => {
                        target.discard();
                        return Err(anyhow::anyhow!("--out: cannot write {}: {e}", out.display()));
                    }
                    (None, Ok(())) => {
                        target.discard();
                        bail!("--file: the archive was not opened");
                    }
                };
                target.link().inspect_err(|_| target.discard())?;
                eprintln!(
                    "Opened the archive of clinic {} (exported {}); wrote {}.",
                    header.clinic_id,
                    header.exported_at,
                    out.display()
                );
            }
            None => {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                open_archive_to(&file, secret, &mut stdout).map_err(named)?;
                stdout
                    .write_all(b"\n")
                    .and_then(|()| stdout.flush())
                    .context("cannot write to standard output")?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let file = std::fs::read(&args.file).with_context(|| format!("--file: cannot read {}", args.file.display()))?;
    let key = match (&args.key, &args.key_file) {
        (Some(k), _) => secrecy::SecretString::from(k.clone()),
        (None, Some(path)) => secrecy::SecretString::from(
            std::fs::read_to_string(path).with_context(|| format!("--key-file: cannot read {}", path.display()))?,
        ),
        (None, None) => bail!("--passphrase-file: give the owner's passphrase (or --key for an older archive)"),
    };
    let (header, document) = open_archive(&file, ArchiveSecret::Key(secrecy::ExposeSecret::expose_secret(&key)))
        .map_err(|e| match e {
            ArchiveError::BadKeyText(_) | ArchiveError::WrongKey | ArchiveError::NeedsPassphrase
                if args.key.is_none() =>
            {
                anyhow::anyhow!("{}", e.to_string().replacen("--key:", "--key-file:", 1))
            }
            ArchiveError::BadKeyText(_) | ArchiveError::WrongKey | ArchiveError::NeedsPassphrase => {
                anyhow::anyhow!("{e}")
            }
            other => anyhow::anyhow!("--file: {other}"),
        })?;
    write_document(args, &header, &document)
}

fn write_document(
    args: &OpenArgs,
    header: &velum_app::offboard::ArchiveHeader,
    document: &[u8],
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    match &args.out {
        Some(out) => {
            write_new(out, document).with_context(|| format!("--out: cannot write {}", out.display()))?;
            eprintln!(
                "Opened the archive of clinic {} (exported {}); wrote {}.",
                header.clinic_id,
                header.exported_at,
                out.display()
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(document)
                .and_then(|()| stdout.write_all(b"\n"))
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(args: Args, out: PathBuf) -> anyhow::Result<ExitCode> {
    // Everything about --out is checked before the database is opened.
    let target = NewFile::prepare("--out", &out)?;
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
    let result = app
        .export_clinic(clinic, |write| target.write_partial_with(write))
        .await;
    app.close().await;
    let summary = match result {
        Ok((summary, ())) => summary,
        Err(e) => {
            target.discard();
            return Err(match e {
                TransferError::NoSuchClinic(_) | TransferError::Offboarded(_) => anyhow::anyhow!("--clinic: {e}"),
                TransferError::Save(_) => anyhow::anyhow!("--out: {e}"),
                other => other.into(),
            });
        }
    };
    target.link().inspect_err(|_| target.discard())?;
    println!(
        "Exported clinic {} to {}: {} rows ({}).",
        summary.clinic_id,
        out.display(),
        summary.total(),
        summary.counts()
    );
    Ok(ExitCode::SUCCESS)
}

/// A file a command creates, never over an existing one: written under a
/// temporary name beside it (mode 0600, fsynced), then linked into place
/// once what it records has committed.
pub(crate) struct NewFile {
    flag: &'static str,
    path: PathBuf,
    dir: PathBuf,
    partial: PathBuf,
}

impl NewFile {
    /// Check `path` (named by `flag` in errors) can be created: it does not
    /// exist, and its directory does.
    pub(crate) fn prepare(flag: &'static str, path: &Path) -> anyhow::Result<NewFile> {
        if std::fs::symlink_metadata(path).is_ok() {
            bail!(
                "{flag}: {} already exists; Velum never overwrites a file, give a new name",
                path.display()
            );
        }
        let Some(name) = path.file_name() else {
            bail!("{flag}: {} is not a file name", path.display());
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!("{flag}: the directory {} does not exist", dir.display());
        }
        let partial = dir.join(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            uuid::Uuid::new_v4().simple()
        ));
        Ok(NewFile {
            flag,
            path: path.to_path_buf(),
            dir,
            partial,
        })
    }

    /// Make `bytes` durable under the temporary name.
    pub(crate) fn write_partial(&self, bytes: &[u8]) -> std::io::Result<()> {
        write_new(&self.partial, bytes)
    }

    /// Like [`NewFile::write_partial`], with the content written by `write`
    /// as it is produced rather than handed over whole.
    pub(crate) fn write_partial_with(
        &self,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = create_new(&self.partial)?;
        let mut out = std::io::BufWriter::new(&mut f);
        write(&mut out)?;
        out.flush()?;
        drop(out);
        f.sync_all()
    }

    /// The temporary file's path (where the data stays if linking fails).
    pub(crate) fn partial(&self) -> &Path {
        &self.partial
    }

    /// Give the written file its name. A hard link never replaces an
    /// existing file (unlike rename), so a file that appeared there
    /// meanwhile is kept; the temporary file is then left for the caller.
    pub(crate) fn link(&self) -> anyhow::Result<()> {
        std::fs::hard_link(&self.partial, &self.path)
            .with_context(|| format!("{}: cannot create {}", self.flag, self.path.display()))?;
        let _ = std::fs::remove_file(&self.partial);
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Remove the temporary file (nothing was recorded).
    pub(crate) fn discard(&self) {
        let _ = std::fs::remove_file(&self.partial);
    }
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
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A new file at `path` (never an existing one), mode 0600 on Unix.
fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}
