//! Blocking HTTP from a tool to the APIs the operator granted it.
//!
//! Requests go out over the standard `wasi:http/outgoing-handler`. The host
//! checks each one against the tool's grants (the URL must lie under a
//! granted API's URL, some headers may not be set) and attaches the
//! credential itself, so a tool never holds a token. A refused request fails
//! with the host's reason as the [`HttpError`] message.
//!
//! ```ignore
//! use toolhost_sdk::prelude::*;
//!
//! fn count_projects(ctx: &Context) -> Result<usize, ToolError> {
//!     let url = format!("{}projects", ctx.api_url("app")?);
//!     // A status other than 2xx is an error that quotes the answer.
//!     let response = ctx.http().get(&url)?.error_for_status()?;
//!     let list: serde_json::Value = response.json()?;
//!     Ok(list["projects"].as_array().map_or(0, Vec::len))
//! }
//! ```

use crate::ToolError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::clocks::monotonic_clock;
use wasip2::http::{outgoing_handler, types};
use wasip2::io::poll;
use wasip2::io::streams::StreamError;

/// The HTTP client of a call, from [`Context::http`](crate::Context::http).
/// It holds no state: every request is independent.
#[derive(Debug, Clone, Copy)]
pub struct Http(pub(crate) ());

/// A request to send with [`Http::send`], built up from [`Request::new`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A `method` request (`"GET"`, `"POST"`, …; the standard names in any
    /// case, others sent as written) to the absolute `http`/`https` URL `url`,
    /// with no headers and an empty body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Add a header (repeat a name to send it several times).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A complete response: the whole body has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The headers in the order received, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself for a 2xx status; otherwise an error that says
    /// the status and quotes the start of the body (at most 500
    /// characters), which is usually the API's own explanation.
    pub fn error_for_status(self) -> Result<Response, HttpError> {
        if self.is_success() {
            return Ok(self);
        }
        let answer: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(ANSWER_QUOTED_CHARS)
            .collect();
        let answer = answer.trim();
        Err(HttpError(match answer.is_empty() {
            true => format!("the API answered {} with no body", self.status),
            false => format!("the API answered {}: {answer}", self.status),
        }))
    }

    /// The first value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String, HttpError> {
        String::from_utf8(self.body.clone())
            .map_err(|e| HttpError(format!("the response body is not UTF-8 text: {e}")))
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError(format!(
                "the response body (status {}) is not the JSON expected: {e}",
                self.status
            ))
        })
    }
}

/// How much of a failed response's body [`Response::error_for_status`]
/// quotes.
const ANSWER_QUOTED_CHARS: usize = 500;

/// Why a request got no complete response. The message says what and why:
/// a refusal by the host is reported in the host's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(String);

impl HttpError {
    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for ToolError {
    fn from(e: HttpError) -> Self {
        ToolError::Failed(e.0)
    }
}

impl Http {
    /// `GET url`.
    pub fn get(&self, url: &str) -> Result<Response, HttpError> {
        self.send(Request::new("GET", url))
    }

    /// `POST url` with `value` as its JSON body (`content-type: application/json`).
    pub fn post_json<T: Serialize>(&self, url: &str, value: &T) -> Result<Response, HttpError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| HttpError(format!("cannot encode the request body as JSON: {e}")))?;
        let request = Request::new("POST", url).header("content-type", "application/json");
        self.send(request.body(body))
    }

    /// Send `request` and read the whole response. Any status is a response;
    /// an error means no complete response (refused, unreachable, cut short).
    pub fn send(&self, request: Request) -> Result<Response, HttpError> {
        let target = Target::parse(&request.url)?;
        let at = format!("{} {}", request.method.to_ascii_uppercase(), target.origin);
        let failed = |code: types::ErrorCode| HttpError(describe(&at, code));
        let lost = |what: &str| HttpError(format!("{at}: {what} was lost"));
        // A body of known length goes with its length, not chunked: some
        // servers refuse chunked requests.
        let has_length = request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        let length = (!request.body.is_empty() && !has_length)
            .then(|| ("content-length".to_owned(), request.body.len().to_string()));
        let headers = types::Fields::new();
        for (name, value) in request.headers.iter().chain(&length) {
            headers
                .append(name, value.as_bytes())
                .map_err(|e| match e {
                    types::HeaderError::Forbidden => {
                        HttpError(format!("header {name} may not be set by a tool"))
                    }
                    _ => HttpError(format!("header {name}: invalid name or value ({e:?})")),
                })?;
        }
        let outgoing = types::OutgoingRequest::new(headers);
        let parts = [
            ("method", outgoing.set_method(&wasi_method(&request.method))),
            ("scheme", outgoing.set_scheme(Some(&target.scheme))),
            ("host", outgoing.set_authority(Some(&target.authority))),
            ("path", outgoing.set_path_with_query(Some(&target.path))),
        ];
        if let Some((part, _)) = parts.iter().find(|(_, set)| set.is_err()) {
            return Err(HttpError(format!(
                "{at}: invalid {part} in {:?}",
                request.url
            )));
        }
        let body = outgoing.body().map_err(|()| lost("the request body"))?;
        // Handled before the body is written: the host only drains the body
        // once the request is under way, and buffers little before that.
        let future = outgoing_handler::handle(outgoing, None).map_err(failed)?;
        let written = write_body(&at, body, &request.body);
        let answered = future.subscribe();
        if written.is_ok() {
            answered.block();
        } else {
            // The host's answer (a refusal, say) says more than the failed
            // write, but the request is broken: wait for it only briefly.
            let timer = monotonic_clock::subscribe_duration(1_000_000_000);
            poll::poll(&[&answered, &timer]);
        }
        let incoming = match (future.get(), written) {
            (Some(Ok(Err(code))), _) => return Err(failed(code)),
            (_, Err(e)) => return Err(e),
            (Some(Ok(Ok(incoming))), Ok(())) => incoming,
            _ => return Err(lost("the response")),
        };
        let status = incoming.status();
        let headers = incoming.headers().entries().into_iter();
        let headers = headers
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let body = incoming.consume().map_err(|()| lost("the response body"))?;
        let stream = body.stream().map_err(|()| lost("the response body"))?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(65536) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(stream_error(&at, "reading the response body", e)),
            }
        }
        drop(stream);
        // Reading to the end usually has the trailers ready: block only if not.
        let trailers = types::IncomingBody::finish(body);
        let trailers = trailers.get().or_else(|| {
            trailers.subscribe().block();
            trailers.get()
        });
        match trailers {
            Some(Ok(Ok(_))) => {}
            Some(Ok(Err(code))) => return Err(failed(code)),
            _ => return Err(lost("the end of the response")),
        }
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }
}

/// Write `bytes` to `body` (at most 4096 bytes per blocking write) and finish it.
fn write_body(at: &str, body: types::OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    let doing = "sending the request body";
    let stream = body
        .write()
        .map_err(|()| stream_error(at, doing, StreamError::Closed))?;
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| stream_error(at, doing, e))?;
    }
    drop(stream);
    types::OutgoingBody::finish(body, None).map_err(|code| HttpError(describe(at, code)))
}

/// The message for a failed body stream `e` while `doing` something.
fn stream_error(at: &str, doing: &str, e: StreamError) -> HttpError {
    match e {
        StreamError::LastOperationFailed(e) => match types::http_error_code(&e) {
            Some(code) => HttpError(describe(at, code)),
            None => HttpError(format!("{at}: {doing} failed: {}", e.to_debug_string())),
        },
        StreamError::Closed => {
            HttpError(format!("{at}: {doing} failed: the connection was closed"))
        }
    }
}

/// The message for `code` from the request `at` (method and origin): the
/// host's own words for a refusal, otherwise a readable reason.
fn describe(at: &str, code: types::ErrorCode) -> String {
    use types::ErrorCode as E;
    let reason = match &code {
        E::InternalError(Some(message)) => return message.clone(),
        E::DnsTimeout | E::DnsError(_) | E::DestinationNotFound => "host name not resolved",
        E::DestinationUnavailable | E::DestinationIpUnroutable => "destination unreachable",
        E::DestinationIpProhibited => "destination address prohibited",
        E::ConnectionRefused => "connection refused",
        E::ConnectionTerminated => "connection closed before the response was complete",
        E::ConnectionTimeout => "timed out connecting",
        E::ConnectionReadTimeout | E::HttpResponseTimeout => "timed out waiting for the response",
        E::ConnectionWriteTimeout => "timed out sending the request",
        E::ConnectionLimitReached => "too many connections",
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => "TLS failed",
        E::HttpRequestDenied => "request denied",
        E::HttpRequestBodySize(_) => "request body over the size limit",
        E::HttpRequestUriInvalid | E::HttpRequestUriTooLong => "URL invalid or too long",
        E::HttpRequestHeaderSectionSize(_) | E::HttpRequestHeaderSize(_) => {
            "request headers over the size limit"
        }
        E::HttpResponseHeaderSectionSize(_) | E::HttpResponseHeaderSize(_) => {
            "response headers over the size limit"
        }
        E::HttpResponseBodySize(_) => "response body over the size limit",
        E::HttpResponseIncomplete => "incomplete response",
        E::HttpProtocolError => "HTTP protocol error",
        E::LoopDetected => "loop detected",
        _ => "request failed",
    };
    format!("{at} failed: {reason} ({code:?})")
}

/// An absolute URL split as `wasi:http` wants it.
struct Target {
    scheme: types::Scheme,
    authority: String,
    path: String,
    /// `scheme://authority`, for messages.
    origin: String,
}

impl Target {
    /// Split `scheme://authority/path?query`, dropping any `#fragment`.
    fn parse(url: &str) -> Result<Target, HttpError> {
        let bad = |why: &str| HttpError(format!("not a URL: {url:?} ({why})"));
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains spaces or control characters"));
        }
        let (name, rest) = url.split_once("://").ok_or_else(|| bad("no scheme://"))?;
        let scheme = match name.to_ascii_lowercase().as_str() {
            "http" => types::Scheme::Http,
            "https" => types::Scheme::Https,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        let path = match path.chars().next() {
            None => "/".to_owned(),
            Some('?') => format!("/{path}"),
            Some(_) => path.to_owned(),
        };
        let origin = format!("{}://{authority}", name.to_ascii_lowercase());
        let authority = authority.to_owned();
        Ok(Target {
            scheme,
            authority,
            path,
            origin,
        })
    }
}

/// The `wasi:http` method named `name` (standard names in any case).
fn wasi_method(name: &str) -> types::Method {
    match name.to_ascii_uppercase().as_str() {
        "GET" => types::Method::Get,
        "HEAD" => types::Method::Head,
        "POST" => types::Method::Post,
        "PUT" => types::Method::Put,
        "PATCH" => types::Method::Patch,
        "DELETE" => types::Method::Delete,
        "OPTIONS" => types::Method::Options,
        _ => types::Method::Other(name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_status_other_than_2xx_is_an_error_quoting_the_answer() {
        let ok = answer(201, "{}").error_for_status().unwrap();
        assert_eq!(ok.status, 201);
        let e = answer(403, r#"{"error":"not yours"}"#).error_for_status();
        assert_eq!(
            e.unwrap_err().message(),
            r#"the API answered 403: {"error":"not yours"}"#
        );
        assert_eq!(
            answer(502, " \n").error_for_status().unwrap_err().message(),
            "the API answered 502 with no body"
        );
        let long = "é".repeat(2000);
        let message = answer(500, &long).error_for_status().unwrap_err();
        assert_eq!(
            message.message().chars().filter(|c| *c == 'é').count(),
            ANSWER_QUOTED_CHARS,
            "quoted by characters, never cut inside one"
        );
        assert!(answer(302, "").error_for_status().is_err(), "3xx too");
    }
}
