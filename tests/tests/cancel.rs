//! A call stops when its client cancels it or goes away: the instance is
//! interrupted at the next epoch tick and its slot is free, long before the
//! tool's own deadline.

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::json;
use std::time::{Duration, Instant};
use toolhost::config::ToolPolicy;
use toolhost::runtime::LimitsOverride;
use toolhost_tests::{TestServer, plugins};

/// The looping tool's own deadline: far beyond anything the test waits for,
/// so only a cancellation can stop it in time.
const DEADLINE_MS: u64 = 60_000;

async fn looping_server() -> TestServer {
    TestServer::start(&[plugins::HOSTILE_LOOP], |c| {
        c.tools.insert(
            "hostile_loop".into(),
            ToolPolicy {
                limits: LimitsOverride {
                    timeout_ms: Some(DEADLINE_MS),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
    })
    .await
}

/// Wait until the host has `n` calls in flight; how long it took.
async fn in_flight(server: &TestServer, n: usize, within: Duration) -> Duration {
    let started = Instant::now();
    while server.host.dispatcher().in_flight().count() != n {
        assert!(
            started.elapsed() < within,
            "{} calls in flight after {within:?}, waiting for {n}",
            server.host.dispatcher().in_flight().count()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cancel_stops_a_looping_call_at_once() {
    let server = looping_server().await;
    let client = ().serve(server.transport()).await.unwrap();
    let mut stops = Vec::new();
    for _ in 0..10 {
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(
            CallToolRequestParams::new("hostile_loop")
                .with_arguments(json!({}).as_object().cloned().unwrap()),
        ));
        let handle = client
            .peer()
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await
            .unwrap();
        in_flight(&server, 1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let cancelled = Instant::now();
        handle
            .cancel(Some("the user pressed stop".into()))
            .await
            .unwrap();
        in_flight(&server, 0, Duration::from_secs(5)).await;
        stops.push(cancelled.elapsed());
    }
    stops.sort();
    let (p50, max) = (stops[stops.len() / 2], stops[stops.len() - 1]);
    println!("cancel to slot free: p50 {p50:?}, max {max:?}");
    assert!(p50 < Duration::from_millis(100), "p50 {p50:?}");
    assert!(max < Duration::from_secs(1), "max {max:?}");
    // The server still serves, and the next call starts at once.
    let again = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(
                CallToolRequestParams::new("hostile_loop")
                    .with_arguments(json!({}).as_object().cloned().unwrap()),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    in_flight(&server, 1, Duration::from_secs(10)).await;
    again.cancel(None).await.unwrap();
    in_flight(&server, 0, Duration::from_secs(5)).await;
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_stops_its_call() {
    let server = looping_server().await;
    let request = server
        .stateless_request("alice", TestServer::call_body("hostile_loop", &json!({})))
        .send();
    let pending = tokio::spawn(request);
    in_flight(&server, 1, Duration::from_secs(10)).await;
    // The client gives up: its connection closes.
    pending.abort();
    let _ = pending.await;
    let stopped = in_flight(&server, 0, Duration::from_secs(5)).await;
    println!("disconnect to slot free: {stopped:?}");
    assert!(stopped < Duration::from_secs(1), "{stopped:?}");
}
