//! `velum keys init`: create a master key file.

use std::path::PathBuf;
use std::process::ExitCode;

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
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
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
