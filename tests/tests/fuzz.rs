//! Property tests over what an attacker controls: the bearer token and the
//! JSON-RPC request. Bounded: `FUZZ_CASES` cases each (default 200), so CI
//! spends seconds here; raise it to search longer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value, json};
use toolhost_tests::{TestServer, plugins};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn runner() -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A token's text mangled one of the ways an attacker (or a broken proxy) would.
fn mangled(token: String) -> impl Strategy<Value = String> {
    let len = token.len();
    let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let (t1, t2, t3, t4) = (token.clone(), token.clone(), token.clone(), parts.clone());
    prop_oneof![
        // One character replaced.
        (0..len, "[A-Za-z0-9_.=+/-]").prop_map(move |(i, c)| {
            let mut s = t1.clone();
            s.replace_range(i..=i, &c);
            s
        }),
        // Cut short.
        (0..len).prop_map(move |n| t2[..n].to_owned()),
        // Something appended.
        ".{1,16}".prop_map(move |tail| format!("{t3}{tail}")),
        // The payload replaced by arbitrary JSON (the signature no longer fits).
        any_json().prop_map(move |claims| {
            format!(
                "{}.{}.{}",
                t4[0],
                URL_SAFE_NO_PAD.encode(claims.to_string()),
                t4[2]
            )
        }),
        // A header claiming another algorithm, with or without a signature.
        (
            prop::sample::select(vec!["none", "HS256", "RS256", "ES384", "EdDSA", ""]),
            any::<bool>()
        )
            .prop_map(move |(alg, signed)| {
                let header = URL_SAFE_NO_PAD
                    .encode(json!({"alg": alg, "typ": "at+jwt", "kid": "x"}).to_string());
                let signature = if signed { parts[2].as_str() } else { "" };
                format!("{header}.{}.{signature}", parts[1])
            }),
        // Not a token at all.
        ".{0,300}",
    ]
}

#[test]
fn no_mangled_or_arbitrary_token_is_accepted_and_none_panics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestServer::start(&[], |_| {}));
    let auth = server.host.authenticator().expect("dev mode authenticates");
    let token = server.token("alice", &["member"]);
    assert!(
        rt.block_on(auth.authenticate(&token)).is_ok(),
        "the valid token passes"
    );
    let mut runner = runner();
    runner
        .run(&mangled(token.clone()), |candidate| {
            let verdict = rt.block_on(auth.authenticate(&candidate));
            prop_assert!(
                candidate == token || verdict.is_err(),
                "accepted a mangled token: {candidate}"
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn no_request_body_gets_a_server_error_and_the_server_keeps_answering() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestServer::start(
        &[plugins::NOTES_CREATE, plugins::NOTES_LIST],
        |_| {},
    ));
    let tool = prop::sample::select(vec!["notes_create", "notes_list", "nope", ""]);
    let method = prop::sample::select(vec![
        "tools/call",
        "tools/list",
        "initialize",
        "ping",
        "resources/read",
        "",
    ]);
    // Mostly well-formed requests with hostile contents, so that most reach
    // the handler (the assertion at the end checks they do), and some
    // arbitrary bytes for the parsers in front of it.
    let object = || {
        prop::collection::btree_map("[a-z_]{0,12}", any_json(), 0..8)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    };
    let params = prop_oneof![3 => object(), 1 => any_json()];
    let id = prop_oneof![
        3 => any::<i64>().prop_map(|n| json!(n)),
        3 => "[a-z0-9-]{0,20}".prop_map(Value::String),
        1 => any_json(),
    ];
    let body = prop_oneof![
        // A tool call with arbitrary arguments.
        4 => (tool, params.clone()).prop_map(|(tool, args)| TestServer::call_body(tool, &args)),
        // A known method with arbitrary params and id.
        3 => (method, params, id, any::<bool>()).prop_map(|(method, mut params, id, meta)| {
            // Usually with the `_meta` a stateless request must carry.
            if let (true, Some(params)) = (meta, params.as_object_mut()) {
                params.insert(
                    "_meta".into(),
                    json!({
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {}
                    }),
                );
            }
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
        }),
        // Arbitrary JSON.
        1 => any_json().prop_map(|v| v.to_string()),
        // Arbitrary text.
        1 => ".{0,200}",
    ];
    let mut runner = runner();
    let answered = std::cell::Cell::new(0);
    runner
        .run(&body, |body| {
            let (status, answer) = rt.block_on(server.post_raw("alice", body.clone()));
            prop_assert!(status < 500, "{status} for {body}: {answer}");
            answered.set(answered.get() + usize::from(status == 200));
            if status == 200 {
                // An answer is a result or an error, never both or neither.
                prop_assert!(
                    answer.get("result").is_some() != answer.get("error").is_some(),
                    "{body}: {answer}"
                );
            }
            Ok(())
        })
        .unwrap();
    assert!(
        answered.get() >= cases() as usize / 4,
        "only {} of {} requests got through to the handler: the test is not testing it",
        answered.get(),
        cases()
    );
    let (status, answer) =
        rt.block_on(server.post_raw("alice", TestServer::call_body("notes_list", &json!({}))));
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["result"]["structuredContent"]["count"].is_number(),
        "{answer}"
    );
}
