//! A test plugin: makes the HTTP request its input describes, through the
//! SDK's client, and reports the answer (or shows its environment), so the
//! tests can drive the host's outbound HTTP rules from outside.

use toolhost_sdk::http::Request;
use toolhost_sdk::prelude::*;

/// The most response body returned (the whole output must stay under the
/// host's 1 MiB limit); `body_bytes` still counts all of it.
const MAX_BODY: usize = 1_000_000;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Absolute URL, or `api:NAME/rest` for the granted API NAME's URL
    /// followed by `rest` (e.g. `api:app/projects`).
    #[serde(default)]
    url: String,
    /// The method (default GET).
    #[serde(default)]
    method: Option<String>,
    /// Headers to send, in order: `[name, value]` pairs or
    /// `{"name": ..., "value": ...}` objects.
    #[serde(default)]
    headers: Option<Vec<Header>>,
    /// The request body, as text.
    #[serde(default)]
    body: Option<String>,
    /// Send the same request this many times (default 1) and report the
    /// last answer; the first failure ends the run.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    repeat: Option<u32>,
    /// Make no request: report the environment's variables instead, as a
    /// JSON array of `[name, value]` pairs in `body` (status 0).
    #[serde(default)]
    env: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Header {
    Pair(String, String),
    Named { name: String, value: String },
}

#[derive(Serialize, JsonSchema)]
struct Output {
    /// The response's status (0 for `env`).
    status: u16,
    /// The response body as text (lossy UTF-8), cut at 1,000,000 bytes.
    body: String,
    /// The whole response body's length in bytes.
    body_bytes: usize,
    /// The response's `content-type`.
    content_type: Option<String>,
}

struct OutboundProbe;

impl Tool for OutboundProbe {
    type Input = Input;
    type Output = Output;

    fn describe() -> Describe {
        Describe::new(
            "outbound_probe",
            "Make one HTTP request as told (for tests)",
        )
    }

    fn call(ctx: &Context, input: Input) -> Result<Output, ToolError> {
        if input.env == Some(true) {
            let vars: Vec<(String, String)> = std::env::vars().collect();
            let body = serde_json::to_string(&vars).unwrap_or_default();
            let body_bytes = body.len();
            let content_type = None;
            return Ok(Output {
                status: 0,
                body,
                body_bytes,
                content_type,
            });
        }
        let url = match input.url.strip_prefix("api:") {
            Some(rest) => {
                let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
                format!("{}{path}", ctx.api_url(name)?)
            }
            None => input.url,
        };
        let method = input.method.unwrap_or_else(|| "GET".to_owned());
        let mut request = Request::new(method, url);
        for header in input.headers.unwrap_or_default() {
            let (Header::Pair(name, value) | Header::Named { name, value }) = header;
            request = request.header(name, value);
        }
        let request = request.body(input.body.unwrap_or_default());
        let mut response = ctx.http().send(request.clone())?;
        for _ in 1..input.repeat.unwrap_or(1) {
            response = ctx.http().send(request.clone())?;
        }
        let body_bytes = response.body.len();
        let shown = &response.body[..body_bytes.min(MAX_BODY)];
        Ok(Output {
            status: response.status,
            body: String::from_utf8_lossy(shown).into_owned(),
            body_bytes,
            content_type: response.header("content-type").map(str::to_owned),
        })
    }

    /// Short: the body is in the structured result only.
    fn render(output: &Output) -> String {
        format!("status {}, {} body bytes", output.status, output.body_bytes)
    }
}

toolhost_sdk::export_tool!(OutboundProbe);
