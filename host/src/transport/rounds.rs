//! Asking the client during a call on a 2026-07-28 request, which has no
//! server-to-client requests: the multi-round-trip request of SEP-2322.
//!
//! A tool that asks (elicitation, sampling) on such a request is stopped at
//! its first question without an answer. The result is `input_required`:
//! the question, under a key in `inputRequests`, and a sealed
//! `requestState`. The client answers and sends the same request again with
//! `inputResponses` and the state; the call runs again from the start, and
//! its asks get the answers of every earlier round in order (a tool that
//! asks something else is told so). Work a tool does before an ask may run
//! again: the SDKs say to ask before changing anything.
//!
//! The state holds the answers so far and a digest of the question now
//! asked. It is sealed with HMAC-SHA-256 (rmcp's `RequestStateCodec`) under a
//! key made at start, bound to the caller (subject and client), the tool and
//! a digest of the arguments, and expires after [`ASK_WAIT`]. A state opens
//! once: the nonces of states already opened are kept until they expire, so
//! a replayed one is refused. Every way a state can fail to open is one
//! answer to the client (the reason is logged). The key lives in this
//! process: a state made by another replica, or before a restart, does not
//! open, and the client starts the call again.
//!
//! Sampling is deprecated by SEP-2577 in 2026-07-28 but still an input
//! request the revision allows: a tool that samples is answered the same
//! way (rmcp marks its types deprecated).
#![allow(deprecated)]

use crate::Principal;
use crate::runtime::{ASK_WAIT, Answered, Question};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rmcp::ErrorData;
use rmcp::model::{
    CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequest,
    ElicitRequestParams, ElicitResult, InputRequest, InputRequests, InputRequiredResult,
    InputResponses, RequestStateCodec, SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// States opened and not yet expired, kept at most: past it a new round is
/// refused until some expire (a replay is never let through to make room).
const MAX_SPENT: usize = 100_000;
/// Longest `requestState` accepted, in bytes: ten answers of the largest
/// size, and some.
const MAX_STATE_BYTES: usize = 1024 * 1024;
/// Longest answer accepted, in bytes of JSON.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The one thing a client is told when its `requestState` does not open.
const INVALID_STATE: &str = "the requestState is not valid for this request (altered, expired, \
     already used, or made for another caller, tool, arguments or server): call the tool again \
     without it";

/// What a question asks for, so its answer can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Elicit,
    Sample,
}

/// A question asked in a round, by digest (hex).
#[derive(Debug, Serialize, Deserialize)]
struct Asked {
    /// Its key in `inputRequests` (and the client's `inputResponses`).
    key: String,
    kind: Kind,
    digest: String,
}

/// An answer of an earlier round.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    digest: String,
    answer: Value,
}

/// What a sealed `requestState` carries.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The answers of earlier rounds, in the order asked.
    answers: Vec<Answer>,
    /// The question this round asks.
    pending: Asked,
    /// Makes the state single-use.
    nonce: String,
}

/// The multi-round-trip requests of one server: the sealing key and the
/// states already opened.
pub(crate) struct Rounds {
    codec: RequestStateCodec,
    random: SystemRandom,
    /// Nonce of each state opened, with when it expires.
    spent: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for Rounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rounds").finish_non_exhaustive()
    }
}

/// Why a round was refused; the client sees only the message.
fn refuse(reason: &str, message: impl Into<String>) -> ErrorData {
    tracing::warn!(reason, "input_required round rejected");
    ErrorData::invalid_params(message.into(), None)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What a state is bound to: the caller, the tool and the arguments.
fn bound_to(who: &Principal, tool: &str, arguments: &Value) -> Vec<u8> {
    let arguments: [u8; 32] = Sha256::digest(arguments.to_string().as_bytes()).into();
    serde_json::to_vec(&(
        "tools/call",
        &who.subject,
        who.client_id.as_deref().unwrap_or(""),
        tool,
        hex(&arguments),
    ))
    .unwrap_or_default()
}

impl Rounds {
    /// Rounds sealed under a fresh random key.
    pub(crate) fn new() -> Self {
        let random = SystemRandom::new();
        let mut key = [0u8; 32];
        // The system's random source does not fail on the platforms the host
        // runs on; if it did, a zero key would let states be forged, so stop.
        random
            .fill(&mut key)
            .expect("the system random source failed");
        Rounds {
            codec: RequestStateCodec::try_new(key.to_vec()).expect("a 32-byte key"),
            random,
            spent: Mutex::new(HashMap::new()),
        }
    }

    /// The answers a call of `tool` with `arguments` by `who` has: none on
    /// a first request, else those of its `requestState` and the client's
    /// answer to the question it asked.
    pub(crate) fn answers(
        &self,
        who: &Principal,
        tool: &str,
        arguments: &Value,
        state: Option<&str>,
        responses: Option<&InputResponses>,
    ) -> Result<Vec<Answered>, ErrorData> {
        let Some(sealed) = state else {
            if responses.is_some_and(|r| !r.is_empty()) {
                return Err(refuse(
                    "inputResponses without requestState",
                    "inputResponses answer an input_required result: send them with its \
                     requestState",
                ));
            }
            return Ok(Vec::new());
        };
        if sealed.len() > MAX_STATE_BYTES {
            return Err(refuse("requestState too long", INVALID_STATE));
        }
        let state: State = self
            .codec
            .open_json_with(sealed, &bound_to(who, tool, arguments))
            .map_err(|e| refuse(&e.to_string(), INVALID_STATE))?;
        let Some(response) = responses.and_then(|r| r.get(&state.pending.key)) else {
            return Err(refuse(
                "no answer to the pending question",
                format!(
                    "inputResponses has no answer for {:?}, the question of this requestState",
                    state.pending.key
                ),
            ));
        };
        let answer = checked_answer(state.pending.kind, response)?;
        let mut answers = Vec::with_capacity(state.answers.len() + 1);
        for a in state.answers.into_iter().chain([Answer {
            digest: state.pending.digest,
            answer,
        }]) {
            // Sealed by this server: a bad digest is a bug, not an attack.
            let digest = unhex(&a.digest).ok_or_else(|| refuse("bad digest", INVALID_STATE))?;
            answers.push(Answered {
                digest,
                answer: a.answer,
            });
        }
        self.spend(state.nonce)?;
        Ok(answers)
    }

    /// Mark a state's nonce used; refuse one used before.
    fn spend(&self, nonce: String) -> Result<(), ErrorData> {
        let now = Instant::now();
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if spent.len() >= MAX_SPENT {
            spent.retain(|_, expires| *expires > now);
        }
        if spent.contains_key(&nonce) {
            return Err(refuse("requestState replayed", INVALID_STATE));
        }
        if spent.len() >= MAX_SPENT {
            return Err(refuse(
                "too many rounds in flight",
                "too many requests are waiting for input: try again in a few minutes",
            ));
        }
        spent.insert(nonce, now + ASK_WAIT);
        Ok(())
    }

    /// The `input_required` result for a call of `tool` with `arguments` by
    /// `who` that got `answers` and now asks `question`.
    pub(crate) fn ask(
        &self,
        who: &Principal,
        tool: &str,
        arguments: &Value,
        answers: Vec<Answered>,
        question: Question,
    ) -> Result<InputRequiredResult, String> {
        let key = format!("ask-{}", answers.len() + 1);
        let digest = hex(&question.digest());
        let (kind, request) = match question {
            Question::Elicit(params) => {
                let params: ElicitRequestParams = serde_json::from_value(params)
                    .map_err(|e| format!("its elicitation request is malformed: {e}"))?;
                (
                    Kind::Elicit,
                    InputRequest::Elicitation(ElicitRequest::new(params)),
                )
            }
            Question::Sample(params) => {
                let params: CreateMessageRequestParams = serde_json::from_value(params)
                    .map_err(|e| format!("its sampling request is malformed: {e}"))?;
                (
                    Kind::Sample,
                    InputRequest::CreateMessage(CreateMessageRequest::new(params)),
                )
            }
        };
        let mut nonce = [0u8; 16];
        (self.random.fill(&mut nonce)).map_err(|_| "the system random source failed")?;
        let state = State {
            answers: (answers.into_iter())
                .map(|a| Answer {
                    digest: hex(&a.digest),
                    answer: a.answer,
                })
                .collect(),
            pending: Asked {
                key: key.clone(),
                kind,
                digest,
            },
            nonce: hex(&nonce),
        };
        let bound = bound_to(who, tool, arguments);
        let sealed = self
            .codec
            .seal_json_with(
                &state,
                &SealOptions::new().associated_data(&bound).ttl(ASK_WAIT),
            )
            .map_err(|e| e.to_string())?;
        let requests: InputRequests = [(key, request)].into_iter().collect();
        Ok(InputRequiredResult::new(Some(requests), Some(sealed)))
    }
}

/// The client's answer to a question of `kind`, checked and bounded.
fn checked_answer(kind: Kind, response: &Value) -> Result<Value, ErrorData> {
    let bytes = response.to_string().len();
    if bytes > MAX_ANSWER_BYTES {
        return Err(refuse(
            "answer too long",
            format!("the answer is {bytes} bytes, over {MAX_ANSWER_BYTES}"),
        ));
    }
    let parsed = match kind {
        Kind::Elicit => serde_json::from_value::<ElicitResult>(response.clone())
            .map_err(|e| format!("is not an elicitation result: {e}"))
            .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())),
        Kind::Sample => serde_json::from_value::<CreateMessageResult>(response.clone())
            .map_err(|e| format!("is not a sampling result: {e}"))
            .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())),
    };
    parsed.map_err(|e| refuse("malformed answer", format!("the answer {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn question() -> Question {
        Question::Elicit(json!({
            "mode": "form",
            "message": "Delete it?",
            "requestedSchema": {"type": "object", "properties": {}}
        }))
    }

    fn accept() -> InputResponses {
        [(
            "ask-1".to_owned(),
            json!({"action": "accept", "content": {}}),
        )]
        .into_iter()
        .collect()
    }

    /// A first round's result: its state and the key asked.
    fn first(rounds: &Rounds, who: &Principal, args: &Value) -> (String, String) {
        let result = rounds
            .ask(who, "notes_delete", args, Vec::new(), question())
            .unwrap();
        let requests = result.input_requests.unwrap();
        let key = requests.keys().next().unwrap().clone();
        (result.request_state.unwrap(), key)
    }

    #[test]
    fn the_answer_comes_back_bound_to_the_question() {
        let rounds = Rounds::new();
        let alice = Principal::new("alice", ["member"]);
        let args = json!({"id": "n1"});
        let (state, key) = first(&rounds, &alice, &args);
        assert_eq!(key, "ask-1");
        let answers = rounds
            .answers(&alice, "notes_delete", &args, Some(&state), Some(&accept()))
            .unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].digest, question().digest());
        assert_eq!(answers[0].answer["action"], "accept");
    }

    #[test]
    fn a_state_opens_once_and_only_for_its_caller_tool_and_arguments() {
        let rounds = Rounds::new();
        let alice = Principal::new("alice", ["member"]);
        let bob = Principal::new("bob", ["member"]);
        let args = json!({"id": "n1"});
        let (state, _) = first(&rounds, &alice, &args);
        let open = |who: &Principal, tool: &str, args: &Value, state: &str| {
            rounds.answers(who, tool, args, Some(state), Some(&accept()))
        };
        for refused in [
            open(&bob, "notes_delete", &args, &state),
            open(&alice, "notes_list", &args, &state),
            open(&alice, "notes_delete", &json!({"id": "n2"}), &state),
        ] {
            assert!(refused.unwrap_err().message.contains("not valid"));
        }
        // Altered: one character of the tag changed.
        let mut altered = state.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(open(&alice, "notes_delete", &args, &altered).is_err());
        // Another server's state (another key) does not open either.
        let other = Rounds::new();
        let (foreign, _) = first(&other, &alice, &args);
        assert!(open(&alice, "notes_delete", &args, &foreign).is_err());
        // The right request opens it, once.
        assert!(open(&alice, "notes_delete", &args, &state).is_ok());
        let replayed = open(&alice, "notes_delete", &args, &state).unwrap_err();
        assert!(replayed.message.contains("already used"), "{replayed:?}");
    }

    #[test]
    fn answers_must_answer_the_question_asked() {
        let rounds = Rounds::new();
        let alice = Principal::new("alice", ["member"]);
        let args = json!({});
        let (state, _) = first(&rounds, &alice, &args);
        let missing = rounds
            .answers(&alice, "notes_delete", &args, Some(&state), None)
            .unwrap_err();
        assert!(
            missing.message.contains("no answer for \"ask-1\""),
            "{missing:?}"
        );
        let malformed: InputResponses = [("ask-1".to_owned(), json!({"action": "maybe"}))]
            .into_iter()
            .collect();
        let bad = rounds
            .answers(
                &alice,
                "notes_delete",
                &args,
                Some(&state),
                Some(&malformed),
            )
            .unwrap_err();
        assert!(bad.message.contains("not an elicitation result"), "{bad:?}");
        // Answers without a state are refused; neither is a first request.
        let stray = rounds
            .answers(&alice, "notes_delete", &args, None, Some(&accept()))
            .unwrap_err();
        assert!(stray.message.contains("requestState"), "{stray:?}");
        assert!(
            (rounds.answers(&alice, "notes_delete", &args, None, None))
                .unwrap()
                .is_empty()
        );
    }
}
