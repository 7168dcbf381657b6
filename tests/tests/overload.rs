//! Overload and bad input over HTTP: per-tool limits, "busy, retry",
//! per-caller rate limits, 64 clients beside hostile plugins, and requests
//! that are not JSON-RPC at all.

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use toolhost::config::{RateLimit, RateLimitOverride, ToolPolicy};
use toolhost::runtime::LimitsOverride;
use toolhost_tests::{TestServer, plugins};

fn text(result: &Value) -> String {
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn call(server: &TestServer, subject: &str, tool: &str, args: Value) -> Value {
    let (status, answer) = server
        .post_raw(subject, TestServer::call_body(tool, &args))
        .await;
    assert_eq!(status, 200, "{tool}: {answer}");
    answer
}

fn is_error(answer: &Value) -> bool {
    answer["result"]["isError"] == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_gets_its_own_deadline_and_concurrency_limit() {
    let server = TestServer::start(&[plugins::HOSTILE_LOOP, plugins::NOTES_LIST], |c| {
        c.concurrency.wait_ms = 100;
        c.tools.insert(
            "hostile_loop".into(),
            ToolPolicy {
                limits: LimitsOverride {
                    timeout_ms: Some(300),
                    ..Default::default()
                },
                max_concurrent: Some(1),
                ..Default::default()
            },
        );
    })
    .await;
    let started = Instant::now();
    let (first, second) = tokio::join!(call(&server, "alice", "hostile_loop", json!({})), async {
        // Once alice's call holds the tool's one slot.
        in_flight_at_least(&server, 1).await;
        call(&server, "bob", "hostile_loop", json!({})).await
    });
    let elapsed = started.elapsed();
    assert!(
        is_error(&first) && text(&first).contains("timed out after 300ms"),
        "{first}"
    );
    assert!(
        is_error(&second) && text(&second).contains("busy") && text(&second).contains("retry"),
        "{second}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    // Other tools keep their defaults and are not held up.
    let list = call(&server, "bob", "notes_list", json!({})).await;
    assert!(!is_error(&list), "{list}");
    // The slot is free again.
    let again = call(&server, "bob", "hostile_loop", json!({})).await;
    assert!(text(&again).contains("timed out"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_hitting_its_rate_limit_does_not_slow_another() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |c| {
        c.rate_limit = RateLimit::OFF;
        c.tools.insert(
            "notes_list".into(),
            ToolPolicy {
                rate_limit: Some(RateLimitOverride {
                    per_minute: Some(6),
                    burst: Some(3),
                }),
                ..Default::default()
            },
        );
    })
    .await;
    for i in 0..3 {
        let ok = call(&server, "alice", "notes_list", json!({})).await;
        assert!(!is_error(&ok), "call {i}: {ok}");
    }
    let limited = call(&server, "alice", "notes_list", json!({})).await;
    assert!(is_error(&limited));
    let message = text(&limited);
    assert!(
        message.contains("rate limited")
            && message.contains("alice")
            && message.contains("retry in"),
        "{message}"
    );
    for i in 0..3 {
        let ok = call(&server, "bob", "notes_list", json!({})).await;
        assert!(!is_error(&ok), "bob's call {i}: {ok}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_all_succeed_while_hostile_plugins_run() {
    const CLIENTS: usize = 64;
    const NOTES: usize = 8;
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::HOSTILE_LOOP,
            plugins::HOSTILE_MEMORY,
            plugins::HOSTILE_RECURSION,
        ],
        |c| {
            c.runtime.max_instances = 96;
            c.concurrency.wait_ms = 10_000;
            c.tools.insert(
                "hostile_loop".into(),
                ToolPolicy {
                    limits: LimitsOverride {
                        timeout_ms: Some(1_000),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            );
        },
    )
    .await;
    let server = std::sync::Arc::new(server);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = ["hostile_loop", "hostile_memory", "hostile_recursion"]
        .into_iter()
        .map(|tool| {
            let (server, stop) = (server.clone(), stop.clone());
            tokio::spawn(async move {
                let mut attacks = 0;
                // Bounded: at most 60 attacks each, or until the clients finish.
                while attacks < 60 && !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let answer = call(&server, "mallory", tool, json!({})).await;
                    assert!(is_error(&answer), "{tool} succeeded: {answer}");
                    attacks += 1;
                }
                attacks
            })
        })
        .collect();
    // The clients start once the attacks are running.
    in_flight_at_least(&server, 1).await;
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let subject = format!("user-{i}");
                let client =
                    ().serve(server.transport_as(&subject, &["member"]))
                        .await
                        .expect("connects");
                let mut failures = Vec::new();
                for n in 0..NOTES {
                    let args = json!({"title": format!("note {n}"), "body": "b"});
                    let result: CallToolResult = client
                        .call_tool(
                            CallToolRequestParams::new("notes_create")
                                .with_arguments(args.as_object().unwrap().clone()),
                        )
                        .await
                        .expect("transport");
                    if result.is_error == Some(true) {
                        failures.push(format!("{subject}: {:?}", result.content));
                    }
                }
                let listed = client
                    .call_tool(
                        CallToolRequestParams::new("notes_list")
                            .with_arguments(json!({"limit": 50}).as_object().unwrap().clone()),
                    )
                    .await
                    .expect("transport");
                let count = listed.structured_content.map(|s| s["count"].clone());
                client.cancel().await.ok();
                (failures, count)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for client in clients {
        let (failed, count) = client.await.unwrap();
        assert_eq!(count, Some(json!(NOTES)), "each client sees its own notes");
        failures.extend(failed);
    }
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut attacks = 0;
    for a in attackers {
        attacks += a.await.unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} calls failed: {failures:?}",
        failures.len()
    );
    assert!(attacks >= 3, "the hostile calls ran ({attacks})");
    println!(
        "{} well-behaved calls from {CLIENTS} clients in {elapsed:?} beside {attacks} hostile calls",
        CLIENTS * (NOTES + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_are_not_json_rpc_get_specific_errors() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    // Not JSON at all: a parse error.
    let (status, answer) = server
        .post_raw("alice", "{\"jsonrpc\": \"2.0\", \"id\": 1,")
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!(-32700)),
        "{answer}"
    );
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("EOF"),
        "{answer}"
    );
    // JSON, but not a JSON-RPC message: an invalid request.
    for body in [
        "[1, 2, 3]",
        "{\"jsonrpc\": \"2.0\", \"id\": 1}",
        "{\"method\": 7}",
    ] {
        let (status, answer) = server.post_raw("alice", body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (400, &json!(-32600)),
            "{body}: {answer}"
        );
    }
    // Nested far deeper than any real argument (100 000 levels in 200 KB):
    // refused by serde_json's nesting limit (128) as an invalid request,
    // not by a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let body =
        TestServer::call_body("notes_list", &json!({"limit": "DEEP"})).replace("\"DEEP\"", &deep);
    let (status, answer) = server.post_raw("alice", body).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!(-32600)),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{answer}"
    );
    // A well-formed request still works afterwards.
    let ok = call(&server, "alice", "notes_list", json!({})).await;
    assert!(!is_error(&ok), "{ok}");
}

/// Wait (at most 10 s, polling the host's counter) until `n` calls are in
/// flight.
async fn in_flight_at_least(server: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.host.dispatcher().in_flight().count() < n {
        assert!(Instant::now() < deadline, "{n} calls never were in flight");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A client that trickles a request's headers (slowloris) is cut off at the
/// header deadline, and one peer holds at most its share of connections;
/// others are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_a_peer_holds_its_share_of_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(&[plugins::NOTES_LIST], |c| {
        c.server.header_read_timeout_ms = 500;
        c.server.max_connections_per_peer = 3;
    })
    .await;
    // Two slow clients, a header line every 200 ms, never the end.
    let slow = |n: usize| {
        let addr = server.addr;
        tokio::spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await
                .unwrap();
            let started = Instant::now();
            for i in 0..50 {
                if tcp
                    .write_all(format!("X-Slow-{n}-{i}: x\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
                let mut buf = [0u8; 512];
                match tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await {
                    Ok(Ok(_)) | Ok(Err(_)) => break, // closed (or answered and closed)
                    Err(_) => {}                     // still open: trickle on
                }
            }
            started.elapsed()
        })
    };
    let (a, b) = (slow(1), slow(2));
    // Meanwhile a well-behaved call is answered (the third connection).
    let answer = call(&server, "alice", "notes_list", json!({})).await;
    assert!(!is_error(&answer), "{answer}");
    for held in [a.await.unwrap(), b.await.unwrap()] {
        assert!(
            held < Duration::from_secs(3),
            "a slow client was cut off at the deadline, not kept: {held:?}"
        );
    }
    // A peer over its share: the fourth connection is closed at once.
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    let mut fourth = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf))
        .await
        .expect("closed, not left hanging");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(open);
}
