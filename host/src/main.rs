//! The `toolhost` command: a thin CLI over the `toolhost` library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
