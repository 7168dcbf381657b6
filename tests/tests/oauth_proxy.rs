//! The OAuth proxy end to end: toolhost as the authorization server clients
//! see, with a real authorization server (oidc-provider from npm, the Clerk
//! stand-in) as its upstream identity provider. Driven by the official Python
//! MCP client's own OAuth support, and by hand for the failure cases.

use aws_lc_rs::digest::{SHA256, digest};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use toolhost::clock::ManualClock;
use toolhost::{Config, Host};
use toolhost_tests::standin::{StandIn, round_trip, round_trip_as, titles, typescript_round_trip};
use toolhost_tests::{TestServer, plugins};

/// The client's redirect URI in the hand-driven flows (never contacted).
const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// A host in proxy mode on `listener`, its data in `dir`.
struct Proxied {
    host: Arc<Host>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Proxied {
    async fn start(
        listener: TcpListener,
        dir: &Path,
        standin: &StandIn,
        app: &(String, String),
        adjust: impl FnOnce(&mut Config),
    ) -> Proxied {
        let clock = toolhost::clock::system();
        Self::start_with_clock(listener, dir, standin, app, clock, adjust).await
    }

    /// [`Proxied::start`] with the host measuring time by `clock`.
    async fn start_with_clock(
        listener: TcpListener,
        dir: &Path,
        standin: &StandIn,
        app: &(String, String),
        clock: toolhost::clock::SharedClock,
        adjust: impl FnOnce(&mut Config),
    ) -> Proxied {
        let addr = listener.local_addr().unwrap();
        let plugin_dir = dir.join("plugins");
        if !plugin_dir.exists() {
            std::fs::create_dir_all(&plugin_dir).unwrap();
            for p in [plugins::NOTES_CREATE, plugins::NOTES_LIST] {
                let src = Path::new(p);
                std::fs::copy(src, plugin_dir.join(src.file_name().unwrap())).unwrap();
            }
        }
        let mut config = Config::default();
        config.plugins.dir = plugin_dir;
        config.storage.data_dir = dir.join("data");
        config.storage.sync = toolhost::storage::SyncMode::Normal;
        config.server.listen = addr;
        config.rate_limit = toolhost::config::RateLimit::OFF;
        config.auth.clerk.frontend_api_url = Some(standin.url.clone());
        config.auth.proxy = true;
        config.auth.upstream.client_id = Some(app.0.clone());
        config.auth.upstream.client_secret = app.1.clone().into();
        config.auth.scopes_supported = vec!["notes:read".into(), "notes:write".into()];
        adjust(&mut config);
        let host = Host::builder(config).clock(clock).start().await;
        let host = Arc::new(host.expect("host starts"));
        let serving = host.clone();
        let task = tokio::spawn(async move { serving.serve(listener).await.expect("serve") });
        Proxied { host, addr, task }
    }

    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn url(&self) -> String {
        format!("{}/mcp", self.issuer())
    }

    async fn stop(self) {
        self.host.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// A stand-in, a listener, and the upstream application registered for it.
async fn upstream() -> (StandIn, TcpListener, (String, String)) {
    let standin = StandIn::start();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/oauth/callback", listener.local_addr().unwrap());
    let app = standin.register_app(&callback).await;
    (standin, listener, app)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A server that stops answering fails the test, never hangs it.
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Register a public client with `REDIRECT`; its client id.
async fn register(issuer: &str) -> String {
    let answer: Value = http()
        .post(format!("{issuer}/register"))
        .json(&json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "hand-driven test client",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["client_id"]
        .as_str()
        .expect("a client id")
        .to_owned()
}

/// A PKCE pair: (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref());
    (verifier, challenge)
}

/// How an authorization ended: at the client's redirect URI (its query), or
/// on a page (status and body).
#[derive(Debug)]
enum Ended {
    Redirected(Vec<(String, String)>),
    Page(u16, String),
}

impl Ended {
    fn param(&self, name: &str) -> Option<String> {
        match self {
            Ended::Redirected(q) => q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            Ended::Page(..) => None,
        }
    }
}

/// Follow redirects from `url` (a browser with no cookies) until one points
/// at `REDIRECT` or a page answers, allowing on toolhost's consent page like
/// a user would; at most 10 hops.
async fn follow(url: String) -> Ended {
    walk(http().get(&url), Some("allow")).await
}

/// The consent form on `page`, if it is one: the form's action and ticket.
fn consent_form(page: &str) -> Option<(String, String)> {
    let between = |start: &str| {
        let from = page.find(start)? + start.len();
        let len = page[from..].find('"')?;
        Some(page[from..from + len].replace("&amp;", "&"))
    };
    Some((between("action=\"")?, between("name=ticket value=\"")?))
}

/// POST `decision` with `ticket` to the consent form's `action`.
fn answer_consent(action: &str, ticket: &str, decision: &str) -> reqwest::RequestBuilder {
    http()
        .post(action)
        .form(&[("ticket", ticket), ("decision", decision)])
}

/// Send `request`, then follow redirects as [`follow`] does; on a consent
/// page answer `decision`, or end there when it is `None`.
async fn walk(mut request: reqwest::RequestBuilder, decision: Option<&str>) -> Ended {
    let client = http();
    for _ in 0..10 {
        let response = request.send().await.unwrap();
        let (status, url) = (response.status(), response.url().clone());
        if !status.is_redirection() {
            let headers = response.headers().clone();
            let page = response.text().await.unwrap_or_default();
            if consent_form(&page).is_some() {
                assert_eq!(
                    headers["x-frame-options"], "DENY",
                    "the consent page is never framed"
                );
                assert_eq!(headers["cache-control"], "no-store");
            }
            if let (200, Some(decision), Some((action, ticket))) =
                (status.as_u16(), decision, consent_form(&page))
            {
                request = answer_consent(url.join(&action).unwrap().as_str(), &ticket, decision);
                continue;
            }
            return Ended::Page(status.as_u16(), page);
        }
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let next = url.join(&location).unwrap();
        if next.as_str().starts_with(REDIRECT) {
            return Ended::Redirected(next.query_pairs().into_owned().collect());
        }
        request = client.get(next);
    }
    panic!("more than 10 redirects")
}

/// The authorization URL for `client_id` as `user`.
fn authorize_url(issuer: &str, client_id: &str, challenge: &str, user: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "client-state-1")
        .append_pair("scope", "notes:read notes:write")
        .append_pair("resource", &format!("{issuer}/mcp"))
        .append_pair("login_hint", user);
    url.to_string()
}

/// Authorize `client_id` as `user`; the code (after checking `state` and
/// `iss`) and the PKCE verifier.
async fn code_for(issuer: &str, client_id: &str, user: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let ended = follow(authorize_url(issuer, client_id, &challenge, user)).await;
    assert_eq!(
        ended.param("state").as_deref(),
        Some("client-state-1"),
        "{ended:?}"
    );
    assert_eq!(ended.param("iss").as_deref(), Some(issuer), "RFC 9207");
    (ended.param("code").expect("a code"), verifier)
}

/// POST the token endpoint; status and answer.
async fn token(issuer: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(format!("{issuer}/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or_default(),
    )
}

async fn exchange(issuer: &str, client_id: &str, code: &str, verifier: &str) -> (u16, Value) {
    token(
        issuer,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Redeem `refresh` as `client`.
async fn refresh_with(issuer: &str, client: &str, refresh: &str) -> (u16, Value) {
    token(
        issuer,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", refresh),
        ],
    )
    .await
}

/// Call notes_list with `access_token`; the HTTP status.
async fn call_with(url: &str, access_token: &str) -> u16 {
    http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "notes_list")
        .bearer_auth(access_token)
        .body(TestServer::call_body("notes_list", &json!({"limit": 5})))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Every byte of the proxy's database files.
fn db_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["oauth.db", "oauth.db-wal"] {
        all.extend(std::fs::read(dir.join("data").join(name)).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_off_the_shelf_client_finds_registers_and_calls_tools_through_the_proxy() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |_| {}).await;
    let issuer = server.issuer();

    // Discovery from the MCP URL names this server as the authorization server.
    let prm: Value = reqwest::get(format!("{issuer}/.well-known/oauth-protected-resource/mcp"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    let meta: Value = reqwest::get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], issuer);
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    // With an identity provider there is no development sign-in to post to.
    let dev = http()
        .post(format!("{issuer}/oauth/dev-sign-in"))
        .form(&[
            ("ticket", "x"),
            ("subject", "mallory"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(dev.status(), 404);

    let url = server.url();
    let (alice, bob, guest) = tokio::task::spawn_blocking(move || {
        (
            round_trip(&url, "alice", "alice via the proxy", false),
            round_trip(&url, "bob", "bob via the proxy", false),
            round_trip(&url, "guest", "guest via the proxy", true),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        alice["oauth"]["issuer"], issuer,
        "the client's issuer is toolhost"
    );
    assert_eq!(alice["oauth"]["refresh_token"], true);
    assert_eq!(alice["oauth"]["scope"], "notes:read notes:write");
    assert_eq!(titles(&alice), ["alice via the proxy"]);
    assert_eq!(
        titles(&bob),
        ["bob via the proxy"],
        "bob sees only his notes"
    );
    assert_eq!(guest["tools"], json!(["notes_list"]), "roles come through");
    assert_eq!(guest["created_is_error"], true);

    // No token in clear in storage: upstream or ours, access or refresh.
    let bytes = db_bytes(dir.path());
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, "eyJ"), "a JWT is stored in clear");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_refresh_tokens_are_single_use_and_bound_to_their_client() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |_| {}).await;
    let issuer = server.issuer();
    let client = register(&issuer).await;

    // A wrong PKCE verifier: invalid_grant, no token, and the code is not
    // spent by the failed attempt: the right verifier still redeems it.
    let (code, verifier) = code_for(&issuer, &client, "alice").await;
    let (wrong, _) = pkce();
    let (status, answer) = exchange(&issuer, &client, &code, &wrong).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(answer.get("access_token").is_none());
    let (status, answer) = exchange(&issuer, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{answer}");

    // A loopback redirect URI may come back on another port (RFC 8252 §7.3).
    let (_, challenge) = pkce();
    let other_port = authorize_url(&issuer, &client, &challenge, "alice")
        .replace("127.0.0.1%3A9%2Fcb", "127.0.0.1%3A51234%2Fcb");
    let response = http().get(&other_port).send().await.unwrap();
    assert!(
        response.status().is_redirection(),
        "{:?}",
        response.status()
    );
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&standin.url),
        "off to sign in: {location}"
    );

    // An answer from the identity provider without its promised iss.
    let state = reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let mut callback = reqwest::Url::parse(&format!("{issuer}/oauth/callback")).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("code", "anything");
    let answer = http().get(callback).send().await.unwrap();
    let back = answer.headers()["location"].to_str().unwrap();
    assert!(back.starts_with("http://127.0.0.1:51234/cb"), "{back}");
    assert!(
        back.contains("error=access_denied") && back.contains("RFC+9207"),
        "{back}"
    );

    // A redirect URI other than the authorization request's.
    let (code, verifier) = code_for(&issuer, &client, "alice").await;
    let (status, answer) = token(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Another client cannot redeem it.
    let other = register(&issuer).await;
    let (code, verifier) = code_for(&issuer, &client, "alice").await;
    let (status, answer) = exchange(&issuer, &other, &code, &verifier).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A good exchange; the token calls tools. A replay fails and revokes it.
    let (code, verifier) = code_for(&issuer, &client, "alice").await;
    let (status, first) = exchange(&issuer, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{first}");
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(call_with(&server.url(), &access).await, 200);
    let (status, replay) = exchange(&issuer, &client, &code, &verifier).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(replay.get("access_token").is_none());
    assert_eq!(call_with(&server.url(), &access).await, 401, "revoked");
    // The token's other valid ECDSA spelling, (r, n - s), is refused too:
    // a revocation goes by jti, and the proxy signs only the low-S form.
    let respelled = toolhost::auth::signing::malleate(&access).unwrap();
    assert_ne!(respelled, access);
    assert_eq!(
        call_with(&server.url(), &respelled).await,
        401,
        "revoked in every spelling"
    );
    let (status, answer) = refresh_with(&issuer, &client, &refresh).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Refresh goes upstream and rotates; reusing a spent refresh token
    // revokes the grant.
    let (code, verifier) = code_for(&issuer, &client, "bob").await;
    let (_, first) = exchange(&issuer, &client, &code, &verifier).await;
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh_with(&issuer, &client, &refresh).await;
    assert_eq!(status, 200, "{second}");
    let access = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    assert_eq!(call_with(&server.url(), &access).await, 200);
    let (status, reuse) = refresh_with(&issuer, &client, &refresh).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        call_with(&server.url(), &access).await,
        401,
        "grant revoked"
    );

    // Unknown clients: a page at /authorize (no redirect), invalid_client at /token.
    let (_, challenge) = pkce();
    match follow(authorize_url(&issuer, "nobody", &challenge, "alice")).await {
        Ended::Page(400, body) => assert!(body.contains("Unknown application"), "{body}"),
        other => panic!("{other:?}"),
    }
    let (status, answer) = exchange(&issuer, "nobody", "x", "y").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // An unregistered redirect URI: a page, never a redirect to it.
    let bad = authorize_url(&issuer, &client, &challenge, "alice")
        .replace("127.0.0.1%3A9%2Fcb", "127.0.0.1%3A9%2Fevil");
    match follow(bad).await {
        Ended::Page(400, body) => assert!(body.contains("redirect URI"), "{body}"),
        other => panic!("{other:?}"),
    }

    // No PKCE: an error sent back to the client, with its state and our iss.
    let plain = authorize_url(&issuer, &client, &challenge, "alice")
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let ended = follow(plain).await;
    assert_eq!(ended.param("error").as_deref(), Some("invalid_request"));
    assert_eq!(ended.param("iss").as_deref(), Some(issuer.as_str()));
    assert!(ended.param("code").is_none());

    // A tampered state at the callback: a page, no code.
    let response = http()
        .get(format!(
            "{issuer}/oauth/callback?code=abc&state=forged.9999999999.AAAA"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("not one this server issued")
    );

    // Registration refuses what it cannot honour.
    let response = http()
        .post(format!("{issuer}/register"))
        .json(&json!({"redirect_uris": ["http://attacker.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_redirect_uri");
    server.stop().await;
}

/// A token endpoint in front of the stand-in's that can be made to fail.
struct Flaky {
    url: String,
    /// 0: pass requests through; otherwise answer with this status.
    fail_with: Arc<std::sync::atomic::AtomicU16>,
}

async fn flaky_token_endpoint(upstream: String) -> Flaky {
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::atomic::{AtomicU16, Ordering};
    let fail_with = Arc::new(AtomicU16::new(0));
    let state = (fail_with.clone(), format!("{upstream}/oauth/token"));
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(
                |axum::extract::State((fail, to)): axum::extract::State<(Arc<AtomicU16>, String)>,
                 headers: HeaderMap,
                 body: String| async move {
                    let code = fail.load(Ordering::SeqCst);
                    if code != 0 {
                        let status = StatusCode::from_u16(code).unwrap();
                        let body = json!({"error": if code == 429 { "slow_down" } else { "server_error" }});
                        return (status, [("retry-after", "2")], axum::Json(body)).into_response();
                    }
                    let mut forward = http().post(&to).body(body);
                    for name in ["authorization", "content-type"] {
                        if let Some(v) = headers.get(name) {
                            forward = forward.header(name, v.to_str().unwrap());
                        }
                    }
                    let answer = forward.send().await.unwrap();
                    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
                    let text = answer.text().await.unwrap();
                    (status, [("content-type", "application/json")], text).into_response()
                },
            ),
        )
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Flaky { url, fail_with }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_outage_or_429_does_not_end_the_session() {
    use std::sync::atomic::Ordering;
    let (standin, listener, app) = upstream().await;
    let flaky = flaky_token_endpoint(standin.url.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_url = flaky.url.clone();
    let authorize = format!("{}/oauth/authorize", standin.url);
    let server = Proxied::start(listener, dir.path(), &standin, &app, move |c| {
        c.auth.upstream.token_endpoint = Some(token_url);
        c.auth.upstream.authorization_endpoint = Some(authorize);
    })
    .await;
    let issuer = server.issuer();
    let client = register(&issuer).await;
    let (code, verifier) = code_for(&issuer, &client, "alice").await;
    let (status, first) = exchange(&issuer, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{first}");
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    // The identity provider fails, then throttles: retry later, same token.
    for failure in [503u16, 429] {
        flaky.fail_with.store(failure, Ordering::SeqCst);
        let (status, answer) = refresh_with(&issuer, &client, &refresh).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (503, Some("temporarily_unavailable")),
            "upstream {failure}: {answer}"
        );
    }
    // It is back: the very same refresh token works, and the grant lives.
    flaky.fail_with.store(0, Ordering::SeqCst);
    let (status, refreshed) = refresh_with(&issuer, &client, &refresh).await;
    assert_eq!(status, 200, "the retry is not a replay: {refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(call_with(&server.url(), access).await, 200);
    // Now it is spent: presenting it again is a replay.
    let (status, replay) = refresh_with(&issuer, &client, &refresh).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_bounded_per_source_and_in_all() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |c| {
        c.auth.issue.registrations_per_source_per_minute = 2;
        c.auth.issue.max_pending = 3;
        c.auth.issue.authorizations_per_source_per_minute = 5;
    })
    .await;
    let issuer = server.issuer();
    let client = register(&issuer).await;
    register(&issuer).await;
    let refused = http()
        .post(format!("{issuer}/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 429, "a third from one address");
    assert!(refused.headers().contains_key("retry-after"));

    // Sign-ins in progress are bounded: the fourth is told to retry.
    let (_, challenge) = pkce();
    let url = authorize_url(&issuer, &client, &challenge, "alice");
    for _ in 0..3 {
        let started = http().get(&url).send().await.unwrap();
        let location = started.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(&standin.url), "{location}");
    }
    match follow(url.clone()).await {
        Ended::Redirected(q) => assert!(
            q.iter()
                .any(|(k, v)| k == "error" && v == "temporarily_unavailable"),
            "{q:?}"
        ),
        other => panic!("{other:?}"),
    }
    // And one address may start only so many a minute.
    follow(url.clone()).await;
    match follow(url).await {
        Ended::Page(429, body) => assert!(body.contains("Too many sign-ins"), "{body}"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sign_in_issues_nothing() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let server =
        Proxied::start_with_clock(listener, dir.path(), &standin, &app, clock.clone(), |c| {
            c.auth.issue.authorization_secs = 1;
        })
        .await;
    let issuer = server.issuer();
    let client = register(&issuer).await;
    let (_, challenge) = pkce();
    // The first hop: the proxy sends the browser to the identity provider.
    let response = http()
        .get(authorize_url(&issuer, &client, &challenge, "alice"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection());
    let upstream_url = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(upstream_url.starts_with(&standin.url), "{upstream_url}");
    clock.advance(Duration::from_millis(2100));
    match follow(upstream_url).await {
        Ended::Page(400, body) => assert!(body.contains("Sign-in expired"), "{body}"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

/// `ticket` with one character of its signature changed.
fn forged(ticket: &str) -> String {
    let mut bytes = ticket.as_bytes().to_vec();
    let at = bytes.len() - 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_consents_once_per_client_on_the_servers_own_page() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let server =
        Proxied::start_with_clock(listener, dir.path(), &standin, &app, clock.clone(), |c| {
            c.auth.issue.authorization_secs = 60;
        })
        .await;
    let issuer = server.issuer();
    let client = register(&issuer).await;
    let (_, challenge) = pkce();
    let sign_in = |user: &str| http().get(authorize_url(&issuer, &client, &challenge, user));

    // Signed in upstream, alice still stops on toolhost's own page, which
    // names the client and where the answer will be sent.
    let Ended::Page(200, page) = walk(sign_in("alice"), None).await else {
        panic!("no consent page")
    };
    for shown in [
        "hand-driven test client",
        client.as_str(),
        "127.0.0.1:9",
        "alice",
    ] {
        assert!(page.contains(shown), "{shown} not on {page}");
    }
    let (action, ticket) = consent_form(&page).expect("a consent form");
    assert_eq!(action, "/oauth/consent", "posted back to this server");
    let action = format!("{issuer}{action}");
    // A ticket this server did not sign, or none, issues nothing.
    for bad in [forged(&ticket), String::new()] {
        match walk(answer_consent(&action, &bad, "allow"), None).await {
            Ended::Page(400, body) => assert!(body.contains("Sign-in expired"), "{body}"),
            other => panic!("{other:?}"),
        }
    }
    let ended = walk(answer_consent(&action, &ticket, "allow"), None).await;
    assert!(ended.param("code").is_some(), "{ended:?}");
    assert_eq!(ended.param("state").as_deref(), Some("client-state-1"));
    assert_eq!(ended.param("iss").as_deref(), Some(issuer.as_str()));
    // An answer counts once.
    match walk(answer_consent(&action, &ticket, "allow"), None).await {
        Ended::Page(400, body) => assert!(body.contains("already answered"), "{body}"),
        other => panic!("{other:?}"),
    }
    // The answer is remembered for alice and this client.
    let ended = walk(sign_in("alice"), None).await;
    assert!(ended.param("code").is_some(), "asked again: {ended:?}");

    // bob is asked for the same client, and denies: the client hears
    // access_denied with its state, and gets no code.
    let Ended::Page(200, page) = walk(sign_in("bob"), None).await else {
        panic!("bob was not asked")
    };
    let (action, ticket) = consent_form(&page).unwrap();
    let action = format!("{issuer}{action}");
    let ended = walk(answer_consent(&action, &ticket, "deny"), None).await;
    assert_eq!(
        ended.param("error").as_deref(),
        Some("access_denied"),
        "{ended:?}"
    );
    assert_eq!(ended.param("state").as_deref(), Some("client-state-1"));
    assert_eq!(ended.param("code"), None);
    // A denial is not remembered; a page left open past the sign-in's
    // lifetime issues nothing.
    let Ended::Page(200, page) = walk(sign_in("bob"), None).await else {
        panic!("bob was not asked again")
    };
    let (action, ticket) = consent_form(&page).unwrap();
    let action = format!("{issuer}{action}");
    clock.advance(Duration::from_secs(61));
    match walk(answer_consent(&action, &ticket, "allow"), None).await {
        Ended::Page(400, body) => assert!(body.contains("Sign-in expired"), "{body}"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_registration_and_authorization_loses_nothing() {
    let (standin, listener, app) = upstream().await;
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |_| {}).await;
    let issuer = server.issuer();
    let client = register(&issuer).await;
    server.stop().await;

    let listener = TcpListener::bind(addr).await.unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |_| {}).await;
    let (code, verifier) = code_for(&issuer, &client, "alice").await;
    let (status, answer) = exchange(&issuer, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{answer}");
    let access = answer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(call_with(&server.url(), &access).await, 200);
    server.stop().await;

    // And the tokens issued before a restart still work after it.
    let listener = TcpListener::bind(addr).await.unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |_| {}).await;
    assert_eq!(call_with(&server.url(), &access).await, 200);
    server.stop().await;
}

/// Serve `doc` at `/client.json` on loopback; its URL.
async fn publish(doc: impl Fn(&str) -> Value + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let body = doc(&url);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_metadata_document_stands_in_for_a_registration() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |c| {
        // The document is served over http on loopback in this test.
        c.auth.issue.cimd_allow_private = true;
    })
    .await;
    let issuer = server.issuer();
    let good = publish(|url| {
        json!({"client_id": url, "client_name": "CIMD client", "redirect_uris": [REDIRECT],
               "grant_types": ["authorization_code", "refresh_token"],
               "token_endpoint_auth_method": "none"})
    })
    .await;
    let (code, verifier) = code_for(&issuer, &good, "alice").await;
    let (status, answer) = exchange(&issuer, &good, &code, &verifier).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        call_with(&server.url(), answer["access_token"].as_str().unwrap()).await,
        200
    );

    // A document that names another client id is refused, with a page.
    let lying = publish(
        |_| json!({"client_id": "https://other.example/c.json", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let (_, challenge) = pkce();
    match follow(authorize_url(&issuer, &lying, &challenge, "alice")).await {
        Ended::Page(400, body) => assert!(body.contains("not its own URL"), "{body}"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_on_private_addresses_are_refused_by_default() {
    let (standin, listener, app) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Proxied::start(listener, dir.path(), &standin, &app, |_| {}).await;
    let url = publish(|url| json!({"client_id": url, "redirect_uris": [REDIRECT]})).await;
    let (_, challenge) = pkce();
    match follow(authorize_url(&server.issuer(), &url, &challenge, "alice")).await {
        Ended::Page(400, body) => assert!(body.contains("must be https"), "{body}"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

/// The claims of a JWT, unverified (the test reads what it was given).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The development sign-in form on `page`: its action and fields.
fn dev_form(page: &str) -> Option<(String, Vec<(String, String)>)> {
    let (action, ticket) = consent_form(page)?;
    page.contains("name=subject").then(|| {
        let value = |name: &str| {
            let start = format!("name={name} value=\"");
            let from = page.find(&start).map(|i| i + start.len())?;
            Some(page[from..from + page[from..].find('"')?].to_owned())
        };
        let fields = [("ticket", Some(ticket)), ("subject", value("subject"))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.unwrap_or_default()))
            .collect();
        (action, fields)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_development_mode_clients_sign_in_on_the_servers_own_page_with_nothing_pasted() {
    // `make run`'s server: development mode, no identity provider.
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let issuer = server.url().trim_end_matches("/mcp").to_owned();
    let prm: Value = reqwest::get(format!("{issuer}/.well-known/oauth-protected-resource/mcp"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        prm["authorization_servers"],
        json!([issuer]),
        "MCP requires an authorization server; it is this one"
    );
    let url = server.url();
    let (alice, guest, carol) = tokio::task::spawn_blocking(move || {
        (
            round_trip_as(&url, "alice", None, "alice in dev", false),
            round_trip_as(&url, "guest", Some(""), "guest in dev", true),
            // The official TypeScript SDK client, the same way.
            typescript_round_trip(&url, "carol", Some("member"), "carol in dev", false),
        )
    })
    .await
    .unwrap();
    assert_eq!(carol["tools"], json!(["notes_create", "notes_list"]));
    assert_eq!(titles(&carol), ["carol in dev"], "{carol}");
    assert_eq!(carol["oauth"]["refresh_token"], true);
    assert_eq!(carol["oauth"]["authorizations"], 1);
    assert_eq!(alice["oauth"]["issuer"], issuer);
    assert_eq!(alice["oauth"]["refresh_token"], true);
    assert_eq!(alice["oauth"]["authorizations"], 1);
    assert_eq!(
        alice["tools"],
        json!(["notes_create", "notes_list"]),
        "the form's default roles (member)"
    );
    assert_eq!(titles(&alice), ["alice in dev"]);
    assert_eq!(
        guest["tools"],
        json!(["notes_list"]),
        "the roles typed into the page are the token's"
    );
    assert_eq!(guest["created_is_error"], true);
    // `toolhost token`'s tokens still work beside the sign-in's, for the
    // same user.
    let (status, answer) = server
        .post_raw("alice", TestServer::call_body("notes_list", &json!({})))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["count"], 1,
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_sign_in_names_the_user_refreshes_and_answers_this_machine_only() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    let issuer = server.url().trim_end_matches("/mcp").to_owned();
    let client = register(&issuer).await;
    let (verifier, challenge) = pkce();
    let page = http()
        .get(authorize_url(&issuer, &client, &challenge, "bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    assert!(page.contains("Development sign-in"), "{page}");
    assert!(page.contains("hand-driven test client"), "names the client");
    let (action, mut fields) = dev_form(&page).expect("a sign-in form");
    assert_eq!(fields[1], ("subject".into(), "bob".into()), "login_hint");
    let action = format!("{issuer}{action}");
    fields.push(("roles".into(), "member, staff".into()));
    fields.push(("decision".into(), "allow".into()));

    // Another host named (a tunnel, a rebound DNS name): refused, and the
    // sign-in is still waiting.
    let tunnelled = http()
        .post(&action)
        .header("host", "dev.attacker.example")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(tunnelled.status(), 403);
    // A bad subject: a page saying what to fix, the sign-in still waiting.
    let mut bad = fields.clone();
    bad[1].1 = " bob".into();
    let fix = http().post(&action).form(&bad).send().await.unwrap();
    assert_eq!(fix.status(), 400);
    assert!(fix.text().await.unwrap().contains("spaces"));

    let ended = walk(http().post(&action).form(&fields), None).await;
    assert_eq!(ended.param("state").as_deref(), Some("client-state-1"));
    assert_eq!(ended.param("iss").as_deref(), Some(issuer.as_str()));
    let code = ended.param("code").expect("a code");
    let (status, tokens) = exchange(&issuer, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&access);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["roles"], json!(["member", "staff"]));
    assert_eq!(claims["aud"], server.url());
    assert_eq!(call_with(&server.url(), &access).await, 200);

    // A refresh needs no identity provider; a replayed one ends the grant.
    let first = tokens["refresh_token"].as_str().expect("a refresh token");
    let (status, renewed) = refresh_with(&issuer, &client, first).await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_access = renewed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&renewed_access)["sub"], "bob");
    assert_eq!(call_with(&server.url(), &renewed_access).await, 200);
    let (status, replay) = refresh_with(&issuer, &client, first).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(call_with(&server.url(), &renewed_access).await, 401);

    // The same ticket twice: the sign-in is over.
    let again = http().post(&action).form(&fields).send().await.unwrap();
    assert_eq!(again.status(), 400);
    // Cancel: the client hears access_denied.
    let (_, challenge) = pkce();
    let page = (http()
        .get(authorize_url(&issuer, &client, &challenge, "bob"))
        .send())
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let (_, mut fields) = dev_form(&page).unwrap();
    fields.push(("decision".into(), "deny".into()));
    let ended = walk(http().post(&action).form(&fields), None).await;
    assert_eq!(ended.param("error").as_deref(), Some("access_denied"));
    // No identity provider answers here.
    let callback = reqwest::get(format!("{issuer}/oauth/callback?state=x&code=y"))
        .await
        .unwrap();
    assert_eq!(callback.status(), 400);
}
