//! End to end with a real OAuth authorization server standing in for Clerk
//! (oidc-provider from npm, tests/clerk-standin) and the official Python MCP
//! client's own OAuth support: discovery from the 401, dynamic registration,
//! authorization code + PKCE, then the tools, as three different users.

use toolhost::auth::AudiencePolicy;
use toolhost_tests::standin::{StandIn, round_trip, titles, typescript_round_trip};
use toolhost_tests::{TestServer, plugins};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_works_with_any_oidc_issuer_found_by_discovery() {
    let standin = StandIn::start();
    let issuer = standin.url.clone();
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        // As with Auth0, WorkOS or Keycloak: the issuer URL only.
        c.auth.oidc.issuer = Some(issuer);
    })
    .await;
    let url = server.url();
    let alice = tokio::task::spawn_blocking(move || round_trip(&url, "alice", "via OIDC", false))
        .await
        .unwrap();
    assert_eq!(titles(&alice), ["via OIDC"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_off_the_shelf_client_gets_a_token_from_the_clerk_stand_in_and_calls_tools() {
    let standin = StandIn::start();
    let frontend = standin.url.clone();
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        // As an operator would with a Clerk proxy domain: CLERK_FRONTEND_API_URL.
        c.auth.clerk.frontend_api_url = Some(frontend);
        c.auth.audience = AudiencePolicy::Resource;
        // No scopes configured: what an operator gets by default.
    })
    .await;
    let url = server.url();
    let results = tokio::task::spawn_blocking(move || {
        let alice = round_trip(&url, "alice", "alice's note", false);
        let bob = round_trip(&url, "bob", "bob's note", false);
        let guest = round_trip(&url, "guest", "guest's note", true);
        (alice, bob, guest)
    })
    .await
    .unwrap();
    let (alice, bob, guest) = results;
    assert_eq!(
        alice["tools"],
        serde_json::json!(["notes_create", "notes_list"])
    );
    assert_eq!(alice["oauth"]["issuer"], standin.url);
    assert_eq!(titles(&alice), ["alice's note"]);
    assert_eq!(titles(&bob), ["bob's note"], "bob sees only his own notes");
    assert_eq!(
        guest["tools"],
        serde_json::json!(["notes_list"]),
        "a user without member sees only notes_list"
    );
    assert_eq!(guest["created_is_error"], true, "and may not create");
    assert!(
        guest["created_error"].as_str().unwrap().contains("member"),
        "{guest}"
    );
    assert_eq!(guest["listed"]["count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_asks_for_the_advertised_scopes_gets_a_token_with_no_scopes_configured() {
    let standin = StandIn::start();
    let frontend = standin.url.clone();
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        c.auth.clerk.frontend_api_url = Some(frontend);
        // No scopes configured.
    })
    .await;
    let base = server.url().trim_end_matches("/mcp").to_owned();
    let prm: serde_json::Value =
        reqwest::get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        prm["scopes_supported"],
        serde_json::json!(["openid", "profile", "email"]),
        "OpenID Connect's scopes are advertised by default"
    );
    // The TypeScript SDK asks for exactly what the metadata advertises, and
    // with nothing advertised sends no scope, which the stand-in refuses.
    let url = server.url();
    let alice = tokio::task::spawn_blocking(move || {
        typescript_round_trip(&url, "alice", None, "alice via typescript", false)
    })
    .await
    .unwrap();
    assert_eq!(titles(&alice), ["alice via typescript"], "{alice}");
    assert_eq!(alice["oauth"]["scope"], "openid profile email", "{alice}");
}
