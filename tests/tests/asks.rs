//! A 0.2 tool asks while it runs: the user (elicitation) and the client's
//! model (sampling), through server-to-client requests on a 2025-11-25
//! session, and in `input_required` rounds on stateless 2026-07-28
//! requests (the call runs again with the answers; a forged, altered,
//! borrowed or replayed `requestState` is refused). Every outcome is an
//! answer or an error the tool sees: an acceptance, a decline, a dismissal,
//! a client that cannot be asked; and a call cancelled while it waits for
//! the user stops at once. The asking tools are the conformance suite's, in
//! Python (`tests/py_plugins/conformance_py`).
#![allow(deprecated)] // MCP sampling, deprecated in 2026-07-28, is what is tested.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    ClientRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationAction, ResourceUpdatedNotificationParam, SamplingMessage,
    ServerNotification, SubscribeRequestParams, SubscriptionFilter,
};
use rmcp::service::{PeerRequestOptions, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use toolhost_tests::{TestServer, create_note, plugins, shared_cache};

/// A client whose user answers every elicitation with `action` (after
/// `delay`), and whose model answers every sampling request.
#[derive(Clone)]
struct User {
    action: ElicitationAction,
    /// What an acceptance submits.
    form: Value,
    delay: Duration,
    asked: Arc<Mutex<Vec<String>>>,
    /// The resources it heard were updated.
    updated: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn answering(action: ElicitationAction) -> Self {
        User {
            action,
            form: json!({"username": "ada", "email": "ada@example.com"}),
            delay: Duration::ZERO,
            asked: Arc::default(),
            updated: Arc::default(),
        }
    }

    fn accepting(form: Value) -> Self {
        User {
            form,
            ..User::answering(ElicitationAction::Accept)
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
        let content = (self.action == ElicitationAction::Accept).then(|| self.form.clone());
        let mut result = ElicitResult::new(self.action.clone());
        result.content = content;
        Ok(result)
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
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

/// The Python asking tools (`conformance_py`) compile once for every test.
fn cached(config: &mut toolhost::Config) {
    config.storage.cache_dir = Some(shared_cache());
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
    let server = TestServer::start(&[plugins::CONFORMANCE_PY], cached).await;
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
    let server = TestServer::start(&[plugins::CONFORMANCE_PY], cached).await;
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

    // A 2026-07-28 request whose client declares no elicitation is not asked.
    let body = TestServer::call_body("test_elicitation", &json!({"message": "Who?"}));
    let (status, answer) = server.post_raw("erin", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let message = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        message.contains("the client does not support elicitation"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_client_is_asked_in_rounds_and_the_call_runs_again_with_the_answers() {
    let server = TestServer::start(
        &[
            plugins::CONFORMANCE_PY,
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::NOTES_DELETE,
        ],
        cached,
    )
    .await;
    let user = User::answering(ElicitationAction::Accept);
    let client = server.client_2026_with(user.clone()).await;
    let accepted = elicit(&client).await;
    assert_eq!(accepted.is_error, Some(false), "{accepted:?}");
    assert_eq!(
        text(&accepted),
        r#"User response: action=accept, content={"email":"ada@example.com","username":"ada"}"#
    );
    let sampled = client
        .call_tool(params("test_sampling", json!({"prompt": "2 + 2?"})))
        .await
        .unwrap();
    assert_eq!(text(&sampled), "LLM response: four");
    assert_eq!(user.asked.lock().unwrap().len(), 2, "each asked once");

    // notes_delete asks before it deletes: a yes deletes, a no keeps.
    let yes = server
        .client_2026_with(User::accepting(json!({"confirm": true})))
        .await;
    let gone = create_note(&yes, "old list", "b").await;
    let kept = create_note(&yes, "keep me", "b").await;
    let deleted = yes
        .call_tool(params("notes_delete", json!({"id": gone})))
        .await
        .unwrap();
    assert_eq!(text(&deleted), format!("Deleted note {gone}."));
    let no = server
        .client_2026_with(User::answering(ElicitationAction::Decline))
        .await;
    let refused = no
        .call_tool(params("notes_delete", json!({"id": kept})))
        .await
        .unwrap();
    assert_eq!(refused.structured_content.unwrap()["deleted"], false);
    assert_eq!(note_titles(&yes).await, ["keep me"]);

    // The first round of each call is in the audit trail as such.
    let rounds = server
        .audit_records(toolhost::storage::audit::AuditQuery {
            tool: Some("notes_delete".into()),
            limit: 100,
            ..Default::default()
        })
        .await;
    let outcomes: Vec<&str> = rounds.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "input_required").count(),
        2,
        "{outcomes:?}"
    );
}

/// A stateless `tools/call` of `test_elicitation` from a client that can
/// be asked, with `extra` params (`requestState`, `inputResponses`).
fn round(message: &str, extra: Value) -> String {
    let mut params = json!({
        "name": "test_elicitation", "arguments": {"message": message},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}
        }
    });
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_state_opens_once_for_its_caller_tool_and_arguments_only() {
    let server = TestServer::start(&[plugins::CONFORMANCE_PY], cached).await;
    let (status, first) = server.post_raw("alice", round("Who?", json!({}))).await;
    assert_eq!(status, 200, "{first}");
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let asked = &result["inputRequests"]["ask-1"];
    assert_eq!(asked["method"], "elicitation/create", "{first}");
    assert_eq!(asked["params"]["message"], "Who?", "{first}");
    let state = result["requestState"].as_str().unwrap().to_owned();
    let answer = json!({"ask-1": {"action": "accept", "content": {"name": "ada"}}});
    let retry = |message: &str, state: &str| {
        round(
            message,
            json!({"requestState": state, "inputResponses": answer}),
        )
    };
    let refused = |reply: &Value| {
        reply["error"]["code"] == -32602
            && (reply["error"]["message"].as_str()).is_some_and(|m| m.contains("not valid"))
    };

    // Another caller, other arguments, an altered or a made-up state: refused.
    let (_, borrowed) = server.post_raw("mallory", retry("Who?", &state)).await;
    assert!(refused(&borrowed), "{borrowed}");
    let (_, other) = server.post_raw("alice", retry("Why?", &state)).await;
    assert!(refused(&other), "{other}");
    let mut altered = state.clone().into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    let (_, tampered) = server.post_raw("alice", retry("Who?", &altered)).await;
    assert!(refused(&tampered), "{tampered}");
    let (_, forged) = server
        .post_raw("alice", retry("Who?", "rs2.e30.AAAA"))
        .await;
    assert!(refused(&forged), "{forged}");
    // An answer to a question not asked is not an answer.
    let wrong_key = round(
        "Who?",
        json!({"requestState": state, "inputResponses": {"ask-9": {"action": "decline"}}}),
    );
    let (_, unanswered) = server.post_raw("alice", wrong_key).await;
    assert!(
        (unanswered["error"]["message"].as_str()).is_some_and(|m| m.contains("\"ask-1\"")),
        "{unanswered}"
    );

    // The right request opens it, and the call completes with the answer.
    let (_, done) = server.post_raw("alice", retry("Who?", &state)).await;
    assert_eq!(
        done["result"]["content"][0]["text"],
        r#"User response: action=accept, content={"name":"ada"}"#,
        "{done}"
    );
    // Once.
    let (_, replayed) = server.post_raw("alice", retry("Who?", &state)).await;
    assert!(refused(&replayed), "{replayed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_for_the_user_stops_when_the_client_cancels_it() {
    let server = TestServer::start(&[plugins::CONFORMANCE_PY], cached).await;
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

async fn note_titles(client: &RunningService<RoleClient, impl ClientHandler>) -> Vec<String> {
    let listed = client
        .call_tool(params("notes_list", json!({})))
        .await
        .unwrap();
    let notes = listed.structured_content.unwrap()["notes"].clone();
    (notes.as_array().unwrap().iter())
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_delete_deletes_only_what_the_user_confirms() {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::NOTES_DELETE,
        ],
        |_| {},
    )
    .await;
    let delete = |id: &str| params("notes_delete", json!({"id": id}));

    let yes = User::accepting(json!({"confirm": true}));
    let client = yes.clone().serve(server.transport()).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let hints = tools
        .iter()
        .find(|t| t.name == "notes_delete")
        .unwrap()
        .annotations
        .clone()
        .unwrap();
    assert_eq!(hints.destructive_hint, Some(true));
    let id = create_note(&client, "old list", "b").await;
    let deleted = client.call_tool(delete(&id)).await.unwrap();
    assert_eq!(text(&deleted), format!("Deleted note {id}."));
    assert_eq!(
        *yes.asked.lock().unwrap(),
        ["Delete the note \"old list\"? This cannot be undone."]
    );
    assert!(note_titles(&client).await.is_empty());
    let again = client.call_tool(delete(&id)).await.unwrap();
    assert_eq!(again.is_error, Some(true));
    assert!(text(&again).contains("no note with id"), "{again:?}");
    let kept = create_note(&client, "keep me", "b").await;
    client.cancel().await.unwrap();

    // No, an unticked box, a dismissal: the note stays.
    for (user, answer) in [
        (User::answering(ElicitationAction::Decline), "refused"),
        (User::accepting(json!({"confirm": false})), "refused"),
        (User::answering(ElicitationAction::Cancel), "dismissed"),
    ] {
        let client = user.serve(server.transport()).await.unwrap();
        let outcome = client.call_tool(delete(&kept)).await.unwrap();
        assert_eq!(outcome.is_error, Some(false), "{outcome:?}");
        assert_eq!(
            outcome.structured_content.as_ref().unwrap()["answer"],
            answer
        );
        assert_eq!(outcome.structured_content.unwrap()["deleted"], false);
        assert_eq!(note_titles(&client).await, ["keep me"]);
        client.cancel().await.unwrap();
    }

    // A client that cannot ask deletes nothing.
    let client = ().serve(server.transport()).await.unwrap();
    let refused = client.call_tool(delete(&kept)).await.unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused)
            .contains("cannot ask the user to confirm (the client does not support elicitation)"),
        "{refused:?}"
    );
    assert_eq!(note_titles(&client).await, ["keep me"]);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_note_is_announced_to_its_owners_subscribers_only() {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::NOTES_DELETE,
        ],
        |_| {},
    )
    .await;
    let owner = User::accepting(json!({"confirm": true}));
    let deleter = owner.clone().serve(server.transport()).await.unwrap();
    let id = create_note(&deleter, "old list", "b").await;
    let uri = format!("notes://{id}");

    // The owner watches it from a second session and a 2026-07-28 stream;
    // another user subscribes to the same URI.
    let watcher = User::answering(ElicitationAction::Decline);
    let session = watcher.clone().serve(server.transport()).await.unwrap();
    session
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    let stream_client = server
        .client_2026_with(User::answering(ElicitationAction::Decline))
        .await;
    let mut stream = stream_client
        .listen(
            SubscriptionFilter::builder()
                .resource_subscriptions([uri.clone()])
                .build(),
        )
        .await
        .unwrap();
    let other = User::answering(ElicitationAction::Decline);
    let bob = (other.clone())
        .serve(server.transport_as("bob", &["member"]))
        .await
        .unwrap();
    bob.subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();

    let deleted = deleter
        .call_tool(params("notes_delete", json!({"id": id})))
        .await
        .unwrap();
    assert_eq!(text(&deleted), format!("Deleted note {id}."));
    let heard = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the stream hears it in time")
        .unwrap();
    match heard {
        Some(ServerNotification::ResourceUpdatedNotification(n)) => {
            assert_eq!(n.params.uri, uri)
        }
        other => panic!("unexpected {other:?}"),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while watcher.updated.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*watcher.updated.lock().unwrap(), std::slice::from_ref(&uri));
    // Bob subscribed to the same URI: his notes are not the owner's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(other.updated.lock().unwrap().is_empty());
    assert!(owner.updated.lock().unwrap().is_empty(), "not subscribed");
    stream.cancel().await.unwrap();
}
