//! What a tool knows about the call in progress.

use crate::bindings::toolhost::plugin::{call, types};
use crate::error::ToolError;
use crate::http::Http;
use crate::store::Bucket;
use std::time::SystemTime;

/// The verified caller, as the host established it. A tool cannot forge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable identifier of the user.
    pub subject: String,
    /// Roles resolved by the host.
    pub roles: Vec<String>,
    /// OAuth scopes granted to the caller's token.
    pub scopes: Vec<String>,
    /// The OAuth client the caller used, when known.
    pub client_id: Option<String>,
    /// The caller's active organization, when known.
    pub org_id: Option<String>,
    /// The caller's e-mail address, when known.
    pub email: Option<String>,
}

impl Principal {
    /// True if the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// One call: who is calling, its request id, and the host services.
#[derive(Debug, Clone)]
pub struct Context {
    /// The verified caller.
    pub principal: Principal,
    /// Unique per call; the host logs it too.
    pub request_id: String,
}

impl Context {
    pub(crate) fn from_wit(ctx: types::CallContext) -> Self {
        let p = ctx.principal;
        Context {
            principal: Principal {
                subject: p.subject,
                roles: p.roles,
                scopes: p.scopes,
                client_id: p.client_id,
                org_id: p.org_id,
                email: p.email,
            },
            request_id: ctx.request_id,
        }
    }

    /// The caller's data in `name`. Buckets are shared between tools (by
    /// name) but never between callers: the host scopes every key to the
    /// caller of this call.
    pub fn bucket(&self, name: &str) -> Bucket {
        Bucket::new(name)
    }

    /// The HTTP client for the APIs granted to this tool (see [`crate::http`]).
    pub fn http(&self) -> Http {
        Http(())
    }

    /// The base URL of the API `name` granted to this tool, always ending in
    /// `/` (append a relative path to it). The host puts it in the tool's
    /// environment as `TOOLHOST_API_<NAME>_URL`; without a grant it is absent
    /// and this fails, telling the operator what to configure.
    pub fn api_url(&self, name: &str) -> Result<String, ToolError> {
        let var = format!("TOOLHOST_API_{}_URL", name.to_ascii_uppercase());
        std::env::var(&var).map_err(|_| {
            ToolError::Failed(format!(
                "the API {name:?} is not granted to this tool: ask the operator to add \
                 apis = [{name:?}] to this tool's [tools.<tool name>] section"
            ))
        })
    }

    /// A new time-ordered unique id (UUIDv7, lowercase hyphenated) for the
    /// instant `at`. Ids made later sort after ids made earlier: the 12 bits
    /// after the millisecond timestamp carry the sub-millisecond fraction
    /// (RFC 9562, section 6.2, method 3), so even notes made in the same
    /// millisecond list in creation order. The remaining 62 bits are random.
    pub fn time_ordered_id(&self, at: SystemTime) -> String {
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, since.as_secs(), since.subsec_nanos());
        let mut bytes = *uuid::Uuid::new_v7(ts).as_bytes();
        let fraction = u64::from(since.subsec_nanos() % 1_000_000) * 4096 / 1_000_000;
        bytes[6] = 0x70 | (fraction >> 8) as u8;
        bytes[7] = (fraction & 0xff) as u8;
        uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
    }

    /// Tell the client how far the call got (MCP progress), when it asked
    /// for progress: `done` must grow from one report to the next, `total`
    /// when known. The host sends at most 100 reports per call: report
    /// milestones, not every item.
    pub fn report_progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        call::report_progress(done, total, message);
    }

    /// A log message for the client (MCP `notifications/message`), shown in
    /// clients that display server logs; sent only at or above the level
    /// the client asked for, at most 100 per call. `data` is any JSON value
    /// (a string, an object). For the host's own log, see [`crate::log`].
    pub fn notify_client(&self, level: ClientLevel, data: &serde_json::Value) {
        call::notify(level.into_wit(), None, &data.to_string());
    }

    /// The operator's configuration value `key` for this tool
    /// (`[tools.<name>.config]` in the host's configuration: a value, or a
    /// secret from the host's environment); `None` when it is not set.
    /// Keep secrets out of results and logs.
    pub fn config(&self, key: &str) -> Option<String> {
        crate::bindings::wasi::config::store::get(key)
            .ok()
            .flatten()
    }

    /// Whether the client cancelled the call (or went away): check it
    /// between steps to stop cleanly. The host stops a cancelled instance
    /// within about 10 ms anyway.
    pub fn cancelled(&self) -> bool {
        call::cancelled()
    }

    /// Tell the caller's clients that subscribed to the resource at `uri`
    /// (one this host serves) that it changed (MCP
    /// `notifications/resources/updated`); nobody else's clients hear it.
    /// At most 100 per call.
    pub fn resource_updated(&self, uri: &str) {
        call::resource_updated(uri)
    }

    /// Ask the user for input through the client (MCP elicitation, form
    /// mode): `message` says what and why; `schema` is the form, a JSON
    /// Schema object of primitive properties. Waits for the answer (at most
    /// 5 minutes, not counted against the call's timeout). A decline or a
    /// dismissal is an [`Elicitation`]; the error says why the user could
    /// not be asked.
    ///
    /// On a stateless 2026-07-28 request the host asks in the call's result
    /// and runs the call again from the start with the answer, which this
    /// returns then: ask before changing anything, and ask the same
    /// questions in the same order on every run.
    pub fn elicit(
        &self,
        message: &str,
        schema: &serde_json::Value,
    ) -> Result<Elicitation, AskError> {
        match call::elicit(message, &schema.to_string()).map_err(AskError)? {
            call::ElicitAnswer::Accept(content) => {
                let content = serde_json::from_str(&content)
                    .map_err(|e| AskError(format!("the answer is not JSON: {e}")))?;
                Ok(Elicitation::Accepted(content))
            }
            call::ElicitAnswer::Decline => Ok(Elicitation::Declined),
            call::ElicitAnswer::Cancel => Ok(Elicitation::Cancelled),
        }
    }

    /// Ask the client's model for a completion (MCP sampling):
    /// `request` is the `sampling/createMessage` params (messages,
    /// maxTokens, ...); returns the result (role, content, model). MCP
    /// deprecates sampling in 2026-07-28, where the host still asks, in
    /// rounds as for [`Context::elicit`].
    pub fn sample(&self, request: &serde_json::Value) -> Result<serde_json::Value, AskError> {
        let answer = call::sample(&request.to_string()).map_err(AskError)?;
        serde_json::from_str(&answer).map_err(|e| AskError(format!("the answer is not JSON: {e}")))
    }

    /// `at` as an RFC 3339 UTC timestamp with milliseconds.
    pub fn rfc3339(&self, at: SystemTime) -> String {
        humantime::format_rfc3339_millis(at).to_string()
    }
}

/// The severity of a log message for the client (MCP's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum ClientLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl ClientLevel {
    fn into_wit(self) -> call::Level {
        match self {
            ClientLevel::Debug => call::Level::Debug,
            ClientLevel::Info => call::Level::Info,
            ClientLevel::Notice => call::Level::Notice,
            ClientLevel::Warning => call::Level::Warning,
            ClientLevel::Error => call::Level::Error,
            ClientLevel::Critical => call::Level::Critical,
            ClientLevel::Alert => call::Level::Alert,
            ClientLevel::Emergency => call::Level::Emergency,
        }
    }
}

/// What the user answered to [`Context::elicit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Elicitation {
    /// The user submitted the form: its content, a JSON object.
    Accepted(serde_json::Value),
    /// The user said no.
    Declined,
    /// The user dismissed the request without choosing.
    Cancelled,
}

/// Why the user (or the client's model) could not be asked: the client
/// does not support it, the request's protocol revision has no
/// server-to-client requests, no answer in time, the call was cancelled, or
/// too many asks in one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskError(pub String);

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AskError {}

impl From<AskError> for crate::ToolError {
    fn from(e: AskError) -> Self {
        crate::ToolError::Failed(e.0)
    }
}
