//! An existing axum application that mounts toolhost under `/tools`.
//!
//! ```sh
//! make plugins && cargo run -p toolhost --example embed -- --plugins .toolhost/plugins
//! ```
//!
//! The application keeps its own routes (`/`, `/api/hello`, and its
//! per-user projects at `/api/projects`) and its own idea of who may do what
//! (a list of staff subjects, turned into the `member` role by a
//! [`RoleResolver`]). toolhost brings the MCP endpoint at `/tools/mcp`, its
//! health and metrics under `/tools`, and the OAuth protected-resource
//! metadata at `/.well-known/oauth-protected-resource/tools/mcp`, all from
//! one `Host::router()` merged into the application's router.
//!
//! The tools `projects_list` and `projects_create` call the application's
//! API as the signed-in user: the application is `[apis.app]`, and each
//! request carries a caller token the host mints. The application verifies
//! it as it would any access token, with `jsonwebtoken` against toolhost's
//! JWKS (`/tools/oauth/jwks.json`), checking `iss`, `aud` and `exp`.
//!
//! Tokens: with `--oidc-issuer URL` (any OAuth 2.1 / OIDC issuer, e.g. a
//! Clerk frontend API) the app verifies that issuer's tokens; without it,
//! development tokens printed at start (loopback only).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use toolhost::auth::dev::TokenRequest;
use toolhost::auth::{RoleResolver, RolesFuture};
use toolhost::config::{ApiAuth, ApiConfig};
use toolhost::{Config, Host, Principal};

/// The application's data and how it checks who calls its API.
struct App {
    /// Projects by owner (the verified `sub`).
    projects: Mutex<HashMap<String, Vec<Value>>>,
    /// Where toolhost publishes the keys of its caller tokens.
    jwks_url: String,
    keys: tokio::sync::Mutex<Option<JwkSet>>,
    issuer: String,
    audience: String,
    http: reqwest::Client,
}

type Rejection = (StatusCode, axum::Json<Value>);

fn reject(status: StatusCode, why: impl Into<String>) -> Rejection {
    (status, axum::Json(json!({"error": why.into()})))
}

impl App {
    /// The caller of an API request: its bearer token verified against
    /// toolhost's JWKS (fetched once, again on an unknown `kid`).
    async fn caller(&self, headers: &HeaderMap) -> Result<(String, String), Rejection> {
        let unauthorized = |why: String| {
            tracing::warn!(reason = why.as_str(), "rejected an API request");
            reject(StatusCode::UNAUTHORIZED, why)
        };
        let token = (headers.get("authorization"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("no bearer token".into()))?;
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|e| unauthorized(format!("not a JWT: {e}")))?
            .kid
            .unwrap_or_default();
        let mut keys = self.keys.lock().await;
        if keys.as_ref().is_none_or(|k| k.find(&kid).is_none()) {
            let fetched = async {
                self.http
                    .get(&self.jwks_url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await
            };
            *keys = Some(
                fetched
                    .await
                    .map_err(|e| unauthorized(format!("JWKS: {e}")))?,
            );
        }
        let jwk = (keys.as_ref().and_then(|k| k.find(&kid)))
            .ok_or_else(|| unauthorized(format!("unknown key {kid:?}")))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| unauthorized(e.to_string()))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| unauthorized(format!("invalid token: {e}")))?
            .claims;
        let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
        let tool = claims["act"]["sub"].as_str().unwrap_or("-").to_owned();
        tracing::info!(sub = sub.as_str(), tool = tool.as_str(), "verified caller");
        Ok((sub, tool))
    }
}

async fn list_projects(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, Rejection> {
    let (sub, _) = app.caller(&headers).await?;
    let projects = app.projects.lock().unwrap_or_else(|e| e.into_inner());
    let mine = projects.get(&sub).cloned().unwrap_or_default();
    Ok(axum::Json(json!({"projects": mine})))
}

async fn create_project(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<Value>), Rejection> {
    let (sub, _) = app.caller(&headers).await?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| reject(StatusCode::BAD_REQUEST, format!("not JSON: {e}")))?;
    let name = body["name"].as_str().unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(reject(StatusCode::BAD_REQUEST, "name: 1 to 100 characters"));
    }
    let mut projects = app.projects.lock().unwrap_or_else(|e| e.into_inner());
    let mine = projects.entry(sub.clone()).or_default();
    if mine.len() >= 1000 {
        return Err(reject(
            StatusCode::CONFLICT,
            "1000 projects is the most one user may have",
        ));
    }
    let project = json!({
        "id": format!("p{}", mine.len() + 1),
        "name": name,
        "owner": sub,
        "created_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    });
    mine.push(project.clone());
    Ok((StatusCode::CREATED, axum::Json(json!({"project": project}))))
}

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
    // The application's own API, which the projects tools call as the
    // signed-in user with a caller token for this audience.
    let audience = format!("http://{addr}");
    config.apis.insert(
        "app".into(),
        ApiConfig {
            url: format!("http://{addr}/api/"),
            auth: ApiAuth::Caller,
            audience: Some(audience.clone()),
            header: None,
            value_env: None,
            timeout_ms: 5_000,
            max_response_bytes: 1 << 20,
            max_request_bytes: 64 << 10,
            methods: Some(vec!["GET".into(), "POST".into()]),
            allow_private: false,
            max_concurrent: 16,
        },
    );
    for tool in ["projects_list", "projects_create"] {
        config.tools.insert(
            tool.into(),
            toolhost::config::ToolPolicy {
                apis: vec!["app".into()],
                ..Default::default()
            },
        );
    }
    let app_state = Arc::new(App {
        projects: Mutex::new(HashMap::new()),
        jwks_url: format!("http://{addr}/tools/oauth/jwks.json"),
        keys: tokio::sync::Mutex::new(None),
        issuer: format!("http://{addr}/tools"),
        audience,
        http: reqwest::Client::new(),
    });
    let staff = Staff(vec!["alice".into(), "carol".into()]);
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
        .route("/api/projects", get(list_projects).post(create_project))
        .with_state(app_state)
        .merge(host.router()?);

    if let Some(issuer) = host.dev_issuer() {
        // Development tokens for two of the staff: alice, and carol.
        for (label, subject) in [("TOKEN", "alice"), ("CAROL_TOKEN", "carol")] {
            let token = issuer.token(&TokenRequest {
                subject: subject.into(),
                roles: vec![],
                scopes: vec![],
                audience: format!("http://{addr}/tools/mcp"),
                ttl: std::time::Duration::from_secs(3600),
            })?;
            println!("{label} {token}");
        }
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
