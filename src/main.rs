//! Thin binary: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use trustdesk::cli::{Cli, Command};

/// jemalloc rather than glibc's allocator: each request allocates and frees a few dozen objects,
/// often on different worker threads, and glibc spent ~6.5 % of a verify's CPU on it (a `perf`
/// profile, `docs/performance.md`). mimalloc was faster still but raised the peak memory of
/// large uploads past the bound `tests/api/memory.rs` sets; jemalloc stays within it.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs its work; one-shot commands only warn, their output is the answer.
    let level = match cli.command {
        None | Some(Command::Serve) => "info",
        Some(_) => "warn",
    };
    trustdesk::telemetry::init_logging(cli.config.log_format, level);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await.map(|()| ExitCode::SUCCESS),
        other => trustdesk::cli::run(cli.config, other).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: trustdesk::config::Config) -> anyhow::Result<()> {
    tracing::info!(config = ?config, "Starting Trustdesk");
    let stop = trustdesk::app::shutdown_signal();
    let app = trustdesk::app::App::build(config).await?;
    app.run_until_stopped(stop).await
}
