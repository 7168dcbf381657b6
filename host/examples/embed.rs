//! An existing axum application that mounts toolhost under `/tools`.
//!
//! ```sh
//! cargo run -p toolhost --example embed -- --plugins .toolhost/plugins
//! ```
//!
//! The application keeps its own routes (`/` and `/api/hello`) and its own
//! idea of who may do what (a list of staff subjects, turned into the
//! `member` role by a [`RoleResolver`]). toolhost brings the MCP endpoint at
//! `/tools/mcp`, its health and metrics under `/tools`, and the OAuth
//! protected-resource metadata at
//! `/.well-known/oauth-protected-resource/tools/mcp`, all from one
//! `Host::router()` merged into the application's router.
//!
//! Tokens: with `--oidc-issuer URL` (any OAuth 2.1 / OIDC issuer, e.g. a
//! Clerk frontend API) the app verifies that issuer's tokens; without it,
//! development tokens printed at start (loopback only).

use axum::Router;
use axum::routing::get;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use toolhost::auth::dev::TokenRequest;
use toolhost::auth::{RoleResolver, RolesFuture};
use toolhost::{Config, Host, Principal};

/// The application's own notion of staff, as a source of roles.
struct Staff(Vec<String>);

impl RoleResolver for Staff {
    fn roles<'a>(&'a self, principal: &'a Principal) -> RolesFuture<'a> {
        let member = self.0.contains(&principal.subject);
        Box::pin(async move {
            Ok(if member {
                vec!["member".into()]
            } else {
                vec![]
            })
        })
    }
}

struct Args {
    listen: SocketAddr,
    plugins: PathBuf,
    data: PathBuf,
    oidc_issuer: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:8080".parse().expect("a literal address"),
        plugins: PathBuf::from(".toolhost/plugins"),
        data: PathBuf::from(".toolhost/embed"),
        oidc_issuer: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                args.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?;
            }
            "--plugins" => args.plugins = value()?.into(),
            "--data" => args.data = value()?.into(),
            "--oidc-issuer" => args.oidc_issuer = Some(value()?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --listen ADDR --plugins DIR --data DIR [--oidc-issuer URL]"
                ));
            }
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter("info,rmcp=warn")
        .with_writer(std::io::stderr)
        .init();
    let args = args()?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;

    // toolhost's configuration, built in code.
    let mut config = Config::default();
    config.plugins.dir = args.plugins;
    config.storage.data_dir = args.data;
    config.server.listen = addr;
    // Everything toolhost serves lives under /tools of this application.
    config.auth.public_url = Some(format!("http://{addr}/tools"));
    match args.oidc_issuer {
        Some(issuer) => config.auth.oidc.issuer = Some(issuer),
        None => config.dev.enabled = true,
    }
    // Only staff may create notes, whatever the tool itself asks for.
    config.tools.insert(
        "notes_create".into(),
        toolhost::config::ToolPolicy {
            roles: Some(vec!["member".into()]),
            ..Default::default()
        },
    );
    let staff = Staff(vec!["alice".into()]);
    let host = Arc::new(Host::start_with(config, Some(Arc::new(staff))).await?);

    // The application's own routes, and toolhost's merged in.
    let app = Router::new()
        .route(
            "/",
            get(|| async { "The example application's home page.\n" }),
        )
        .route(
            "/api/hello",
            get(|| async { axum::Json(serde_json::json!({"hello": "from the application"})) }),
        )
        .merge(host.router()?);

    if let Some(issuer) = host.dev_issuer() {
        let token = issuer.token(&TokenRequest {
            subject: "alice".into(),
            roles: vec![],
            scopes: vec![],
            audience: format!("http://{addr}/tools/mcp"),
            ttl: std::time::Duration::from_secs(3600),
        })?;
        println!("TOKEN {token}");
    }
    println!("LISTENING http://{addr}/tools/mcp");

    // Ctrl-C or SIGTERM: toolhost drains its calls, then the server stops.
    let stopping = host.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stopping.shutdown();
    });
    host.serve_router(listener, app).await?;
    Ok(())
}
