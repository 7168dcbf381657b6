//! Outbound HTTP: tools call the APIs the operator declares, as the caller,
//! with credentials the host holds.
//!
//! The operator declares each API once (`[apis.<name>]`: a URL prefix, how
//! the host authenticates, limits) and grants it per tool
//! (`[tools.<name>] apis = [...]`). Nothing else is reachable. For every
//! request a tool makes (over standard `wasi:http`, see
//! `runtime::capabilities::http`), [`Grant::authorize`] decides:
//! 1. the URL, normalised ([`url::normalise`]), falls under a granted API's
//!    prefix, with a method the API allows;
//! 2. the guest set no header that carries credentials or routing
//!    (`Authorization`, `Cookie`, `Proxy-*`, `Host`, the API's own header);
//! 3. the call has requests left, and the API a free slot;
//!
//! then [`Authorized::send`] attaches the credential (a caller token minted
//! for the principal, or the API's secret header), sends it through the
//! API's client (a name resolves only to public addresses unless the API
//! allows private ones; redirects are never followed), under the API's
//! timeout clamped to what is left of the call, and caps the response body.
//! Every request, sent or refused, goes to the audit trail, the metrics
//! (`toolhost_outbound_requests_total{api,outcome}`,
//! `toolhost_outbound_request_duration_seconds{api}`) and a span under the
//! call's.

pub mod address;
pub mod credential;
pub mod url;

use crate::Principal;
use crate::clock::SharedClock;
use crate::storage::audit::AuditRecord;
use address::{CheckedResolver, PrivateAddress, Resolver};
use bytes::Bytes;
use credential::CallerTokens;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::{ApiUrl, Target};

/// `[apis.<name>]`: one API tools may be granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Scheme, host, port and path prefix a request must fall under.
    pub url: String,
    /// How the host authenticates requests to it.
    pub auth: ApiAuth,
    /// `aud` of the caller token (`auth = "caller"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The header the secret goes in (`auth = "header"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The environment variable holding the secret (`auth = "header"`),
    /// read once at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_env: Option<String>,
    /// Longest a request may take, answer included, in milliseconds; the
    /// call's own deadline still wins.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest response body, in bytes: a larger one is an error, never a
    /// truncated body.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Largest request body a tool may send, in bytes.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Methods allowed (upper case); absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Let a DNS name resolve to loopback, private or link-local addresses.
    #[serde(default)]
    pub allow_private: bool,
    /// Requests to this API in flight at once, all calls together; a request
    /// past it waits (within its timeout) for one to finish.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
}

fn default_timeout_ms() -> u64 {
    10_000
}
fn default_max_response_bytes() -> usize {
    4 << 20
}
fn default_max_request_bytes() -> usize {
    1 << 20
}
fn default_max_concurrent() -> u32 {
    64
}

/// How the host authenticates a tool's requests to an API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiAuth {
    /// A caller token: a JWT the host mints for the calling principal.
    Caller,
    /// The caller's own upstream (Clerk) access token, held by the OAuth
    /// proxy. Not available yet: configuring it is an error.
    Clerk,
    /// A static secret from the environment, in a header.
    Header,
    /// Nothing.
    None,
}

/// The credential one API gets, resolved.
#[derive(Clone)]
pub enum Credential {
    /// A caller token for this audience.
    Caller {
        /// The token's `aud`.
        audience: String,
    },
    /// This header with this (secret) value.
    Header {
        /// The header.
        name: HeaderName,
        /// The secret, marked sensitive.
        value: HeaderValue,
    },
    /// Nothing attached.
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Caller { audience } => write!(f, "Caller({audience:?})"),
            Credential::Header { name, .. } => write!(f, "Header({name}: <hidden>)"),
            Credential::None => f.write_str("None"),
        }
    }
}

/// One API, resolved from its configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Its name.
    pub name: String,
    /// The prefix requests must fall under.
    pub url: ApiUrl,
    /// What the host attaches.
    pub credential: Credential,
    /// Longest a request may take.
    pub timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: usize,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Methods allowed; `None`: all.
    pub methods: Option<Vec<Method>>,
    /// Names may resolve to non-public addresses.
    pub allow_private: bool,
    /// Requests in flight at once.
    pub max_concurrent: u32,
}

/// Longest `timeout_ms` accepted: five minutes.
pub const MAX_TIMEOUT_MS: u64 = 300_000;

/// The rule [`is_api_name`] checks, for error messages.
pub const API_NAME_RULE: &str = "an API name is 1 to 32 of a-z, 0-9, '_', starting with a letter";

/// Whether `name` can name an API: 1 to 32 of `a-z`, `0-9`, `_`, starting
/// with a letter (it becomes part of an environment variable's name).
pub fn is_api_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The environment variable a tool finds an API's URL in.
pub fn url_variable(api: &str) -> String {
    format!("TOOLHOST_API_{}_URL", api.to_ascii_uppercase())
}

impl ApiSettings {
    /// Check `[apis.<name>]`, reading its secret from the environment
    /// through `env`. `resource` is this server's own MCP resource URL,
    /// which a caller token's audience may not be. Errors are `(key, reason)`.
    pub fn resolve(
        name: &str,
        config: &ApiConfig,
        resource: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ApiSettings, (String, String)> {
        let key = |field: &str| format!("apis.{name}.{field}");
        if !is_api_name(name) {
            return Err((format!("apis.{name}"), API_NAME_RULE.into()));
        }
        let url = ApiUrl::parse(&config.url).map_err(|e| (key("url"), e))?;
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let credential = match config.auth {
            ApiAuth::Caller => {
                let Some(audience) = config
                    .audience
                    .clone()
                    .filter(|_| present(&config.audience))
                else {
                    return Err((
                        key("audience"),
                        "auth = \"caller\" needs the audience the application checks (its `aud`)"
                            .into(),
                    ));
                };
                let trimmed = audience.trim_end_matches('/');
                if trimmed == resource || trimmed == resource.trim_end_matches("/mcp") {
                    return Err((
                        key("audience"),
                        format!(
                            "{audience:?} is this server's own resource: a caller token must not be usable here"
                        ),
                    ));
                }
                Credential::Caller { audience }
            }
            ApiAuth::Clerk => {
                return Err((
                    key("auth"),
                    "\"clerk\" (the caller's upstream token) is not available in this version; \
                     use \"caller\" and verify toolhost's caller token in the application"
                        .into(),
                ));
            }
            ApiAuth::Header => {
                let header = config.header.as_deref().filter(|h| !h.trim().is_empty());
                let (Some(header), Some(var)) = (header, config.value_env.as_deref()) else {
                    return Err((
                        key("value_env"),
                        "auth = \"header\" needs `header` (its name) and `value_env` (the \
                         environment variable holding the secret)"
                            .into(),
                    ));
                };
                let name = HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| (key("header"), format!("{header:?} is not a header name")))?;
                let secret = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                    (
                        key("value_env"),
                        format!("the environment variable {var} is not set (or empty)"),
                    )
                })?;
                let mut value = HeaderValue::from_str(&secret).map_err(|_| {
                    (
                        key("value_env"),
                        format!("the value of {var} is not a valid header value"),
                    )
                })?;
                value.set_sensitive(true);
                Credential::Header { name, value }
            }
            ApiAuth::None => Credential::None,
        };
        if config.timeout_ms == 0 || config.timeout_ms > MAX_TIMEOUT_MS {
            return Err((
                key("timeout_ms"),
                format!("must be between 1 and {MAX_TIMEOUT_MS}"),
            ));
        }
        for (field, value) in [
            ("max_response_bytes", config.max_response_bytes),
            ("max_request_bytes", config.max_request_bytes),
        ] {
            if value < 1024 {
                return Err((key(field), "must be at least 1024".into()));
            }
        }
        if config.max_concurrent == 0 {
            return Err((key("max_concurrent"), "must be greater than 0".into()));
        }
        let methods = match &config.methods {
            None => None,
            Some(list) if list.is_empty() => {
                return Err((
                    key("methods"),
                    "an empty list allows nothing; leave it out to allow every method".into(),
                ));
            }
            Some(list) => Some(
                list.iter()
                    .map(|m| {
                        Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                            .map_err(|_| (key("methods"), format!("{m:?} is not an HTTP method")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(ApiSettings {
            name: name.to_owned(),
            url,
            credential,
            timeout: Duration::from_millis(config.timeout_ms),
            max_response_bytes: config.max_response_bytes,
            max_request_bytes: config.max_request_bytes,
            methods,
            allow_private: config.allow_private,
            max_concurrent: config.max_concurrent,
        })
    }

    fn needs_caller_tokens(&self) -> bool {
        matches!(self.credential, Credential::Caller { .. })
    }
}

/// Why a tool's request failed. The message is what the tool sees.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// A rule refused it; nothing was sent.
    #[error("toolhost refused the request to {origin}: {rule}")]
    Refused {
        /// The URL's origin, as the guest gave it.
        origin: String,
        /// The rule.
        rule: String,
    },
    /// It took longer than allowed.
    #[error("the request to {origin} took longer than {limit_ms} ms ({why})")]
    Timeout {
        /// The origin.
        origin: String,
        /// The limit that ran out.
        limit_ms: u128,
        /// Which limit.
        why: &'static str,
    },
    /// The answer's body is over the API's limit.
    #[error(
        "the response from {origin} is larger than the limit of {limit} bytes (max_response_bytes of API {api})"
    )]
    TooLarge {
        /// The origin.
        origin: String,
        /// The API.
        api: String,
        /// The limit.
        limit: usize,
    },
    /// The request body is over the API's limit.
    #[error("the request body to {origin} is larger than the limit of {limit} bytes")]
    RequestTooLarge {
        /// The origin.
        origin: String,
        /// The limit.
        limit: usize,
    },
    /// The API could not be reached or broke off.
    #[error("the request to {origin} failed: {reason}")]
    Failed {
        /// The origin.
        origin: String,
        /// Why.
        reason: String,
    },
}

impl OutboundError {
    /// The metric label.
    pub fn outcome(&self) -> &'static str {
        match self {
            OutboundError::Refused { .. } => "refused",
            OutboundError::Timeout { .. } => "timeout",
            OutboundError::TooLarge { .. } | OutboundError::RequestTooLarge { .. } => "too_large",
            OutboundError::Failed { .. } => "failed",
        }
    }
}

/// The resolved `[apis]` of a host.
#[derive(Debug, Clone, Default)]
pub struct OutboundSettings {
    /// Every API, by name.
    pub apis: BTreeMap<String, ApiSettings>,
}

impl OutboundSettings {
    /// Whether some API is authenticated with caller tokens.
    pub fn needs_caller_tokens(&self) -> bool {
        self.apis.values().any(ApiSettings::needs_caller_tokens)
    }
}

struct Api {
    settings: ApiSettings,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
}

/// The outbound service of one host: every API's client, and the caller
/// tokens. Shared by every call.
pub struct Outbound {
    apis: BTreeMap<String, Arc<Api>>,
    tokens: Option<Arc<CallerTokens>>,
    audit: Option<AuditSink>,
    clock: SharedClock,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("apis", &self.apis.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Where outbound requests are recorded (the audit trail's writer): called
/// from code that cannot wait, so it must not block.
pub type AuditSink = Arc<dyn Fn(AuditRecord) + Send + Sync>;

/// Headers a tool may not set: the host owns credentials and routing.
fn reserved_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "authorization"
        || n == "cookie"
        || n == "host"
        || n.starts_with("proxy-")
        || n == "forwarded"
        || n.starts_with("x-forwarded-")
}

impl Outbound {
    /// An outbound service with no API: every request is refused.
    pub fn none() -> Arc<Outbound> {
        Arc::new(Outbound {
            apis: BTreeMap::new(),
            tokens: None,
            audit: None,
            clock: crate::clock::system(),
        })
    }

    /// The service for `settings`, with the system's resolver, signing
    /// caller tokens (when an API uses them) as `issuer` with the key in
    /// `<data_dir>/oauth-signing.p8` (created if missing; the one the OAuth
    /// proxy signs with, published at `/oauth/jwks.json`). Blocking (it may
    /// read the key file). Returns the key too, for the JWKS route.
    pub fn open(
        settings: &OutboundSettings,
        data_dir: Option<&std::path::Path>,
        issuer: &str,
        audit: Option<AuditSink>,
        clock: SharedClock,
    ) -> Result<(Arc<Outbound>, Option<Arc<crate::signing::SigningKey>>), String> {
        let key = match (settings.needs_caller_tokens(), data_dir) {
            (false, _) => None,
            (true, None) => {
                return Err(
                    "an API uses auth = \"caller\": caller tokens are signed with the \
                            key in the data directory, so give one (--data)"
                        .into(),
                );
            }
            (true, Some(dir)) => {
                let path = dir.join(crate::signing::SIGNING_KEY_FILE);
                let key = crate::signing::SigningKey::open(&path).map_err(|e| e.to_string())?;
                Some(Arc::new(key))
            }
        };
        let tokens = key
            .clone()
            .map(|key| Arc::new(CallerTokens::new(key, issuer.to_owned(), clock.clone())));
        let outbound = Outbound::new(
            settings,
            tokens,
            Arc::new(address::SystemResolver),
            audit,
            clock,
        )?;
        Ok((outbound, key))
    }

    /// The service for `settings`. `tokens` must be there when an API uses
    /// caller tokens; `resolver` resolves API host names.
    pub fn new(
        settings: &OutboundSettings,
        tokens: Option<Arc<CallerTokens>>,
        resolver: Arc<dyn Resolver>,
        audit: Option<AuditSink>,
        clock: SharedClock,
    ) -> Result<Arc<Outbound>, String> {
        if settings.needs_caller_tokens() && tokens.is_none() {
            return Err("an API uses caller tokens but no signing key was given".into());
        }
        let mut apis = BTreeMap::new();
        for (name, api) in &settings.apis {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(CheckedResolver {
                    inner: resolver.clone(),
                    allow_private: api.allow_private,
                })
                .connect_timeout(api.timeout)
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(api.max_concurrent as usize)
                .user_agent(concat!("toolhost/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("API {name}: cannot build its HTTP client: {e}"))?;
            apis.insert(
                name.clone(),
                Arc::new(Api {
                    slots: Arc::new(Semaphore::new(api.max_concurrent as usize)),
                    settings: api.clone(),
                    client,
                }),
            );
        }
        Ok(Arc::new(Outbound {
            apis,
            tokens,
            audit,
            clock,
        }))
    }

    /// What one call of `tool` by `principal` may reach: the APIs named in
    /// `apis` (unknown names grant nothing), at most `max_requests`
    /// requests, until `deadline`.
    pub fn grant(
        self: &Arc<Self>,
        tool: &str,
        principal: &Principal,
        apis: &[String],
        request_id: &str,
        max_requests: u32,
        deadline: Instant,
    ) -> Arc<Grant> {
        Arc::new(Grant {
            outbound: self.clone(),
            tool: tool.to_owned(),
            principal: principal.clone(),
            request_id: request_id.to_owned(),
            apis: apis
                .iter()
                .filter_map(|name| self.apis.get(name).cloned())
                .collect(),
            max_requests,
            sent: AtomicU32::new(0),
            deadline,
            span: tracing::Span::current(),
        })
    }
}

/// What one call may reach. Made per call, by the dispatcher.
pub struct Grant {
    outbound: Arc<Outbound>,
    tool: String,
    principal: Principal,
    request_id: String,
    apis: Vec<Arc<Api>>,
    max_requests: u32,
    sent: AtomicU32,
    deadline: Instant,
    span: tracing::Span,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("tool", &self.tool)
            .field(
                "apis",
                &self
                    .apis
                    .iter()
                    .map(|a| &a.settings.name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A request that passed every rule, not yet sent.
pub struct Authorized {
    grant: Arc<Grant>,
    api: Arc<Api>,
    method: Method,
    target: Target,
    headers: HeaderMap,
    /// The limit that applies (the API's, or what was left of the call).
    limit: Duration,
    /// What is left of it once a slot was free.
    timeout: Duration,
    started: Instant,
    _slot: OwnedSemaphorePermit,
}

impl Authorized {
    /// The largest request body the API takes.
    pub fn max_request_bytes(&self) -> usize {
        self.api.settings.max_request_bytes
    }

    /// The origin, for messages.
    pub fn origin(&self) -> &str {
        &self.target.origin
    }
}

impl Grant {
    /// The environment the tool runs with: each granted API's URL in
    /// `TOOLHOST_API_<NAME>_URL`.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.apis
            .iter()
            .map(|a| (url_variable(&a.settings.name), a.settings.url.base()))
            .collect()
    }

    /// The names of the granted APIs.
    pub fn api_names(&self) -> Vec<&str> {
        self.apis.iter().map(|a| a.settings.name.as_str()).collect()
    }

    fn refuse(
        &self,
        api: Option<&str>,
        method: &Method,
        uri: &http::Uri,
        rule: String,
    ) -> OutboundError {
        let origin = match (uri.scheme_str(), uri.authority()) {
            // Never a user name or password, even one the tool put there.
            (Some(s), Some(a)) => match a.port() {
                Some(port) => format!("{s}://{}:{port}", a.host()),
                None => format!("{s}://{}", a.host()),
            },
            _ => "(a URL without scheme or host)".into(),
        };
        let api = api.unwrap_or("(none)");
        self.span.in_scope(|| {
            tracing::warn!(
                tool = self.tool.as_str(),
                request_id = self.request_id.as_str(),
                api,
                method = %method,
                origin = ?origin,
                reason = rule.as_str(),
                "outbound request refused"
            )
        });
        metrics::counter!("toolhost_outbound_requests_total", "api" => api.to_owned(), "outcome" => "refused")
            .increment(1);
        self.audit(
            api,
            method,
            uri.path(),
            "refused",
            Some(rule.clone()),
            0,
            Duration::ZERO,
        );
        OutboundError::Refused { origin, rule }
    }

    #[allow(clippy::too_many_arguments)]
    fn audit(
        &self,
        api: &str,
        method: &Method,
        path: &str,
        outcome: &str,
        reason: Option<String>,
        bytes: u64,
        took: Duration,
    ) {
        let Some(sink) = &self.outbound.audit else {
            return;
        };
        let path: String = path.chars().take(256).collect();
        sink(AuditRecord {
            at_ms: self.outbound.clock.unix_millis(),
            request_id: self.request_id.clone(),
            subject: self.principal.subject.clone(),
            client_id: self.principal.client_id.clone(),
            tool: self.tool.clone(),
            version: None,
            decision: if outcome == "refused" {
                "outbound_refused"
            } else {
                "outbound"
            }
            .into(),
            reason: Some(match reason {
                Some(r) => format!("api={api} {method} {path}: {r}"),
                None => format!("api={api} {method} {path} bytes={bytes}"),
            }),
            outcome: outcome.to_owned(),
            duration_us: took.as_micros() as u64,
            arguments: None,
        });
    }

    /// Check a request against every rule; on success it holds a slot of
    /// its API until it is sent and answered.
    pub async fn authorize(
        self: &Arc<Self>,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
    ) -> Result<Authorized, OutboundError> {
        let target = match url::normalise(uri) {
            Ok(t) => t,
            Err(rule) => return Err(self.refuse(None, method, uri, rule)),
        };
        let Some(api) = self
            .apis
            .iter()
            .filter(|a| a.settings.url.covers(&target))
            .max_by_key(|a| a.settings.url.prefix_len())
            .cloned()
        else {
            let granted = self
                .apis
                .iter()
                .map(|a| format!("{} ({})", a.settings.name, a.settings.url.base()))
                .collect::<Vec<_>>();
            let rule = if granted.is_empty() {
                format!(
                    "no API is granted to tool {} ([tools.{}] apis)",
                    self.tool, self.tool
                )
            } else {
                format!(
                    "{}{} is not under an API granted to tool {}: {}",
                    target.origin,
                    target.path,
                    self.tool,
                    granted.join(", ")
                )
            };
            return Err(self.refuse(None, method, uri, rule));
        };
        let name = api.settings.name.as_str();
        if let Some(allowed) = &api.settings.methods
            && !allowed.contains(method)
        {
            let rule = format!("method {method} is not allowed by API {name}");
            return Err(self.refuse(Some(name), method, uri, rule));
        }
        let own = match &api.settings.credential {
            Credential::Header { name, .. } => Some(name),
            _ => None,
        };
        if let Some(bad) = headers
            .keys()
            .find(|h| reserved_header(h) || Some(*h) == own)
        {
            let rule = format!(
                "a tool may not set the {bad} header: the host attaches credentials itself"
            );
            return Err(self.refuse(Some(name), method, uri, rule));
        }
        let count = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        if count > self.max_requests {
            let rule = format!(
                "more than {} requests in one call (limits.http_requests)",
                self.max_requests
            );
            return Err(self.refuse(Some(name), method, uri, rule));
        }
        let started = Instant::now();
        let left = self.deadline.saturating_duration_since(started);
        let (timeout, why) = if left < api.settings.timeout {
            (left, "the call's deadline")
        } else {
            (api.settings.timeout, "the API's timeout_ms")
        };
        let slot = match tokio::time::timeout(timeout, api.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                let rule = format!(
                    "API {name} has {} requests in flight (max_concurrent) and none finished within {} ms ({why})",
                    api.settings.max_concurrent,
                    timeout.as_millis()
                );
                return Err(self.refuse(Some(name), method, uri, rule));
            }
        };
        let mut headers = headers.clone();
        // Framing is the client's: it sends the body it was given.
        headers.remove(http::header::CONTENT_LENGTH);
        headers.remove(http::header::TRANSFER_ENCODING);
        Ok(Authorized {
            grant: self.clone(),
            api,
            method: method.clone(),
            target,
            headers,
            limit: timeout,
            timeout: timeout.saturating_sub(started.elapsed()),
            started,
            _slot: slot,
        })
    }
}

impl Authorized {
    /// Attach the credential and send, with `body`; the answer's body is
    /// capped. `first_byte` is the guest's own wait for the answer, if it
    /// set one (the shorter wins).
    pub async fn send(
        self,
        body: Bytes,
        first_byte: Option<Duration>,
    ) -> Result<http::Response<OutboundBody>, OutboundError> {
        let settings = &self.api.settings;
        let grant = &self.grant;
        let origin = self.target.origin.clone();
        let mut headers = self.headers.clone();
        match &settings.credential {
            Credential::Caller { audience } => {
                let tokens = (grant.outbound.tokens.as_ref())
                    .ok_or_else(|| self.failed("no signing key for caller tokens".into()))?;
                let token = tokens
                    .token(&grant.principal, &grant.tool, audience)
                    .map_err(|e| self.failed(format!("cannot mint the caller token: {e}")))?;
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| self.failed("the caller token is not a header value".into()))?;
                value.set_sensitive(true);
                headers.insert(http::header::AUTHORIZATION, value);
            }
            Credential::Header { name, value } => {
                headers.insert(name.clone(), value.clone());
            }
            Credential::None => {}
        }
        let request = self
            .api
            .client
            .request(self.method.clone(), self.target.url())
            .headers(headers)
            .timeout(self.timeout)
            .body(body);
        let (wait, limit, why) = match first_byte {
            Some(fb) if fb < self.timeout => (fb, fb, "the tool's first-byte timeout"),
            _ => (
                self.timeout,
                self.limit,
                "the API's timeout_ms or the call's deadline",
            ),
        };
        let sent = tokio::time::timeout(wait, request.send()).await;
        let response = match sent {
            Err(_) => return Err(self.finish_err(self.timeout_error(limit, why))),
            Ok(Err(e)) => return Err(self.finish_err(self.classify(e))),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let limit = settings.max_response_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(self.finish_err(OutboundError::TooLarge {
                origin,
                api: settings.name.clone(),
                limit,
            }));
        }
        let response: http::Response<reqwest::Body> = response.into();
        let (mut parts, body) = response.into_parts();
        // Hop-by-hop framing is the host's business.
        parts.headers.remove(http::header::TRANSFER_ENCODING);
        parts.headers.remove(http::header::CONNECTION);
        let timeout_ms = self.limit.as_millis();
        let body = OutboundBody {
            inner: body,
            read: 0,
            limit,
            status: status.as_u16(),
            done: false,
            error: None,
            timeout_ms,
            authorized: Some(self),
        };
        Ok(http::Response::from_parts(parts, body))
    }

    fn failed(&self, reason: String) -> OutboundError {
        OutboundError::Failed {
            origin: self.target.origin.clone(),
            reason,
        }
    }

    fn timeout_error(&self, wait: Duration, why: &'static str) -> OutboundError {
        OutboundError::Timeout {
            origin: self.target.origin.clone(),
            limit_ms: wait.as_millis(),
            why,
        }
    }

    fn classify(&self, e: reqwest::Error) -> OutboundError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(private) = s.downcast_ref::<PrivateAddress>() {
                let rule = private.to_string();
                let grant = &self.grant;
                let uri: http::Uri = self.target.url().parse().unwrap_or_default();
                return grant.refuse(Some(&self.api.settings.name), &self.method, &uri, rule);
            }
            source = s.source();
        }
        if e.is_timeout() {
            return self.timeout_error(self.limit, "the API's timeout_ms or the call's deadline");
        }
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        self.failed(reason)
    }

    fn finish_err(&self, error: OutboundError) -> OutboundError {
        if !matches!(error, OutboundError::Refused { .. }) {
            self.record(error.outcome(), Some(error.to_string()), 0);
        }
        error
    }

    fn record(&self, outcome: &str, reason: Option<String>, bytes: u64) {
        let took = self.started.elapsed();
        let api = self.api.settings.name.as_str();
        metrics::counter!("toolhost_outbound_requests_total", "api" => api.to_owned(), "outcome" => outcome.to_owned())
            .increment(1);
        metrics::histogram!("toolhost_outbound_request_duration_seconds", "api" => api.to_owned())
            .record(took.as_secs_f64());
        let grant = &self.grant;
        grant.span.in_scope(|| {
            tracing::info!(
                tool = grant.tool.as_str(),
                request_id = grant.request_id.as_str(),
                api,
                method = %self.method,
                path = ?self.target.path,
                outcome,
                bytes,
                duration_us = took.as_micros() as u64,
                error = reason.as_deref().unwrap_or(""),
                "outbound request"
            )
        });
        grant.audit(
            api,
            &self.method,
            &self.target.path,
            outcome,
            reason,
            bytes,
            took,
        );
    }
}

/// A response body, capped at the API's `max_response_bytes`: past it, the
/// body fails (it is never passed on truncated as if complete). The request
/// is recorded when the body ends, fails or is dropped.
pub struct OutboundBody {
    inner: reqwest::Body,
    read: usize,
    limit: usize,
    status: u16,
    done: bool,
    error: Option<String>,
    timeout_ms: u128,
    authorized: Option<Authorized>,
}

impl OutboundBody {
    fn finish(&mut self) {
        if let Some(a) = self.authorized.take() {
            let outcome = if self.error.is_some() {
                "failed".to_owned()
            } else if !self.done {
                "abandoned".to_owned()
            } else {
                self.status.to_string()
            };
            a.record(&outcome, self.error.take(), self.read as u64);
        }
    }

    fn origin(&self) -> String {
        self.authorized
            .as_ref()
            .map(|a| a.target.origin.clone())
            .unwrap_or_default()
    }
}

impl Drop for OutboundBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl http_body::Body for OutboundBody {
    type Data = Bytes;
    type Error = OutboundError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, OutboundError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.done = true;
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read += data.len();
                    if this.read > this.limit {
                        let api = (this.authorized.as_ref())
                            .map(|a| a.api.settings.name.clone())
                            .unwrap_or_default();
                        let error = OutboundError::TooLarge {
                            origin: this.origin(),
                            api,
                            limit: this.limit,
                        };
                        this.error = Some(error.to_string());
                        this.finish();
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let error = if e.is_timeout() {
                    OutboundError::Timeout {
                        origin: this.origin(),
                        limit_ms: this.timeout_ms,
                        why: "the API's timeout_ms or the call's deadline",
                    }
                } else {
                    OutboundError::Failed {
                        origin: this.origin(),
                        reason: format!("the response body broke off: {e}"),
                    }
                };
                this.error = Some(error.to_string());
                this.finish();
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: ApiAuth) -> ApiConfig {
        ApiConfig {
            url: "https://app.test/api/".into(),
            auth,
            audience: None,
            header: None,
            value_env: None,
            timeout_ms: default_timeout_ms(),
            max_response_bytes: default_max_response_bytes(),
            max_request_bytes: default_max_request_bytes(),
            methods: None,
            allow_private: false,
            max_concurrent: default_max_concurrent(),
        }
    }

    const RESOURCE: &str = "https://mcp.test/mcp";

    fn resolve(c: &ApiConfig) -> Result<ApiSettings, (String, String)> {
        let env = |name: &str| (name == "APP_KEY").then(|| "s3cret".to_owned());
        ApiSettings::resolve("app", c, RESOURCE, &env)
    }

    #[test]
    fn each_kind_of_auth_needs_what_it_uses() {
        let caller = config(ApiAuth::Caller);
        let (key, reason) = resolve(&caller).unwrap_err();
        assert_eq!(key, "apis.app.audience");
        assert!(reason.contains("needs the audience"), "{reason}");
        for own in [
            "https://mcp.test/mcp",
            "https://mcp.test",
            "https://mcp.test/mcp/",
        ] {
            let c = ApiConfig {
                audience: Some(own.into()),
                ..caller.clone()
            };
            assert!(resolve(&c).unwrap_err().1.contains("own resource"), "{own}");
        }
        let c = ApiConfig {
            audience: Some("https://app.test".into()),
            ..caller
        };
        assert!(resolve(&c).unwrap().needs_caller_tokens());

        let header = config(ApiAuth::Header);
        assert_eq!(resolve(&header).unwrap_err().0, "apis.app.value_env");
        let c = ApiConfig {
            header: Some("x-api-key".into()),
            value_env: Some("MISSING".into()),
            ..header.clone()
        };
        let (_, reason) = resolve(&c).unwrap_err();
        assert!(reason.contains("MISSING is not set"), "{reason}");
        let c = ApiConfig {
            header: Some("x-api-key".into()),
            value_env: Some("APP_KEY".into()),
            ..header
        };
        let settings = resolve(&c).unwrap();
        match &settings.credential {
            Credential::Header { name, value } => {
                assert_eq!(name, "x-api-key");
                assert_eq!(value, "s3cret");
                assert!(value.is_sensitive());
            }
            other => panic!("{other:?}"),
        }
        assert!(
            !format!("{settings:?}").contains("s3cret"),
            "Debug hides the secret"
        );

        let (key, reason) = resolve(&config(ApiAuth::Clerk)).unwrap_err();
        assert_eq!(key, "apis.app.auth");
        assert!(reason.contains("not available"), "{reason}");
        assert!(resolve(&config(ApiAuth::None)).is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = |change: fn(&mut ApiConfig)| {
            let mut c = config(ApiAuth::None);
            change(&mut c);
            resolve(&c).unwrap_err().0
        };
        assert_eq!(bad(|c| c.url = "ftp://x/".into()), "apis.app.url");
        assert_eq!(bad(|c| c.url = "https://u:p@x/".into()), "apis.app.url");
        assert_eq!(bad(|c| c.timeout_ms = 0), "apis.app.timeout_ms");
        assert_eq!(
            bad(|c| c.max_response_bytes = 10),
            "apis.app.max_response_bytes"
        );
        assert_eq!(bad(|c| c.max_concurrent = 0), "apis.app.max_concurrent");
        assert_eq!(bad(|c| c.methods = Some(vec![])), "apis.app.methods");
        assert_eq!(
            bad(|c| c.methods = Some(vec!["GE T".into()])),
            "apis.app.methods"
        );
        let env = |_: &str| None;
        let err = ApiSettings::resolve("App", &config(ApiAuth::None), RESOURCE, &env);
        assert_eq!(err.unwrap_err().0, "apis.App");
        assert_eq!(url_variable("my_app"), "TOOLHOST_API_MY_APP_URL");
    }
}
