//! `toolhost config check FILE`: validate a configuration file.

use super::{EXIT_OK, EXIT_USAGE, print_line};
use std::path::PathBuf;
use toolhost::Config;

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate a TOML configuration file (with the environment's
    /// overrides applied, as `serve` would) and say what is wrong.
    Check {
        /// The file.
        file: PathBuf,
        /// Print the effective configuration (every key, defaults filled
        /// in, secrets hidden) when it is valid.
        #[arg(long)]
        print: bool,
    },
}

pub fn run(command: ConfigCommand) -> u8 {
    let ConfigCommand::Check { file, print } = command;
    let checked = Config::load(Some(&file)).and_then(|c| c.validate().map(|()| c));
    match checked {
        Ok(config) => {
            if print {
                match toml::to_string_pretty(&config) {
                    Ok(text) => {
                        print_line(text.trim_end());
                    }
                    Err(e) => {
                        eprintln!("{}: valid, but cannot be printed: {e}", file.display());
                        return EXIT_USAGE;
                    }
                }
            }
            eprintln!("{}: valid", file.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{}: invalid\n{e}", file.display());
            EXIT_USAGE
        }
    }
}
