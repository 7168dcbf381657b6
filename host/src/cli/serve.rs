//! `toolhost serve`: the MCP server over Streamable HTTP or stdio.

use super::{EXIT_OK, EXIT_USAGE, shell_word, this_command};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use toolhost::{Config, Host};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (every key has a default).
    #[arg(long, env = "TOOLHOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3001].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Directory of plugin components (*.wasm), watched for changes [default: plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Data directory: SQLite database and compiled-artifact cache [default: .toolhost].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Development mode: sign users in on a local page where you pick the
    /// user and roles, and accept tokens of the local development issuer
    /// (`toolhost token`), instead of an identity provider's; loopback only.
    #[arg(long)]
    dev: bool,
    /// Serve one client on stdin/stdout instead of HTTP, as the configured
    /// stdio principal (for Claude Desktop, Cursor and other local launchers).
    #[arg(long)]
    stdio: bool,
}

fn configure(args: &ServeArgs) -> Result<Config, String> {
    let mut config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(dir) = &args.plugins {
        config.plugins.dir = dir.clone();
    }
    if let Some(dir) = &args.data {
        config.storage.data_dir = dir.clone();
    }
    if args.dev {
        config.dev.enabled = true;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

pub fn run(args: ServeArgs) -> u8 {
    let config = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("toolhost serve: {e}");
            return EXIT_USAGE;
        }
    };
    run_server("serve", serve(config, args.stdio))
}

/// Run a server command's `work` on a multi-threaded async runtime until it
/// ends: exit 0, or 2 with `toolhost COMMAND: reason`.
pub(super) fn run_server(
    command: &str,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("toolhost {command}: cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("toolhost {command}: {e}");
            EXIT_USAGE
        }
    }
}

async fn serve(config: Config, stdio: bool) -> Result<(), String> {
    let host = start(config).await?;
    if stdio {
        return host.serve_stdio().await.map_err(|e| e.to_string());
    }
    let (listener, router) = listen(&host).await?;
    host.serve_router(listener, router)
        .await
        .map_err(|e| e.to_string())
}

/// Start the host, and stop it on Ctrl-C or SIGTERM.
pub(super) async fn start(config: Config) -> Result<Arc<Host>, String> {
    let host = Arc::new(Host::start(config).await.map_err(|e| e.to_string())?);
    let stopper = host.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        stopper.shutdown();
    });
    Ok(host)
}

/// Listen where the configuration says and print what is served and how to
/// connect.
pub(super) async fn listen(host: &Host) -> Result<(tokio::net::TcpListener, axum::Router), String> {
    let listen = host.config().server.listen;
    let data_dir = host.config().storage.data_dir.clone();
    // Fails here, before listening, when no identity provider is configured.
    let router = host.router().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let tools = host.registry().snapshot();
    let names: Vec<&str> = tools.iter().map(|p| p.name()).collect();
    println!("toolhost serving http://{listen}/mcp");
    println!(
        "  tools: {}",
        if names.is_empty() {
            "(none yet)".to_owned()
        } else {
            names.join(", ")
        }
    );
    println!(
        "  plugins: {} (watched; drop a .wasm in to add or replace a tool)",
        host.config().plugins.dir.display()
    );
    if let Some(auth) = host.authenticator() {
        println!(
            "  resource: {} (metadata at /.well-known/oauth-protected-resource/mcp)",
            auth.resource()
        );
    }
    if host.dev_issuer().is_some() {
        let data = std::path::absolute(&data_dir).unwrap_or(data_dir.clone());
        if let Some(auth) = host.authenticator() {
            println!(
                "  development mode: OAuth clients (MCP Inspector, Claude Code, the SDKs) connect to\n    \
                 {} with nothing pasted: the sign-in page lets you pick the user and roles",
                auth.resource()
            );
        }
        println!(
            "  for scripts, a bearer token:\n    {} token --data {} --subject alice --roles member",
            shell_word(&this_command()),
            shell_word(&data.to_string_lossy()),
        );
    }
    Ok((listener, router))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::super::shell_word;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(shell_word("/srv/toolhost/data"), "/srv/toolhost/data");
        assert_eq!(shell_word("/home/a b/data"), "'/home/a b/data'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
