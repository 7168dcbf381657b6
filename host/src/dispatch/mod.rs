//! The call pipeline: one way a tool call runs, whichever transport it came
//! from (Streamable HTTP, stdio, `toolhost call`).
//!
//! [`Dispatcher::call`] takes the verified principal, the tool name and the
//! arguments, and owns everything between the transport and the tool:
//! 1. a request id and a `tool_call` span;
//! 2. the registry lookup (an unknown tool is a protocol error);
//! 3. the policy's decision (roles, scopes, limits) and admission (rate
//!    limit, a concurrency slot);
//! 4. the call itself on a blocking thread: a fresh plugin instance, or a
//!    native tool;
//! 5. metrics, the span's outcome, and one audit record per call.
//!
//! The transports only adapt MCP messages to it and its [`CallOutcome`]
//! back.

pub mod audit;

use crate::Principal;
use crate::clock::SharedClock;
use crate::outbound::Outbound;
use crate::policy::{Decision, Denial, Policy, Rejection, Served};
use crate::registry::Registry;
use crate::runtime::{
    CallError, CallLinks, Cancel, EventSink, Limits, PromptOutput, ResourceContents, ToolOutput,
    prompt_label, resource_label,
};
use crate::storage::Store;
use crate::storage::audit::AuditRecord;
use audit::AuditLog;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How one call is to run. More settings arrive with later features
/// (progress, elicitation), so build it with `CallOptions::default()` and
/// set fields.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// The request id to use (in logs, the audit trail and the tool's
    /// context); by default the dispatcher makes one.
    pub request_id: Option<String>,
    /// Cancelled when the client cancels the request: the instance stops.
    /// Dropping the call's future (the client went away) stops it too.
    pub cancel: Option<CancellationToken>,
    /// Where the call's progress reports and log messages for the client
    /// go (nowhere by default).
    pub events: Option<EventSink>,
}

/// Raises a call's [`Cancel`] when dropped unless disarmed: a call whose
/// caller stopped waiting does not run on.
struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.cancel();
        }
    }
}

/// Why a call produced no output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallFailure {
    /// No tool has the name: a protocol error, not a tool result.
    #[error("unknown tool: {0:?}")]
    UnknownTool(String),
    /// No resource has the URI, and it matches no template.
    #[error("unknown resource: {0:?}")]
    UnknownResource(String),
    /// No prompt has the name.
    #[error("unknown prompt: {0:?}")]
    UnknownPrompt(String),
    /// The policy refused the call.
    #[error("{tool}: forbidden: {denial}")]
    Denied {
        /// The tool.
        tool: String,
        /// Why.
        denial: Denial,
    },
    /// Admission refused the call (rate limit, no free slot).
    #[error("{tool}: {rejection}")]
    Rejected {
        /// The tool.
        tool: String,
        /// Why.
        rejection: Rejection,
    },
    /// The call ran and failed: the tool's own error, or the host's verdict
    /// on the plugin (trap, limit, bad result).
    #[error(transparent)]
    Failed(#[from] CallError),
}

impl CallFailure {
    /// The outcome's short name, for metrics and the audit trail.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallFailure::UnknownTool(_) => "unknown_tool",
            CallFailure::UnknownResource(_) => "unknown_resource",
            CallFailure::UnknownPrompt(_) => "unknown_prompt",
            CallFailure::Denied { .. } => "denied",
            CallFailure::Rejected { rejection, .. } => rejection.reason(),
            CallFailure::Failed(e) => e.kind(),
        }
    }
}

/// What a call produced.
pub type CallOutcome = Result<ToolOutput, CallFailure>;

/// One request for the pipeline: what it is for and what the policy said.
struct Job<F> {
    /// Its name in the span, metrics and the audit trail: the tool name,
    /// `resource <uri or template>` or `prompt <name>`.
    label: String,
    /// What serves it; `None` when nothing serves what was asked for.
    found: Option<Found<F>>,
    /// The failure when nothing serves it.
    unknown: CallFailure,
    /// What to record as its arguments, when the audit trail records them.
    arguments: Option<String>,
}

/// What serves a request: the version, the policy's decision and the work
/// to run if it is allowed.
struct Found<F> {
    version: String,
    decision: Decision,
    work: F,
}

/// What the work of an admitted request gets, on its blocking thread.
struct Run {
    principal: Principal,
    request_id: String,
    limits: Limits,
    store: Store,
    links: CallLinks,
}

/// The pipeline of one host. Cheap to share behind an `Arc`.
pub struct Dispatcher {
    registry: Registry,
    policy: Arc<Policy>,
    /// The store native tools use (plugins reach it through the runtime).
    store: Store,
    audit: Option<Arc<AuditLog>>,
    /// Record each call's arguments in the audit trail.
    audit_arguments: bool,
    clock: SharedClock,
    next_request: AtomicU64,
    in_flight: Arc<InFlight>,
    outbound: Arc<Outbound>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("registry", &self.registry)
            .field("in_flight", &self.in_flight.count())
            .finish_non_exhaustive()
    }
}

/// Work begun and not finished (calls, requests), and a way to wait until
/// there is none: what a graceful shutdown waits for.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    drained: Notify,
    /// The gauge that shows the count, if any.
    gauge: Option<&'static str>,
}

impl InFlight {
    /// A counter shown as the gauge `name`.
    pub fn with_gauge(name: &'static str) -> Self {
        InFlight {
            gauge: Some(name),
            ..InFlight::default()
        }
    }

    /// How many are in flight now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Wait until none is in flight.
    pub async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Count one more until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        let now = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(name) = self.gauge {
            metrics::gauge!(name).set(now as f64);
        }
        InFlightGuard(self.clone())
    }
}

/// Counts one piece of work as in flight until dropped.
#[derive(Debug)]
pub struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let now = self.0.count.fetch_sub(1, Ordering::SeqCst) - 1;
        if let Some(name) = self.0.gauge {
            metrics::gauge!(name).set(now as f64);
        }
        if now == 0 {
            self.0.drained.notify_waiters();
        }
    }
}

/// Longest tool name (or client id) kept in records: it comes from the
/// client.
const MAX_RECORDED_NAME: usize = 128;
/// Longest subject kept in records.
const MAX_RECORDED_SUBJECT: usize = crate::principal::MAX_SUBJECT_BYTES;

impl Dispatcher {
    /// A pipeline over `registry` under `policy`; native tools use `store`;
    /// records go to `audit` (with the arguments when `audit_arguments`).
    pub fn new(
        registry: Registry,
        policy: Arc<Policy>,
        store: Store,
        audit: Option<Arc<AuditLog>>,
        audit_arguments: bool,
        clock: SharedClock,
    ) -> Self {
        Dispatcher {
            registry,
            policy,
            store,
            audit,
            audit_arguments,
            clock,
            next_request: AtomicU64::new(1),
            in_flight: Arc::new(InFlight::with_gauge("toolhost_calls_in_flight")),
            outbound: Outbound::none(),
        }
    }

    /// Calls reach the APIs of `outbound` that the policy grants their
    /// tool (without it, none).
    pub fn with_outbound(mut self, outbound: Arc<Outbound>) -> Self {
        self.outbound = outbound;
        self
    }

    /// The registry calls are served from.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The policy calls are decided by.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The calls running now.
    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// The audit trail's writer, when on.
    pub fn audit(&self) -> Option<&Arc<AuditLog>> {
        self.audit.as_ref()
    }

    /// Run one call of `tool` by `principal` with `arguments` (a JSON
    /// object, or `null` for none).
    pub async fn call(
        &self,
        principal: &Principal,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> CallOutcome {
        let recorded = self.audit_arguments.then(|| arguments.to_string());
        let found = self.registry.entry(tool).map(|entry| Found {
            version: entry.version().to_owned(),
            decision: self.policy.decide(principal, entry.info()),
            work: move |run: Run| {
                entry.call(
                    &run.principal,
                    &run.request_id,
                    &arguments,
                    &run.limits,
                    &run.store,
                    &run.links,
                )
            },
        });
        let job = Job {
            label: tool.to_owned(),
            found,
            unknown: CallFailure::UnknownTool(tool.to_owned()),
            arguments: recorded,
        };
        self.run(principal, job, options).await
    }

    /// Read the resource at `uri` for `principal`: the resource at that
    /// URI, else the first template it matches; policy, limits, audit and
    /// cancellation as for a tool call.
    pub async fn read_resource(
        &self,
        principal: &Principal,
        uri: &str,
        options: CallOptions,
    ) -> Result<ResourceContents, CallFailure> {
        let snapshot = self.registry.snapshot();
        let resolved = snapshot.resolve(uri).map(|(e, r)| (e.clone(), r));
        let label = match &resolved {
            Some((entry, _)) => resource_label(entry.key()),
            None => resource_label(uri),
        };
        let found = resolved.map(|(entry, request)| {
            let served = Served::Resource {
                key: entry.key(),
                roles: entry.roles(),
            };
            Found {
                version: entry.component().version().to_owned(),
                decision: self.policy.decide_served(principal, &served),
                work: move |run: Run| {
                    entry.component().read_resource(
                        &run.principal,
                        &run.request_id,
                        &request,
                        &run.limits,
                        &run.links,
                    )
                },
            }
        });
        let job = Job {
            label,
            found,
            unknown: CallFailure::UnknownResource(uri.to_owned()),
            arguments: self
                .audit_arguments
                .then(|| json!({ "uri": uri }).to_string()),
        };
        self.run(principal, job, options).await
    }

    /// Get the prompt `name` filled in with `arguments` for `principal`;
    /// policy, limits, audit and cancellation as for a tool call.
    pub async fn get_prompt(
        &self,
        principal: &Principal,
        name: &str,
        arguments: Vec<(String, String)>,
        options: CallOptions,
    ) -> Result<PromptOutput, CallFailure> {
        let recorded = self.audit_arguments.then(|| {
            let map: serde_json::Map<String, Value> = (arguments.iter())
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            Value::Object(map).to_string()
        });
        let entry = self.registry.snapshot().prompt(name).cloned();
        let found = entry.map(|entry| {
            let served = Served::Prompt {
                name,
                roles: &entry.info().roles,
            };
            let decision = self.policy.decide_served(principal, &served);
            let name = name.to_owned();
            Found {
                version: entry.component().version().to_owned(),
                decision,
                work: move |run: Run| {
                    entry.component().get_prompt(
                        &run.principal,
                        &run.request_id,
                        &name,
                        &arguments,
                        &run.limits,
                        &run.links,
                    )
                },
            }
        });
        let job = Job {
            label: prompt_label(name),
            found,
            unknown: CallFailure::UnknownPrompt(name.to_owned()),
            arguments: recorded,
        };
        self.run(principal, job, options).await
    }

    /// The pipeline every request runs: request id and span, the policy's
    /// decision, admission, `work` on a blocking thread (stopped when the
    /// client cancels or goes away), metrics and the audit record. `work`
    /// runs only when the job's target was found and allowed.
    async fn run<T, F>(
        &self,
        principal: &Principal,
        job: Job<F>,
        options: CallOptions,
    ) -> Result<T, CallFailure>
    where
        T: Send + 'static,
        F: FnOnce(Run) -> Result<T, CallError> + Send + 'static,
    {
        let Job {
            label,
            found,
            unknown,
            arguments,
        } = job;
        let tool = label.as_str();
        let request_id = options.request_id.unwrap_or_else(|| {
            format!(
                "{}-{}",
                std::process::id(),
                self.next_request.fetch_add(1, Ordering::Relaxed)
            )
        });
        let span = tracing::info_span!(
            "tool_call",
            tool,
            request_id,
            subject = principal.subject.as_str(),
            version = tracing::field::Empty,
            decision = tracing::field::Empty,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let mut record = AuditRecord {
            at_ms: self.clock.unix_millis(),
            request_id: request_id.clone(),
            // Bounded: tokens' subjects are (auth refuses longer ones), but
            // stdio's comes from the configuration.
            subject: principal
                .subject
                .chars()
                .take(MAX_RECORDED_SUBJECT)
                .collect(),
            client_id: (principal.client_id.as_deref())
                .map(|c| c.chars().take(MAX_RECORDED_NAME).collect()),
            tool: tool.chars().take(MAX_RECORDED_NAME).collect(),
            version: None,
            decision: "rejected".into(),
            reason: None,
            outcome: String::new(),
            duration_us: 0,
            arguments,
        };
        let Some(Found {
            version,
            decision,
            work,
        }) = found
        else {
            let reason = unknown.outcome().replace('_', " ");
            span.in_scope(|| tracing::info!(reason = reason.as_str(), "call rejected"));
            record.reason = Some(reason);
            self.finish(&span, record, &Err(unknown.outcome()), false)
                .await;
            return Err(unknown);
        };
        span.record("version", version.as_str());
        record.version = Some(version.clone());
        let allowed = match decision {
            Ok(allowed) => allowed,
            Err(denial) => {
                span.in_scope(|| {
                    tracing::warn!(reason = denial.to_string().as_str(), "call denied")
                });
                record.decision = "denied".into();
                record.reason = Some(denial.to_string());
                let failure = CallFailure::Denied {
                    tool: tool.to_owned(),
                    denial,
                };
                self.finish(&span, record, &Err(failure.outcome()), true)
                    .await;
                return Err(failure);
            }
        };
        let in_flight = self.in_flight.enter();
        let admitted = match self.policy.admit(&principal.subject, &allowed).await {
            Ok(admitted) => admitted,
            Err(rejection) => {
                span.in_scope(|| {
                    tracing::warn!(
                        reason = rejection.reason(),
                        detail = rejection.to_string().as_str(),
                        "call rejected"
                    )
                });
                record.reason = Some(rejection.to_string());
                let failure = CallFailure::Rejected {
                    tool: tool.to_owned(),
                    rejection,
                };
                self.finish(&span, record, &Err(failure.outcome()), true)
                    .await;
                return Err(failure);
            }
        };
        record.decision = "allowed".into();
        let started = std::time::Instant::now();
        let outcome = {
            let limits = allowed.limits;
            let grant = span.in_scope(|| {
                self.outbound.grant(
                    tool,
                    principal,
                    &allowed.apis,
                    &request_id,
                    limits.http_requests,
                    started + limits.timeout(),
                )
            });
            let links = CallLinks {
                grant: Some(grant),
                cancel: Cancel::new(),
                events: options.events,
                config: allowed.config,
            };
            let guard = CancelOnDrop(Some(links.cancel.clone()));
            let stop = links.cancel.clone();
            let run = Run {
                principal: principal.clone(),
                request_id,
                limits,
                store: self.store.clone(),
                links,
            };
            let span_inside = span.clone();
            let mut running = tokio::task::spawn_blocking(move || {
                // The call counts as in flight and holds its slot until its
                // instance is gone, even if its caller stopped waiting.
                let _held = (in_flight, admitted);
                let _entered = span_inside.enter();
                crate::storage::blocking_section(|| work(run))
            });
            let token = options.cancel.unwrap_or_default();
            let joined = tokio::select! {
                joined = &mut running => joined,
                () = token.cancelled() => {
                    tracing::info!(tool, reason = "the client cancelled the request", "stopping the call");
                    stop.cancel();
                    running.await
                }
            };
            guard.disarm();
            joined.unwrap_or_else(|e| {
                Err(CallError::Trap {
                    tool: tool.to_owned(),
                    version,
                    kind: format!("the call's thread failed: {e}"),
                })
            })
        };
        let elapsed = started.elapsed();
        record.duration_us = elapsed.as_micros() as u64;
        span.in_scope(|| match &outcome {
            Ok(_) => tracing::debug!("call ok"),
            Err(e) => tracing::info!(error = e.to_string().as_str(), "call failed"),
        });
        metrics::histogram!("toolhost_tool_call_duration_seconds", "tool" => tool.to_owned())
            .record(elapsed.as_secs_f64());
        let outcome = outcome.map_err(CallFailure::Failed);
        let kind = outcome.as_ref().map(|_| ()).map_err(CallFailure::outcome);
        self.finish(&span, record, &kind, true).await;
        outcome
    }

    /// Count the call, close its span's fields and append it to the audit
    /// trail. `known` says whether the tool exists (only then is its name a
    /// metric label: unknown names come from clients).
    async fn finish(
        &self,
        span: &tracing::Span,
        mut record: AuditRecord,
        outcome: &Result<(), &'static str>,
        known: bool,
    ) {
        let outcome = match outcome {
            Ok(()) => "ok",
            Err(kind) => kind,
        };
        record.outcome = outcome.to_owned();
        span.record("decision", record.decision.as_str());
        span.record("outcome", outcome);
        span.record("duration_us", record.duration_us);
        span.record(
            "otel.status_code",
            if outcome == "ok" { "OK" } else { "ERROR" },
        );
        let tool = if known {
            record.tool.clone()
        } else {
            "(unknown)".to_owned()
        };
        metrics::counter!("toolhost_tool_calls_total", "tool" => tool, "outcome" => outcome)
            .increment(1);
        if let Some(log) = &self.audit {
            log.record(record).await;
        }
    }
}
