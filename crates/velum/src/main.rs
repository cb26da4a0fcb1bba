//! `velum`: the one binary. Subcommands are modules under `cmd/`; each parses
//! its flags, opens the app, and calls `velum-app` use cases, so the command
//! line cannot bypass policy or audit. This file only wires things together.

mod cmd;
mod config;
mod telemetry;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "velum", version, about = "Practice management for UK aesthetic clinics")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web app and API (production).
    Serve(cmd::serve::Args),
    /// Start a demo installation with two synthetic clinics.
    Demo(cmd::demo::Args),
    /// Bring the database schema up to date and exit.
    Migrate(cmd::migrate::Args),
    /// Manage the master key and rotate clinic keys.
    #[command(subcommand)]
    Keys(cmd::keys::Command),
    /// Create and list clinics.
    #[command(subcommand)]
    Clinic(cmd::clinic::Command),
    /// Manage platform operators (hosted mode).
    #[command(subcommand)]
    Operator(cmd::clinic::OperatorCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Write one clinic to an encrypted file, to move it to another backend.
    Export(cmd::export::Args),
    /// Load a clinic from a `velum export` file (same master key).
    Import(cmd::import::Args),
    /// Write an encrypted, consistent backup of the whole installation while it runs.
    Backup(cmd::backup::BackupArgs),
    /// Restore a `velum backup` file into a new, empty data directory (or
    /// database) and verify it.
    Restore(cmd::backup::RestoreArgs),
    /// Drive a running server over HTTP and report throughput and latency.
    Loadtest(cmd::loadtest::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => cmd::serve::run(args).await,
            Command::Demo(args) => cmd::demo::run(args).await,
            Command::Migrate(args) => cmd::migrate::run(args).await,
            Command::Keys(c) => cmd::keys::run(c).await,
            Command::Clinic(c) => cmd::clinic::run(c).await,
            Command::Operator(c) => cmd::clinic::run_operator(c).await,
            Command::Audit(c) => cmd::audit::run(c).await,
            Command::Export(args) => cmd::export::run(args).await,
            Command::Import(args) => cmd::import::run(args).await,
            Command::Backup(args) => cmd::backup::run_backup(args).await,
            Command::Restore(args) => cmd::backup::run_restore(args).await,
            Command::Loadtest(args) => cmd::loadtest::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
