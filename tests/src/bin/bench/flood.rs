//! Memory of a host process under floods a client can send without any
//! rights: 10 000 distinct bogus bearer tokens, 10 000 distinct unknown
//! opaque Clerk tokens (`oat_…`), 5 000 MCP sessions opened and ended, and
//! 15 000 sessions asked for and kept (by one caller, then by 15 000).
//! The host runs in its own process against a Clerk stand-in served here
//! (its JWKS and the Backend API's token verification and user endpoints),
//! so every path a real deployment takes is taken; the figures are that
//! process's resident set after each flood, and its peak.
//!
//! `bench flood` runs only this section; `bench flood --toolhost PATH`
//! floods a `toolhost serve` binary instead of this build's host (to
//! compare with another version).

use super::{mib, record};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use toolhost::auth::SigningKey;

/// Distinct tokens and sessions per flood.
const BOGUS: usize = 10_000;
const OPAQUE: usize = 10_000;
const SESSIONS: usize = 5_000;
/// Sessions asked for and never ended.
const KEPT_OPEN: usize = 15_000;
/// Requests in flight at once.
const PARALLEL: usize = 16;

/// What the stand-in counted.
#[derive(Default)]
struct Counts {
    verifications: AtomicUsize,
    user_lookups: AtomicUsize,
}

struct StandIn {
    url: String,
    key: SigningKey,
    counts: Arc<Counts>,
}

async fn stand_in(dir: &Path) -> anyhow::Result<StandIn> {
    let key = SigningKey::open(&dir.join("clerk-standin.p8"))?;
    let jwks = serde_json::to_value(key.jwks())?;
    let counts = Arc::new(Counts::default());
    let app = axum::Router::new()
        .route(
            "/.well-known/jwks.json",
            get(move || {
                let jwks = jwks.clone();
                async move { Json(jwks) }
            }),
        )
        .route(
            "/v1/oauth_applications/access_tokens/verify",
            post(|State(c): State<Arc<Counts>>| async move {
                c.verifications.fetch_add(1, Ordering::Relaxed);
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"errors": [{"code": "resource_not_found"}]})),
                )
            }),
        )
        .route(
            "/v1/users/{id}",
            get(|State(c): State<Arc<Counts>>| async move {
                c.user_lookups.fetch_add(1, Ordering::Relaxed);
                Json(json!({"public_metadata": {"roles": ["member"]}}))
            }),
        )
        .route(
            "/v1/users/{id}/organization_memberships",
            get(|| async { Json(json!({"data": []})) }),
        )
        .with_state(counts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(StandIn { url, key, counts })
}

impl StandIn {
    /// A Clerk-style access token for `subject` (no roles: they come from
    /// the Backend API).
    fn token(&self, subject: &str) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        Ok(self.key.sign(&json!({
            "iss": self.url, "sub": subject, "client_id": "bench",
            "iat": now, "nbf": now, "exp": now + 3600,
        }))?)
    }
}

/// The host process and how to reach it.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Start the host: this build's (`bench serve-probe … clerk`) or the
/// `toolhost` binary at `binary`, with Clerk pointed at `standin`.
async fn start(
    root: &Path,
    standin: &StandIn,
    binary: Option<&Path>,
    proxy: bool,
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut command = match binary {
        None => {
            let mut c = Command::new(std::env::current_exe()?);
            c.args([
                "serve-probe",
                &root.display().to_string(),
                &port.to_string(),
            ]);
            c.arg("clerk");
            c
        }
        Some(binary) => {
            let config = root.join("toolhost.toml");
            std::fs::write(
                &config,
                "[rate_limit]\nper_minute = 0\n[audit]\nenabled = true\n",
            )?;
            let mut c = Command::new(binary);
            c.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .arg("--config")
                .arg(&config)
                .arg("--plugins")
                .arg(root.join("plugins"))
                .arg("--data")
                .arg(root.join("data"));
            c
        }
    };
    let mut child = command
        .env("CLERK_FRONTEND_API_URL", &standin.url)
        .env("CLERK_API_URL", &standin.url)
        .env("CLERK_SECRET_KEY", "sk_test_bench")
        .env("TOOLHOST_AUTH_PROXY", if proxy { "true" } else { "false" })
        .env("CLERK_OAUTH_CLIENT_ID", "bench-app")
        .env("TOOLHOST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    // Ready once /healthz answers (both kinds of server print differently).
    std::thread::spawn(move || BufReader::new(stdout).lines().for_each(drop));
    let health = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(Server { child, url });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the host did not become healthy")
}

/// `VmRSS` or `VmHWM` of `pid`, in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn random_b64(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token that looks like a JWT with a key id nobody published.
fn bogus_jwt() -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": random_b64(12)});
    let claims = json!({"sub": random_b64(8), "exp": 4_000_000_000u64});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        random_b64(64)
    )
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench-flood", "version": "1"}}})
}

/// Run `n` requests made by `one(i)`, `PARALLEL` at a time; how many got
/// `expected` (a status code).
async fn flood<F, Fut>(n: usize, one: F) -> usize
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (one, next, ok) = (one.clone(), next.clone(), ok.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    if one(i).await {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    ok.load(Ordering::Relaxed)
}

/// The figures: RSS after each flood, and the peak.
pub async fn floods(binary: Option<PathBuf>) -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    for p in [
        toolhost_tests::plugins::NOTES_CREATE,
        toolhost_tests::plugins::NOTES_LIST,
    ] {
        let p = Path::new(p);
        std::fs::copy(p, plugins.join(p.file_name().unwrap()))?;
    }
    let standin = Arc::new(stand_in(root.path()).await?);
    let server = start(root.path(), &standin, binary.as_deref(), false).await?;
    let pid = server.child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(PARALLEL)
        .timeout(Duration::from_secs(30))
        .build()?;
    let post = {
        let (client, url) = (client.clone(), server.url.clone());
        move |token: String, body: Value| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .post(&url)
                    .bearer_auth(token)
                    .header("accept", "application/json, text/event-stream")
                    .json(&body)
                    .send()
                    .await
            }
        }
    };
    // Warm up: one user, a few sessions, so the baseline is a serving host.
    let alice = standin.token("user_alice")?;
    for _ in 0..10 {
        let r = post(alice.clone(), initialize()).await?;
        anyhow::ensure!(r.status().is_success(), "initialize: {}", r.status());
    }
    let settle = || tokio::time::sleep(Duration::from_secs(1));
    settle().await;
    let mut rows = vec![(
        "host ready, serving (after 10 sessions)",
        memory(pid, "VmRSS:"),
    )];
    let started = Instant::now();
    let refused = {
        let post = post.clone();
        flood(BOGUS, move |i| {
            let token = if i % 2 == 0 {
                bogus_jwt()
            } else {
                random_b64(40)
            };
            let post = post.clone();
            async move {
                post(token, initialize())
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 401)
            }
        })
        .await
    };
    let bogus_secs = started.elapsed().as_secs_f64();
    settle().await;
    rows.push(("after 10 000 distinct bogus tokens", memory(pid, "VmRSS:")));
    let before = standin.counts.verifications.load(Ordering::Relaxed);
    let started = Instant::now();
    let opaque_refused = {
        let post = post.clone();
        flood(OPAQUE, move |i| {
            let post = post.clone();
            async move {
                post(format!("oat_bench{i:08}{}", random_b64(16)), initialize())
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 401)
            }
        })
        .await
    };
    let opaque_secs = started.elapsed().as_secs_f64();
    let asked = standin.counts.verifications.load(Ordering::Relaxed) - before;
    // The same 1 000 unknown tokens again: answered from the negative cache.
    let before_again = standin.counts.verifications.load(Ordering::Relaxed);
    let replayed = {
        let post = post.clone();
        flood(1_000, move |i| {
            let post = post.clone();
            async move {
                post(format!("oat_again{i:08}"), initialize())
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 401)
            }
        })
        .await
    };
    let first_pass = standin.counts.verifications.load(Ordering::Relaxed) - before_again;
    let before_repeat = standin.counts.verifications.load(Ordering::Relaxed);
    {
        let post = post.clone();
        flood(1_000, move |i| {
            let post = post.clone();
            async move {
                post(format!("oat_again{i:08}"), initialize())
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 401)
            }
        })
        .await;
    }
    let repeats_asked = standin.counts.verifications.load(Ordering::Relaxed) - before_repeat;
    settle().await;
    rows.push((
        "after 10 000 distinct unknown oat_ tokens",
        memory(pid, "VmRSS:"),
    ));
    let started = Instant::now();
    let ended = {
        let (client, url, token) = (client.clone(), server.url.clone(), alice.clone());
        flood(SESSIONS, move |_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move {
                let opened = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("accept", "application/json, text/event-stream")
                    .json(&initialize())
                    .send()
                    .await;
                let Ok(opened) = opened else { return false };
                let Some(id) = opened.headers().get("mcp-session-id").cloned() else {
                    return false;
                };
                let _ = opened.bytes().await;
                client
                    .delete(&url)
                    .bearer_auth(&token)
                    .header("mcp-session-id", id)
                    .header("mcp-protocol-version", "2025-11-25")
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    };
    let session_secs = started.elapsed().as_secs_f64();
    settle().await;
    rows.push((
        "after 5 000 sessions opened and ended",
        memory(pid, "VmRSS:"),
    ));
    // Sessions left open: by one caller, then by as many callers as there
    // are sessions (what only an attacker with 15 000 identities can do).
    let open_session = {
        let (client, url) = (client.clone(), server.url.clone());
        move |token: String| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let opened = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("accept", "application/json, text/event-stream")
                    .json(&initialize())
                    .send()
                    .await;
                let Ok(opened) = opened else { return false };
                let kept = opened.headers().contains_key("mcp-session-id");
                let _ = opened.bytes().await;
                kept
            }
        }
    };
    let mallory = standin.token("user_mallory")?;
    let started = Instant::now();
    let one_caller = {
        let open_session = open_session.clone();
        flood(KEPT_OPEN, move |_| open_session(mallory.clone())).await
    };
    let one_caller_secs = started.elapsed().as_secs_f64();
    let served_beside_one = post(alice.clone(), initialize()).await?.status();
    settle().await;
    rows.push((
        "after one caller asked for 15 000 sessions and kept them",
        memory(pid, "VmRSS:"),
    ));
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..KEPT_OPEN)
            .map(|i| standin.token(&format!("user_{i:05}")))
            .collect::<anyhow::Result<_>>()?,
    );
    let started = Instant::now();
    let many_callers = {
        let open_session = open_session.clone();
        flood(KEPT_OPEN, move |i| open_session(tokens[i].clone())).await
    };
    let many_callers_secs = started.elapsed().as_secs_f64();
    settle().await;
    rows.push((
        "after 15 000 callers asked for a session each and kept it",
        memory(pid, "VmRSS:"),
    ));
    // A stateless 2026-07-28 call needs no session: still served.
    let stateless = client
        .post(&server.url)
        .bearer_auth(&alice)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "notes_list")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "notes_list", "arguments": {},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .send()
        .await?;
    let served = stateless.status();
    let answer = stateless.text().await?;
    anyhow::ensure!(answer.contains("\"count\""), "a stateless call: {answer}");
    rows.push(("peak (VmHWM) over the whole run", memory(pid, "VmHWM:")));
    println!("| state | RSS |");
    println!("|---|---|");
    for (what, bytes) in &rows {
        println!("| {what} | {} |", mib(*bytes));
        record(json!({"what": what, "rss_bytes": bytes}));
    }
    println!();
    println!(
        "- {refused} of {BOGUS} bogus tokens refused with 401 in {bogus_secs:.1} s; \
         {opaque_refused} of {OPAQUE} unknown oat_ tokens refused in {opaque_secs:.1} s, \
         {asked} Backend API verifications for them"
    );
    println!(
        "- 1 000 unknown oat_ tokens sent twice: {replayed} refused, {first_pass} Backend API \
         verifications the first time, {repeats_asked} the second time"
    );
    println!("- {ended} of {SESSIONS} sessions opened and ended (DELETE) in {session_secs:.1} s");
    println!(
        "- one caller asking for {KEPT_OPEN} sessions (never ending them) got {one_caller} in \
         {one_caller_secs:.1} s, and another caller's session then: HTTP {}; {KEPT_OPEN} \
         callers asking for one each got {many_callers} in {many_callers_secs:.1} s, and a \
         stateless tools/call then: HTTP {}",
        served_beside_one.as_u16(),
        served.as_u16()
    );
    record(json!({
        "what": "flood counts", "bogus_refused": refused, "opaque_refused": opaque_refused,
        "opaque_verifications": asked, "repeat_verifications": repeats_asked,
        "sessions_ended": ended, "kept_by_one_caller": one_caller,
        "kept_by_many_callers": many_callers, "served_beside_one": served_beside_one.as_u16(),
        "stateless_after": served.as_u16(),
    }));
    drop(server);
    proxy_floods(&standin, binary.as_deref()).await
}

/// Bytes of the OAuth proxy's database and its write-ahead log.
fn oauth_db_bytes(data: &Path) -> u64 {
    ["oauth.db", "oauth.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// With the OAuth proxy on: 2 000 registrations and 2 000 sign-ins started
/// from one address, without a token; then another address is served.
async fn proxy_floods(standin: &StandIn, binary: Option<&Path>) -> anyhow::Result<()> {
    const FLOOD: usize = 2_000;
    let root = tempfile::tempdir()?;
    std::fs::create_dir(root.path().join("plugins"))?;
    let server = start(root.path(), standin, binary, true).await?;
    let (pid, data) = (server.child.id(), root.path().join("data"));
    let issuer = server.url.trim_end_matches("/mcp").to_owned();
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
    };
    let (attacker, other) = (from([127, 0, 0, 1])?, from([127, 0, 0, 2])?);
    let registration = json!({
        "redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"
    });
    let register = {
        let (issuer, registration) = (issuer.clone(), registration.clone());
        move |client: reqwest::Client| {
            let (url, body) = (format!("{issuer}/register"), registration.clone());
            async move {
                let answer = client.post(url).json(&body).send().await.ok()?;
                let doc: Value = answer.json().await.ok()?;
                doc["client_id"].as_str().map(str::to_owned)
            }
        }
    };
    settle_a_second().await;
    let before = (memory(pid, "VmRSS:"), oauth_db_bytes(&data));
    let registered = {
        let (register, attacker) = (register.clone(), attacker.clone());
        flood(FLOOD, move |_| {
            let (register, attacker) = (register.clone(), attacker.clone());
            async move { register(attacker).await.is_some() }
        })
        .await
    };
    let client_id = register(other.clone()).await;
    let authorize = {
        let issuer = issuer.clone();
        move |client: reqwest::Client, client_id: String| {
            let url = format!(
                "{issuer}/authorize?response_type=code&client_id={client_id}\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s&code_challenge_method=S256\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            );
            async move {
                let answer = client.get(url).send().await.ok()?;
                let location = answer.headers().get("location")?.to_str().ok()?.to_owned();
                Some(!location.contains("error="))
            }
        }
    };
    // The attacker's sign-ins, with a client of its own registered first
    // (or, if the registration flood left it none, the other's).
    let attackers_client = register(attacker.clone())
        .await
        .or_else(|| client_id.clone())
        .unwrap_or_default();
    let started_signins = {
        let (authorize, attacker) = (authorize.clone(), attacker.clone());
        flood(FLOOD, move |_| {
            let (authorize, attacker, id) = (
                authorize.clone(),
                attacker.clone(),
                attackers_client.clone(),
            );
            async move { authorize(attacker, id).await == Some(true) }
        })
        .await
    };
    settle_a_second().await;
    let after = (memory(pid, "VmRSS:"), oauth_db_bytes(&data));
    let served = match &client_id {
        Some(id) => authorize(other.clone(), id.clone()).await == Some(true),
        None => false,
    };
    println!();
    println!("| with the OAuth proxy on | RSS | oauth.db and WAL |");
    println!("|---|---|---|");
    for (what, (rss, db)) in [
        ("before the floods", before),
        (
            "after 2 000 registrations and 2 000 sign-ins from one address",
            after,
        ),
    ] {
        println!("| {what} | {} | {} KiB |", mib(rss), db / 1024);
        record(json!({"what": what, "rss_bytes": rss, "oauth_db_bytes": db}));
    }
    println!();
    println!(
        "- from one address: {registered} of {FLOOD} registrations accepted, {started_signins} \
         of {FLOOD} sign-ins started; another address then registered ({}) and started a \
         sign-in ({})",
        if client_id.is_some() { "yes" } else { "no" },
        if served { "yes" } else { "no" }
    );
    record(json!({
        "what": "proxy flood counts", "registered": registered,
        "sign_ins_started": started_signins, "other_served": served && client_id.is_some(),
    }));
    Ok(())
}

async fn settle_a_second() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}
