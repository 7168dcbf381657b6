//! Replicas on one PostgreSQL database (`[storage] backend = "postgres"`):
//! the tool data every replica shares, and what a client sees while the
//! database is down and after it returns. A real PostgreSQL server, in a
//! throwaway cluster per test.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use toolhost::config::StorageBackend;
use toolhost::secret::Secret;
use toolhost::testing::postgres::PostgresCluster;
use toolhost_tests::{TestServer, create_note, plugins};

const NOTES: &[&str] = &[plugins::NOTES_LIST, plugins::NOTES_CREATE];

async fn replica(url: &str, statement_timeout_ms: u64) -> TestServer {
    let url = url.to_owned();
    TestServer::start(NOTES, move |config| {
        config.storage.backend = StorageBackend::Postgres;
        config.storage.url = Secret::from(url);
        config.storage.statement_timeout_ms = statement_timeout_ms;
    })
    .await
}

async fn call(
    client: &RunningService<RoleClient, impl ClientHandler>,
    tool: &str,
    arguments: Value,
) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(arguments.as_object().cloned().unwrap_or_default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

async fn titles(client: &RunningService<RoleClient, impl ClientHandler>) -> Vec<String> {
    let listed = call(client, "notes_list", json!({"limit": 50})).await;
    assert_ne!(listed.is_error, Some(true), "{listed:?}");
    let notes = listed.structured_content.expect("structured")["notes"].clone();
    let mut titles: Vec<String> = notes
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

async fn readyz(server: &TestServer) -> (u16, Value) {
    let ready = reqwest::get(format!("http://{}/readyz", server.addr))
        .await
        .unwrap();
    (ready.status().as_u16(), ready.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_written_through_one_replica_are_read_through_the_other() {
    let cluster = PostgresCluster::start().unwrap();
    let url = cluster.create_database("fleet").unwrap();
    let (a, b) = (replica(&url, 5000).await, replica(&url, 5000).await);
    // Each replica still signs its own development tokens: the same
    // subject, signed by each one.
    let alice_a = ().serve(a.transport_as("alice", &["member"])).await.unwrap();
    let alice_b = ().serve(b.transport_as("alice", &["member"])).await.unwrap();
    let bob_b = ().serve(b.transport_as("bob", &["member"])).await.unwrap();
    for title in ["one", "two", "three"] {
        create_note(&alice_a, title, "written through a").await;
    }
    create_note(&bob_b, "bob's", "written through b").await;
    assert_eq!(titles(&alice_b).await, ["one", "three", "two"]);
    assert_eq!(titles(&alice_a).await, ["one", "three", "two"]);
    let bob_a = ().serve(a.transport_as("bob", &["member"])).await.unwrap();
    assert_eq!(titles(&bob_a).await, ["bob's"], "users stay isolated");
    for server in [&a, &b] {
        let (status, body) = readyz(server).await;
        assert_eq!(
            (status, body["storage"].as_str()),
            (200, Some("ok")),
            "{body}"
        );
    }
    for client in [alice_a, alice_b, bob_a, bob_b] {
        client.cancel().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_a_retry_error_and_503_then_service_resumes() {
    let cluster = PostgresCluster::start().unwrap();
    let url = cluster.create_database("outage").unwrap();
    let server = replica(&url, 1000).await;
    let client = ().serve(server.transport()).await.unwrap();
    create_note(&client, "before", "the outage").await;

    cluster.stop().unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        let created = call(&client, "notes_create", json!({"title": "t", "body": "b"})).await;
        let took = started.elapsed();
        assert_eq!(created.is_error, Some(true), "{created:?}");
        let message = text(&created);
        assert!(
            message.contains("unavailable") && message.contains("retry"),
            "{message}"
        );
        assert!(took < Duration::from_secs(3), "the error took {took:?}");
    }
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503, "{body}");
    let storage = body["storage"].as_str().unwrap();
    assert!(
        storage.contains("unavailable")
            && storage.contains(&format!("127.0.0.1:{}", cluster.port())),
        "{storage}"
    );

    cluster.resume().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let created = call(
            &client,
            "notes_create",
            json!({"title": "after", "body": "b"}),
        )
        .await;
        if created.is_error != Some(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered: {}",
            text(&created)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(titles(&client).await, ["after", "before"]);
    assert_eq!(readyz(&server).await.0, 200);
    client.cancel().await.unwrap();
}
