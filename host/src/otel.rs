//! OpenTelemetry trace export (the `otel` cargo feature): the host's spans,
//! among them one `tool_call` span per call (tool, request id, subject,
//! plugin version, decision, outcome, duration), sent over OTLP/HTTP with
//! protobuf to a collector.
//!
//! [`otlp_layer`] builds a [`tracing_subscriber::Layer`] to add beside the
//! embedder's other layers; [`layer_with_exporter`] builds the same layer
//! around any [`SpanExporter`] (an in-memory one in tests). Both return an
//! [`OtelGuard`]: keep it for the life of the program, and call
//! [`OtelGuard::shutdown`] (or drop it) at exit to send the spans still queued.
//!
//! The standard environment variables apply: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! (used as given) or `OTEL_EXPORTER_OTLP_ENDPOINT` (with `/v1/traces`
//! appended), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. The service name is
//! `toolhost` unless those say otherwise.
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//!
//! # fn main() -> Result<(), toolhost::otel::OtelError> {
//! let (otel, guard) = toolhost::otel::otlp_layer()?;
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::EnvFilter::new("info"))
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(otel)
//!     .init();
//! // … start the host and serve until shutdown …
//! guard.shutdown()?;
//! # Ok(()) }
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The generic endpoint variable: `/v1/traces` is appended to it.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The traces endpoint variable: used as given, and before [`ENDPOINT_VAR`].
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Where spans go when neither variable is set (the OTLP/HTTP default).
pub const DEFAULT_TRACES_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// The service name, unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`
/// names another.
pub const SERVICE_NAME: &str = "toolhost";

/// Why spans cannot be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtelError {
    /// An environment variable holds an unusable value.
    #[error("{variable}: {reason}")]
    Environment {
        /// The variable.
        variable: &'static str,
        /// Why its value is unusable (the value itself is not repeated when
        /// it may hold a secret).
        reason: String,
    },
    /// The OTLP exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
    /// Queued spans could not be sent, or the export could not be shut down.
    #[error("span export: {0}")]
    Flush(String),
}

/// The OTLP traces endpoint the environment names: the value of
/// [`TRACES_ENDPOINT_VAR`], else that of [`ENDPOINT_VAR`] with `/v1/traces`
/// appended; `None` when neither is set (or both are empty). Fails when the
/// endpoint is not an `http://` or `https://` URL.
pub fn traces_endpoint() -> Result<Option<String>, OtelError> {
    let var = |name: &'static str| match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(OtelError::Environment {
            variable: name,
            reason: "not valid Unicode".into(),
        }),
    };
    let (variable, endpoint) = if let Some(traces) = var(TRACES_ENDPOINT_VAR)? {
        (TRACES_ENDPOINT_VAR, traces)
    } else if let Some(base) = var(ENDPOINT_VAR)? {
        let traces = format!("{}/v1/traces", base.trim_end_matches('/'));
        (ENDPOINT_VAR, traces)
    } else {
        return Ok(None);
    };
    check_endpoint(&endpoint).map_err(|reason| OtelError::Environment { variable, reason })?;
    Ok(Some(endpoint))
}

/// An `http://` or `https://` URL with a host.
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("not a URL ({e}); expected e.g. http://collector:4318"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(
                "the URL must start with http:// or https:// (OTLP over HTTP; e.g. http://collector:4318)"
                    .into(),
            );
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL names no host".into());
    }
    Ok(())
}

/// `endpoint` fit for a log line: scheme, host, port and path, without any
/// user information or query (either may carry a credential).
pub fn redacted(endpoint: &str) -> String {
    let Ok(uri) = endpoint.parse::<http::Uri>() else {
        return "(unparsable endpoint)".into();
    };
    let host = uri.host().unwrap_or("");
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{host}{port}{}",
        uri.scheme_str().unwrap_or("?"),
        uri.path()
    )
}

/// Fails when the environment asks for an OTLP protocol other than the one
/// compiled in (HTTP with protobuf): the exporter would otherwise fall back
/// to it silently and send protobuf to, say, a gRPC port.
fn check_protocol() -> Result<(), OtelError> {
    for variable in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Ok(value) = std::env::var(variable) {
            let value = value.trim();
            if !value.is_empty() && !value.eq_ignore_ascii_case("http/protobuf") {
                return Err(OtelError::Environment {
                    variable,
                    reason: format!(
                        "{value:?} is not supported; toolhost exports OTLP over HTTP with protobuf \
                         (http/protobuf, port 4318 by default)"
                    ),
                });
            }
            // The traces variable, when set, decides.
            if !value.is_empty() {
                break;
            }
        }
    }
    Ok(())
}

/// A layer exporting spans over OTLP/HTTP (protobuf) to the endpoint the
/// environment names ([`traces_endpoint`]), or to
/// [`DEFAULT_TRACES_ENDPOINT`]. Headers (`OTEL_EXPORTER_OTLP_HEADERS`) and the
/// timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`) come from the environment too.
///
/// Spans are batched and sent from a thread of their own; no async runtime
/// is needed. Nothing is sent here: an unreachable collector shows later, as
/// warnings of the exporter. Fails on an unusable endpoint or protocol.
pub fn otlp_layer<S>() -> Result<(impl Layer<S> + Send + Sync + 'static, OtelGuard), OtelError>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    check_protocol()?;
    let endpoint = traces_endpoint()?.unwrap_or_else(|| DEFAULT_TRACES_ENDPOINT.to_owned());
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| OtelError::Exporter(e.to_string()))?;
    Ok(layer_with_exporter(exporter))
}

/// A layer exporting spans through `exporter` (any OpenTelemetry SDK span
/// exporter: OTLP built with the embedder's own settings, or
/// `opentelemetry_sdk::trace::InMemorySpanExporter` in tests), in batches,
/// with the resource attributes of [`otlp_layer`].
///
/// The layer leaves out the spans of the HTTP and OpenTelemetry crates
/// themselves, so that exporting never produces spans to export.
///
/// ```
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use tracing_subscriber::prelude::*;
///
/// let exporter = InMemorySpanExporter::default();
/// let (layer, guard) = toolhost::otel::layer_with_exporter(exporter.clone());
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("tool_call", tool = "notes_list").in_scope(|| {});
/// });
/// guard.force_flush().expect("flushed");
/// let spans = exporter.get_finished_spans().expect("spans");
/// assert_eq!(spans[0].name, "tool_call");
/// ```
pub fn layer_with_exporter<S, E>(exporter: E) -> (impl Layer<S> + Send + Sync + 'static, OtelGuard)
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    E: SpanExporter + 'static,
{
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("toolhost");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            !exporter_internals(meta.target())
        }));
    (
        layer,
        OtelGuard {
            provider: Some(provider),
        },
    )
}

/// The crates that export spans (or that they use to): their own spans are
/// not exported.
fn exporter_internals(target: &str) -> bool {
    ["opentelemetry", "hyper", "h2", "reqwest", "rustls"]
        .iter()
        .any(|c| target.starts_with(c))
}

/// The resource the spans of [`otlp_layer`] and [`layer_with_exporter`]
/// describe (to reuse with an embedder's own tracer or meter provider):
/// `service.name` [`SERVICE_NAME`] and `service.version` this crate's
/// version, unless the environment sets them (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`), and whatever else `OTEL_RESOURCE_ATTRIBUTES`
/// says.
pub fn resource() -> Resource {
    let detected = Resource::builder().build();
    let mut builder = Resource::builder();
    // Without a name from the environment the SDK makes up `unknown_service:<exe>`.
    let named = detected
        .get(&Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if !named {
        builder = builder.with_service_name(SERVICE_NAME);
    }
    if detected
        .get(&Key::from_static_str("service.version"))
        .is_none()
    {
        builder =
            builder.with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    }
    builder.build()
}

/// Owns the span export: [`OtelGuard::shutdown`], or dropping the guard,
/// sends the spans still queued (waiting up to 5 seconds) and stops the
/// export. Spans ended afterwards are dropped.
#[derive(Debug)]
#[must_use = "dropping the guard stops the export"]
pub struct OtelGuard {
    provider: Option<SdkTracerProvider>,
}

impl OtelGuard {
    /// Send the spans ended so far, and wait until they are sent.
    pub fn force_flush(&self) -> Result<(), OtelError> {
        match &self.provider {
            Some(provider) => provider
                .force_flush()
                .map_err(|e| OtelError::Flush(e.to_string())),
            None => Ok(()),
        }
    }

    /// Send the spans still queued, then stop the export.
    pub fn shutdown(mut self) -> Result<(), OtelError> {
        match self.provider.take() {
            Some(provider) => provider
                .shutdown()
                .map_err(|e| OtelError::Flush(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        assert!(check_endpoint("http://collector:4318/v1/traces").is_ok());
        assert!(check_endpoint("https://otel.example.com/v1/traces").is_ok());
        for bad in [
            "collector:4318",
            "grpc://collector:4317",
            "http://",
            "not a url",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn redaction_keeps_no_credentials() {
        assert_eq!(
            redacted("https://user:secret@otel.example.com:4318/v1/traces?key=secret"),
            "https://otel.example.com:4318/v1/traces"
        );
        assert_eq!(
            redacted("http://localhost:4318/v1/traces"),
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn the_exporters_own_spans_are_left_out() {
        assert!(exporter_internals("hyper_util::client::legacy"));
        assert!(exporter_internals("opentelemetry_sdk"));
        assert!(!exporter_internals("toolhost::transport::mcp"));
    }
}
