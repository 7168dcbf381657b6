//! `toolhost token`: a bearer token from the local development issuer.

use super::{EXIT_OK, EXIT_USAGE, print_line};
use std::path::PathBuf;
use std::time::Duration;
use toolhost::Config;
use toolhost::auth::dev::{DevIssuer, TokenRequest};

#[derive(clap::Args)]
pub struct TokenArgs {
    /// The user the token stands for.
    #[arg(long)]
    subject: String,
    /// Roles (the `roles` claim), comma-separated.
    #[arg(long, value_delimiter = ',')]
    roles: Vec<String>,
    /// Scopes (the `scope` claim), comma-separated.
    #[arg(long, value_delimiter = ',')]
    scopes: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// The server's data directory, where the development key lives [default: .toolhost].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The server's configuration file (for the data directory and public URL).
    #[arg(long, env = "TOOLHOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn run(args: TokenArgs) -> u8 {
    match token(&args) {
        Ok(token) => {
            print_line(&token);
            EXIT_OK
        }
        Err(e) => {
            eprintln!("toolhost token: {e}");
            EXIT_USAGE
        }
    }
}

fn token(args: &TokenArgs) -> Result<String, String> {
    let mut config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(dir) = &args.data {
        config.storage.data_dir = dir.clone();
    }
    if args.subject.trim().is_empty() {
        return Err("--subject must not be empty".into());
    }
    if args.ttl == 0 {
        return Err("--ttl must be at least 1 second".into());
    }
    let issuer = DevIssuer::open(&config.storage.data_dir).map_err(|e| e.to_string())?;
    let audience = format!("{}/mcp", config.public_url().map_err(|e| e.to_string())?);
    issuer
        .token(&TokenRequest {
            subject: args.subject.clone(),
            roles: args
                .roles
                .iter()
                .filter(|r| !r.is_empty())
                .cloned()
                .collect(),
            scopes: args
                .scopes
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            audience,
            ttl: Duration::from_secs(args.ttl),
        })
        .map_err(|e| e.to_string())
}
