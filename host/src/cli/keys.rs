//! `toolhost keys rotate`: replace the key that signs the OAuth proxy's
//! access tokens and the caller tokens, keeping the old one published.

use super::{EXIT_OK, EXIT_USAGE};
use std::path::PathBuf;
use toolhost::Config;
use toolhost::signing::{PREVIOUS_KEY_GRACE, SIGNING_KEY_FILE, SigningKey, previous_path};

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key (`<data>/oauth-signing.p8`). The old one is
    /// kept as `oauth-signing.previous.p8` and stays in the published JWKS
    /// for 24 hours, so tokens it signed still verify; restart the servers
    /// sharing the data directory to sign with the new one.
    Rotate(RotateArgs),
}

#[derive(clap::Args)]
pub struct RotateArgs {
    /// The server's data directory [default: from the configuration, else .toolhost].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The server's configuration file (for the data directory).
    #[arg(long, env = "TOOLHOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn run(command: KeysCommand) -> u8 {
    let KeysCommand::Rotate(args) = command;
    match rotate(&args) {
        Ok(message) => {
            println!("{message}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("toolhost keys rotate: {e}");
            EXIT_USAGE
        }
    }
}

fn rotate(args: &RotateArgs) -> Result<String, String> {
    let mut config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(dir) = &args.data {
        config.storage.data_dir = dir.clone();
    }
    let path = config.storage.data_dir.join(SIGNING_KEY_FILE);
    let (old, new) = SigningKey::rotate(&path).map_err(|e| e.to_string())?;
    let hours = PREVIOUS_KEY_GRACE.as_secs() / 3600;
    Ok(match old {
        Some(old) => format!(
            "new signing key {new} in {}; the previous key {old} ({}) stays published for {hours} hours. \
             Restart the servers using this data directory to sign with the new key.",
            path.display(),
            previous_path(&path).display()
        ),
        None => format!(
            "new signing key {new} in {} (there was none)",
            path.display()
        ),
    })
}
