//! The `taskhub` binary: parses the command line and hands over to the libraries.

mod allocator;
mod cli;
mod fatal;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let ran = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(cli.run()));
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fatal::report(&error);
            ExitCode::FAILURE
        }
    }
}
