//! Authentication in front of /mcp: challenges, token checks, key rotation
//! and outages, scopes, and roles from a Backend API stand-in.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use toolhost::auth::{AudiencePolicy, Provider, Secret};
use toolhost::clock::ManualClock;
use toolhost_tests::issuer::{TestIssuer, now};
use toolhost_tests::{TestServer, plugins};

/// A stateless (2026-07-28) tools/call with an optional Authorization value.
async fn call(
    server: &TestServer,
    authorization: Option<&str>,
    tool: &str,
    args: Value,
) -> (u16, HeaderMap, Value) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": args, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }}
    });
    let mut request = reqwest::Client::new()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    // JSON, or the last `data:` line of an event stream.
    let json = text
        .lines()
        .rev()
        .find_map(|l| Some(l.strip_prefix("data: ").unwrap_or(l)).filter(|l| l.starts_with('{')))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (status, headers, json)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn oidc_server(
    issuer: &TestIssuer,
    adjust: impl FnOnce(&mut toolhost::Config),
) -> TestServer {
    let url = issuer.url();
    TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        c.auth.provider = Some(Provider::Oidc);
        c.auth.oidc.issuer = Some(url);
        c.auth.jwks_unknown_kid_interval_secs = 0;
        c.auth.scopes_supported = vec!["notes:read".into(), "notes:write".into()];
        adjust(c);
    })
    .await
}

fn member_claims(issuer: &TestIssuer, server: &TestServer, sub: &str) -> Value {
    let mut claims = issuer.claims(sub);
    claims["aud"] = json!(server.url());
    claims["roles"] = json!(["member"]);
    claims
}

async fn note_count(server: &TestServer, token: &str) -> u64 {
    let (status, _, body) = call(
        server,
        Some(&bearer(token)),
        "notes_list",
        json!({"limit": 100}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["result"]["structuredContent"]["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unusable_token_gets_a_401_challenge_and_reaches_no_plugin() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |c| c.auth.audience = AudiencePolicy::Resource).await;
    let good = member_claims(&issuer, &server, "alice");
    let kid = issuer.current_kid();
    let other = TestIssuer::start().await;
    // The real kid, signed by a stranger's key.
    let forged = other.sign_as(&other.current_kid(), &kid, Some("at+jwt"), &good);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let hs256_with_public_key = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        header.typ = Some("at+jwt".into());
        let secret =
            jsonwebtoken::EncodingKey::from_secret(issuer.public_jwk_text(&kid).as_bytes());
        jsonwebtoken::encode(&header, &good, &secret).unwrap()
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        issuer.sign(&c)
    };
    let cases: Vec<(&str, Option<String>, bool)> = vec![
        ("no header", None, false),
        ("wrong scheme", Some("Basic YWxpY2U6cGFzcw==".into()), false),
        ("malformed", Some(bearer("not-a-jwt")), true),
        ("bad signature", Some(bearer(&forged)), true),
        ("alg none", Some(bearer(&unsigned)), true),
        (
            "HS256 with the public key",
            Some(bearer(&hs256_with_public_key)),
            true,
        ),
        (
            "unknown kid",
            Some(bearer(&issuer.sign_as(
                &kid,
                "no-such-key",
                Some("at+jwt"),
                &good,
            ))),
            true,
        ),
        (
            "expired",
            Some(bearer(&with(&|c| c["exp"] = json!(now() - 120)))),
            true,
        ),
        (
            "not yet valid",
            Some(bearer(&with(&|c| c["nbf"] = json!(now() + 600)))),
            true,
        ),
        (
            "wrong issuer",
            Some(bearer(&with(&|c| c["iss"] = json!("https://evil.example")))),
            true,
        ),
        (
            "wrong audience",
            Some(bearer(&with(&|c| {
                c["aud"] = json!("https://other.example/mcp")
            }))),
            true,
        ),
        (
            "wrong typ",
            Some(bearer(&issuer.sign_with(&kid, Some("JWT"), &good))),
            true,
        ),
    ];
    for (case, authorization, token_sent) in &cases {
        let (status, headers, body) = call(
            &server,
            authorization.as_deref(),
            "notes_create",
            json!({"title": "t", "body": "b"}),
        )
        .await;
        assert_eq!(status, 401, "{case}: {body}");
        let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
        let metadata = format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.url().trim_end_matches("/mcp")
        );
        assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
        assert!(
            challenge.contains(&format!("resource_metadata=\"{metadata}\"")),
            "{case}: {challenge}"
        );
        assert!(
            challenge.contains("scope=\"notes:read notes:write\""),
            "{case}: {challenge}"
        );
        assert_eq!(
            challenge.contains("error=\"invalid_token\""),
            *token_sent,
            "{case}: {challenge}"
        );
    }
    let token = issuer.sign(&good);
    assert_eq!(
        note_count(&server, &token).await,
        0,
        "no rejected call reached notes_create"
    );
    let (status, _, body) = call(
        &server,
        Some(&bearer(&token)),
        "notes_create",
        json!({"title": "t", "body": "b"}),
    )
    .await;
    assert_eq!(
        (status, &body["result"]["isError"]),
        (200, &json!(false)),
        "{body}"
    );
    assert_eq!(note_count(&server, &token).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_an_oidc_token_for_another_resource_is_refused() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |_| {}).await;
    let mut elsewhere = member_claims(&issuer, &server, "alice");
    elsewhere["aud"] = json!("https://other.example.com/api");
    let (status, headers, _) = call(
        &server,
        Some(&bearer(&issuer.sign(&elsewhere))),
        "notes_list",
        json!({}),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("wrong audience")
    );
    let own = issuer.sign(&member_claims(&issuer, &server, "alice"));
    assert_eq!(
        note_count(&server, &own).await,
        0,
        "this resource's token works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_documents_name_the_resource_and_issuer() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |_| {}).await;
    let base = server.url().trim_end_matches("/mcp").to_owned();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let doc: Value = reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["resource"], server.url(), "{path}");
        assert_eq!(
            doc["authorization_servers"],
            json!([issuer.url()]),
            "{path}"
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{path}");
        assert_eq!(
            doc["scopes_supported"],
            json!(["notes:read", "notes:write"]),
            "{path}"
        );
    }
    // A probe without a token gets a 4xx, never a 5xx.
    let probe = reqwest::Client::new()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_picked_up_and_cached_keys_survive_an_outage() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |_| {}).await;
    let first = issuer.sign(&member_claims(&issuer, &server, "alice"));
    assert_eq!(note_count(&server, &first).await, 0);
    assert_eq!(issuer.fetches(), 1);
    issuer.rotate();
    let second = issuer.sign(&member_claims(&issuer, &server, "alice"));
    assert_eq!(
        note_count(&server, &second).await,
        0,
        "the new kid works without a restart"
    );
    assert_eq!(issuer.fetches(), 2);
    issuer.set_down(true);
    assert_eq!(
        note_count(&server, &first).await,
        0,
        "cached keys work while the JWKS is down"
    );
    assert_eq!(note_count(&server, &second).await, 0);
    let third_kid = issuer.rotate();
    let third = issuer.sign_with(
        &third_kid,
        Some("at+jwt"),
        &member_claims(&issuer, &server, "alice"),
    );
    let (status, _, _) = call(&server, Some(&bearer(&third)), "notes_list", json!({})).await;
    assert_eq!(status, 401, "a key the server could not fetch is unknown");
    issuer.set_down(false);
    assert_eq!(
        note_count(&server, &third).await,
        0,
        "and works once the endpoint is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_with_a_new_kid_fetches_the_keys_once() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |_| {}).await;
    assert_eq!(
        note_count(
            &server,
            &issuer.sign(&member_claims(&issuer, &server, "alice"))
        )
        .await,
        0
    );
    let before = issuer.fetches();
    issuer.rotate();
    let token = Arc::new(issuer.sign(&member_claims(&issuer, &server, "alice")));
    let auth = server.host.authenticator().unwrap();
    let results = futures::future::join_all((0..100).map(|_| {
        let token = token.clone();
        async move { auth.authenticate(&token).await }
    }))
    .await;
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(
        issuer.fetches() - before,
        1,
        "one fetch for 100 concurrent requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_scopes_are_enforced_with_403() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |c| {
        c.auth.required_scopes = vec!["notes:read".into()];
        c.tools.entry("notes_create".into()).or_default().scopes = vec!["notes:write".into()];
    })
    .await;
    let mut claims = member_claims(&issuer, &server, "alice");
    claims["scope"] = json!("openid");
    let (status, headers, _) = call(
        &server,
        Some(&bearer(&issuer.sign(&claims))),
        "notes_list",
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "every request needs notes:read");
    let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"notes:read\""),
        "{challenge}"
    );
    claims["scope"] = json!("openid notes:read");
    let reader = bearer(&issuer.sign(&claims));
    assert_eq!(note_count(&server, &issuer.sign(&claims)).await, 0);
    let create = json!({"title": "t", "body": "b"});
    let (status, headers, _) = call(&server, Some(&reader), "notes_create", create.clone()).await;
    assert_eq!(status, 403, "notes_create needs notes:write");
    let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(challenge.contains("scope=\"notes:write\""), "{challenge}");
    claims["scope"] = json!("notes:read notes:write");
    let (status, _, body) = call(
        &server,
        Some(&bearer(&issuer.sign(&claims))),
        "notes_create",
        create,
    )
    .await;
    assert_eq!(
        (status, &body["result"]["isError"]),
        (200, &json!(false)),
        "{body}"
    );
}

/// A stand-in of Clerk's Backend API: users' public metadata and
/// organization memberships, counting requests, checking the secret key.
#[derive(Default)]
struct Backend {
    requests: AtomicUsize,
    verifications: AtomicUsize,
    roles: std::sync::Mutex<Vec<String>>,
}

/// `POST /v1/oauth_applications/access_tokens/verify`: `oat_valid` is alice's,
/// `oat_revoked` is revoked, anything else is unknown.
async fn verify(
    State(b): State<Arc<Backend>>,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    b.verifications.fetch_add(1, Ordering::SeqCst);
    let expiration = (now() + 60) * 1000;
    match body["access_token"].as_str() {
        Some("oat_valid") => axum::Json(json!({
            "object": "clerk_idp_oauth_access_token", "id": "oat_id_1", "client_id": "client_1",
            "subject": "user_alice", "scopes": ["notes:read"], "revoked": false, "expired": false,
            "expiration": expiration
        }))
        .into_response(),
        Some("oat_revoked") => axum::Json(json!({
            "subject": "user_alice", "scopes": [], "revoked": true, "expired": false, "expiration": expiration
        }))
        .into_response(),
        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn user(
    State(b): State<Arc<Backend>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk_test_standin")
    {
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    }
    b.requests.fetch_add(1, Ordering::SeqCst);
    let roles = b.roles.lock().unwrap().clone();
    axum::Json(json!({"id": id, "public_metadata": {"roles": roles}})).into_response()
}

async fn memberships(State(b): State<Arc<Backend>>) -> axum::Json<Value> {
    b.requests.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({"data": [{"role": "org:viewer"}], "total_count": 1}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_from_the_backend_api_are_cached_for_their_ttl() {
    let backend = Arc::new(Backend::default());
    backend.roles.lock().unwrap().push("member".into());
    let app = axum::Router::new()
        .route("/v1/users/{id}", get(user))
        .route("/v1/users/{id}/organization_memberships", get(memberships))
        .route(
            "/v1/oauth_applications/access_tokens/verify",
            axum::routing::post(verify),
        )
        .with_state(backend.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let issuer = TestIssuer::start().await;
    let frontend = issuer.url();
    let clock = ManualClock::new();
    let plugins = [plugins::NOTES_CREATE, plugins::NOTES_LIST];
    let server = TestServer::start_with_clock(&plugins, clock.clone(), move |c| {
        c.dev.enabled = false;
        c.auth.clerk.frontend_api_url = Some(frontend);
        c.auth.clerk.api_url = Some(api);
        c.auth.clerk.secret_key = Secret::from("sk_test_standin".to_owned());
        c.auth.roles_cache_secs = 1;
    })
    .await;
    // No roles in the token: they come from the Backend API.
    let token = bearer(&issuer.sign(&issuer.claims("user_2abc")));
    let create = json!({"title": "t", "body": "b"});
    let (_, _, body) = call(&server, Some(&token), "notes_create", create.clone()).await;
    assert_eq!(
        body["result"]["isError"], false,
        "member from public_metadata: {body}"
    );
    assert_eq!(
        backend.requests.load(Ordering::SeqCst),
        2,
        "user and memberships"
    );
    let (_, _, body) = call(&server, Some(&token), "notes_create", create.clone()).await;
    assert_eq!(body["result"]["isError"], false);
    assert_eq!(backend.requests.load(Ordering::SeqCst), 2, "cached");
    backend.roles.lock().unwrap().clear();
    clock.advance(Duration::from_millis(1100));
    let (_, _, body) = call(&server, Some(&token), "notes_create", create).await;
    assert_eq!(
        body["result"]["isError"], true,
        "role removed, cache expired: {body}"
    );
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("member") && text.contains("viewer"),
        "org role without its prefix: {text}"
    );
    assert_eq!(backend.requests.load(Ordering::SeqCst), 4);

    // Opaque Clerk tokens are verified by the Backend API, once per token
    // while it lives; a member role comes from the (restored) metadata.
    backend.roles.lock().unwrap().push("member".into());
    let (status, _, body) = call(&server, Some("Bearer oat_valid"), "notes_list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["count"], 0,
        "user_alice has no notes yet"
    );
    call(&server, Some("Bearer oat_valid"), "notes_list", json!({})).await;
    assert_eq!(
        backend.verifications.load(Ordering::SeqCst),
        1,
        "cached for its lifetime"
    );
    for bad in ["oat_revoked", "oat_unknown"] {
        let (status, headers, _) = call(&server, Some(&bearer(bad)), "notes_list", json!({})).await;
        assert_eq!(status, 401, "{bad}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_and_foreign_hosts_403() {
    let issuer = TestIssuer::start().await;
    let server = oidc_server(&issuer, |c| c.server.max_body_bytes = 4096).await;
    let token = bearer(&issuer.sign(&member_claims(&issuer, &server, "alice")));
    let huge = json!({"title": "t", "body": "x".repeat(8192)});
    let (status, _, _) = call(&server, Some(&token), "notes_create", huge).await;
    assert_eq!(status, 413, "over server.max_body_bytes");
    // DNS-rebinding protection: a Host header not in server.allowed_hosts.
    let response = reqwest::Client::new()
        .post(server.url())
        .header("host", "attacker.example")
        .header("authorization", &token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(
        note_count(
            &server,
            &issuer.sign(&member_claims(&issuer, &server, "alice"))
        )
        .await,
        0
    );
}

/// `GET /v1/oauth_applications`: like Clerk, ignores any filter but
/// `name_query` (a substring search), and counts lookups.
async fn applications(
    State(lookups): State<Arc<AtomicUsize>>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    lookups.fetch_add(1, Ordering::SeqCst);
    let all = [
        json!({"client_id": "test-client"}),
        json!({"client_id": "test-client-2"}),
    ];
    let needle = q.get("name_query").cloned().unwrap_or_default();
    let data: Vec<Value> = all
        .into_iter()
        .filter(|a| a["client_id"].as_str().unwrap().contains(&needle))
        .collect();
    axum::Json(json!({"data": data, "total_count": data.len()}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clerk_client_check_accepts_only_known_applications_exactly() {
    let lookups = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route("/v1/oauth_applications", get(applications))
        .with_state(lookups.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let issuer = TestIssuer::start().await;
    let frontend = issuer.url();
    let server = TestServer::start(&[plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        c.auth.clerk.frontend_api_url = Some(frontend);
        c.auth.clerk.api_url = Some(api);
        c.auth.clerk.secret_key = Secret::from("sk_test_standin".to_owned());
        c.auth.check_clerk_client = true;
    })
    .await;
    let mut claims = issuer.claims("user_a");
    claims["roles"] = json!(["member"]);
    let known = bearer(&issuer.sign(&claims));
    let (status, _, body) = call(&server, Some(&known), "notes_list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    call(&server, Some(&known), "notes_list", json!({})).await;
    assert_eq!(lookups.load(Ordering::SeqCst), 1, "cached");
    // A substring of a known client's id is not a match.
    for unknown in ["test", "someone-else"] {
        claims["client_id"] = json!(unknown);
        let token = bearer(&issuer.sign(&claims));
        let (status, headers, _) = call(&server, Some(&token), "notes_list", json!({})).await;
        assert_eq!(status, 401, "{unknown}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("unknown client")
        );
    }
}
