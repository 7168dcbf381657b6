//! A 0.2 tool asks while it runs: the user (elicitation) and the client's
//! model (sampling), through server-to-client requests on a 2025-11-25
//! session. Every outcome is an answer or an error the tool sees: an
//! acceptance, a decline, a dismissal, a client that cannot be asked, a
//! stateless 2026-07-28 request; and a call cancelled while it waits for the
//! user stops at once.
#![allow(deprecated)] // MCP sampling, deprecated in 2026-07-28, is what is tested.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    ClientRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationAction, SamplingMessage,
};
use rmcp::service::{PeerRequestOptions, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use toolhost_tests::{TestServer, plugins};

/// A client whose user answers every elicitation with `action` (after
/// `delay`), and whose model answers every sampling request.
#[derive(Clone)]
struct User {
    action: ElicitationAction,
    delay: Duration,
    asked: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn answering(action: ElicitationAction) -> Self {
        User {
            action,
            delay: Duration::ZERO,
            asked: Arc::default(),
        }
    }
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.capabilities = ClientCapabilities::builder()
            .enable_elicitation()
            .enable_sampling()
            .build();
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        tokio::time::sleep(self.delay).await;
        let content = (self.action == ElicitationAction::Accept)
            .then(|| json!({"username": "ada", "email": "ada@example.com"}));
        let mut result = ElicitResult::new(self.action.clone());
        result.content = content;
        Ok(result)
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let asked = serde_json::to_value(&params.messages).unwrap();
        self.asked.lock().unwrap().push(asked.to_string());
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("four"),
            "test-model".into(),
        ))
    }
}

fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap())
}

fn text(result: &CallToolResult) -> String {
    result.content[0].as_text().unwrap().text.clone()
}

async fn elicit(client: &RunningService<RoleClient, impl ClientHandler>) -> CallToolResult {
    client
        .call_tool(params(
            "test_elicitation",
            json!({"message": "Who are you?"}),
        ))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_user_is_one_the_tool_sees() {
    let server = TestServer::start(&[plugins::CONFORMANCE_TOOLS], |_| {}).await;
    let user = User::answering(ElicitationAction::Accept);
    let client = user.clone().serve(server.transport()).await.unwrap();
    let accepted = elicit(&client).await;
    assert_eq!(accepted.is_error, Some(false), "{accepted:?}");
    assert_eq!(
        text(&accepted),
        r#"User response: action=accept, content={"email":"ada@example.com","username":"ada"}"#
    );
    assert_eq!(*user.asked.lock().unwrap(), ["Who are you?"]);
    client.cancel().await.unwrap();

    for (action, word) in [
        (ElicitationAction::Decline, "decline"),
        (ElicitationAction::Cancel, "cancel"),
    ] {
        let client = User::answering(action)
            .serve(server.transport())
            .await
            .unwrap();
        let answered = elicit(&client).await;
        assert_eq!(answered.is_error, Some(false), "{answered:?}");
        assert_eq!(
            text(&answered),
            format!("User response: action={word}, content={{}}")
        );
        client.cancel().await.unwrap();
    }

    let client = user.clone().serve(server.transport()).await.unwrap();
    let sampled = client
        .call_tool(params("test_sampling", json!({"prompt": "2 + 2?"})))
        .await
        .unwrap();
    assert_eq!(text(&sampled), "LLM response: four");
    assert!(user.asked.lock().unwrap()[1].contains("2 + 2?"));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_cannot_be_asked_gives_the_tool_the_reason() {
    let server = TestServer::start(&[plugins::CONFORMANCE_TOOLS], |_| {}).await;
    // The default client declares neither elicitation nor sampling.
    let client = ().serve(server.transport()).await.unwrap();
    let refused = elicit(&client).await;
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    assert!(
        text(&refused).contains("the client does not support elicitation"),
        "{refused:?}"
    );
    let refused = client
        .call_tool(params("test_sampling", json!({"prompt": "hi"})))
        .await
        .unwrap();
    assert!(
        text(&refused).contains("the client does not support sampling"),
        "{refused:?}"
    );
    client.cancel().await.unwrap();

    // A stateless 2026-07-28 request has no server-to-client requests.
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "test_elicitation", "arguments": {"message": "Who?"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}
            }
        }
    });
    let (status, answer) = server.post_raw("erin", &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let message = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        message.contains("a 2026-07-28 request has no server-to-client requests"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_for_the_user_stops_when_the_client_cancels_it() {
    let server = TestServer::start(&[plugins::CONFORMANCE_TOOLS], |_| {}).await;
    let user = User {
        delay: Duration::from_secs(60),
        ..User::answering(ElicitationAction::Accept)
    };
    let client = user.clone().serve(server.transport()).await.unwrap();
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params(
        "test_elicitation",
        json!({"message": "Take your time"}),
    )));
    let handle = client
        .peer()
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while user.asked.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the user was never asked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.host.dispatcher().in_flight().count(), 1);
    let cancelled = Instant::now();
    handle.cancel(Some("never mind".into())).await.unwrap();
    while server.host.dispatcher().in_flight().count() != 0 {
        assert!(
            cancelled.elapsed() < Duration::from_secs(5),
            "the call kept its slot"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "cancel while asking to slot free: {:?}",
        cancelled.elapsed()
    );
    assert!(
        cancelled.elapsed() < Duration::from_millis(500),
        "{:?}",
        cancelled.elapsed()
    );
    client.cancel().await.unwrap();
}
