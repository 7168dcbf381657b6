//! Prometheus metrics, through the `metrics` facade.
//!
//! The host records with the `metrics` macros wherever something happens
//! (a call ends, an instance starts, a plugin loads, a token is refused, a
//! key set is fetched). [`install`] puts a Prometheus recorder in place once
//! per process; `GET /metrics` renders it in the text exposition format. An
//! embedder that installed its own recorder first gets these metrics in it,
//! and the host serves no `/metrics` of its own.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `toolhost_tool_calls_total` | counter | `tool`, `outcome` (`ok`, `tool_error`, `invalid_arguments`, `denied`, `timeout`, `memory_limit`, `trap`, `invalid_output`, `instantiate`, `busy`, `rate_limited`, `unknown_tool`) |
//! | `toolhost_tool_call_duration_seconds` | histogram | `tool` |
//! | `toolhost_instantiate_seconds` | histogram | `tool` |
//! | `toolhost_calls_in_flight` | gauge | |
//! | `toolhost_plugin_loads_total` | counter | `outcome` (`loaded`, `failed`, `removed`) |
//! | `toolhost_auth_rejections_total` | counter | `reason` |
//! | `toolhost_jwks_fetches_total` | counter | `outcome` (`ok`, `error`) |
//! | `toolhost_audit_queue_full_total` | counter | |
//! | `toolhost_audit_lost_total` | counter | |
//! | `toolhost_connections_refused_total` | counter | `reason` (`per_peer`) |

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Histogram buckets, in seconds: 50 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the Prometheus recorder (once per process) and return its
/// handle; `None` if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("the bucket list is not empty");
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; no /metrics here");
                    None
                }
            }
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "toolhost_tool_calls_total",
        "tools/call requests by tool and outcome"
    );
    describe_histogram!(
        "toolhost_tool_call_duration_seconds",
        Unit::Seconds,
        "Time from admission to result of a tool call"
    );
    describe_histogram!(
        "toolhost_instantiate_seconds",
        Unit::Seconds,
        "Time to instantiate a plugin for one call"
    );
    describe_gauge!(
        "toolhost_calls_in_flight",
        "Tool calls admitted and not yet finished"
    );
    describe_counter!(
        "toolhost_plugin_loads_total",
        "Plugin files loaded, failed or removed"
    );
    describe_counter!(
        "toolhost_auth_rejections_total",
        "Requests refused by authentication, by reason"
    );
    describe_counter!(
        "toolhost_jwks_fetches_total",
        "Fetches of the identity provider's key set"
    );
    describe_counter!(
        "toolhost_audit_queue_full_total",
        "Calls that found the audit queue full and waited for room"
    );
    describe_counter!(
        "toolhost_connections_refused_total",
        "Connections closed as they arrived, by reason"
    );
    describe_counter!(
        "toolhost_audit_lost_total",
        "Audit records lost (no room in time, or the database refused them)"
    );
}

/// `GET <path>` rendering `handle`.
pub fn router(handle: PrometheusHandle, path: &str) -> Router {
    Router::new().route(
        path,
        get(move || {
            let handle = handle.clone();
            async move {
                handle.run_upkeep();
                (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}
