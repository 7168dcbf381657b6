//! HTTP mocks for a tool's APIs (`toolhost test`, [`super::PluginHarness`]):
//! a loopback server standing in for every API the tool is granted. Each API
//! is served under its own path prefix (`http://127.0.0.1:PORT/<api>/`), so
//! the tool's requests go through the host's whole outbound path (URL rules,
//! reserved headers, limits) to it. It answers the requests declared with
//! [`HttpMocks::answer`] (which refuses a mock it could not serve) and
//! records every request; one nobody declared gets a 501 and is marked
//! unexpected.
//!
//! ```no_run
//! use toolhost::testing::{PluginHarness, http::{HttpMocks, Mock}};
//! use serde_json::json;
//!
//! let mocks = HttpMocks::start(&["app"]).unwrap();
//! mocks.answer(&[Mock::get("app", "/projects").json(json!({"projects": []}))]).unwrap();
//! let harness = PluginHarness::load("projects_list.wasm".as_ref()).unwrap().with_http(mocks);
//! let out = harness.call(&harness.principal("alice", &[]), json!({})).unwrap();
//! assert_eq!(harness.http().unwrap().requests()[0].path, "/projects");
//! ```

use crate::Principal;
use crate::outbound::{ApiConfig, ApiSettings, Outbound, OutboundSettings};
use crate::runtime::{CallLinks, Limits, Plugin};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Most requests recorded per case (a tool stops at its own bound first).
const MAX_SEEN: usize = 1000;
/// Most bytes of a request body kept.
const MAX_BODY: usize = 1 << 20;

/// A declared answer (`[[case.http]]` of a `tests.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mock {
    /// The API (`[apis.<name>]`) the request goes to.
    pub api: String,
    /// The method [default: GET].
    #[serde(default = "get")]
    pub method: String,
    /// The path under the API's URL, e.g. `/projects`; with a `?query`
    /// the query must match too.
    pub path: String,
    /// The answer's status [default: 200].
    #[serde(default = "ok")]
    pub status: u16,
    /// A JSON body (sent as `application/json`).
    pub json: Option<serde_json::Value>,
    /// A text body.
    pub body: Option<String>,
    /// Headers of the answer.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn get() -> String {
    "GET".into()
}

fn ok() -> u16 {
    200
}

impl Mock {
    /// Answer `method` requests to `path` under `api` with an empty 200.
    pub fn new(api: &str, method: &str, path: &str) -> Mock {
        Mock {
            api: api.to_owned(),
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            status: 200,
            json: None,
            body: None,
            headers: BTreeMap::new(),
        }
    }

    /// [`Mock::new`] for `GET`.
    pub fn get(api: &str, path: &str) -> Mock {
        Mock::new(api, "GET", path)
    }

    /// [`Mock::new`] for `POST`.
    pub fn post(api: &str, path: &str) -> Mock {
        Mock::new(api, "POST", path)
    }

    /// Answer with `status`.
    pub fn status(mut self, status: u16) -> Mock {
        self.status = status;
        self
    }

    /// Answer with this JSON body.
    pub fn json(mut self, body: serde_json::Value) -> Mock {
        self.json = Some(body);
        self
    }

    /// Answer with this text body.
    pub fn body(mut self, body: &str) -> Mock {
        self.body = Some(body.to_owned());
        self
    }

    /// Answer with this header too.
    pub fn header(mut self, name: &str, value: &str) -> Mock {
        self.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Whether it can be served: a known API name and status, a path from
    /// `/`, one body, headers that are headers.
    pub fn check(&self) -> Result<(), String> {
        if !crate::outbound::is_api_name(&self.api) {
            return Err(format!(
                "http api {:?}: {}",
                self.api,
                crate::outbound::API_NAME_RULE
            ));
        }
        if !(100..=599).contains(&self.status) {
            return Err(format!("http status {} is not an HTTP status", self.status));
        }
        if axum::http::Method::from_bytes(self.method.as_bytes()).is_err() {
            return Err(format!("http method {:?} is not a method", self.method));
        }
        if !self.path.starts_with('/') {
            return Err(format!("http path {:?} must start with /", self.path));
        }
        if self.json.is_some() && self.body.is_some() {
            return Err("http: give json or body, not both".into());
        }
        for (name, value) in &self.headers {
            if axum::http::HeaderName::try_from(name.as_str()).is_err()
                || axum::http::HeaderValue::try_from(value.as_str()).is_err()
            {
                return Err(format!("http header {name:?} is not a valid header"));
            }
        }
        Ok(())
    }
}

/// A request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The API it went to.
    pub api: String,
    /// Its method.
    pub method: String,
    /// Its path under the API's URL, with the query.
    pub path: String,
    /// Its body (at most `MAX_BODY` bytes).
    pub body: Vec<u8>,
    /// Whether a mock answered it.
    pub expected: bool,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.method, self.api, self.path)
    }
}

#[derive(Default)]
struct State {
    mocks: Vec<Mock>,
    seen: Vec<Seen>,
}

/// The loopback server.
struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
    // Serves until dropped.
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Listen on a loopback port.
    fn start() -> Result<Server, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP mocks: {e}"))?;
        let state = Arc::new(Mutex::new(State::default()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("cannot listen for the HTTP mocks: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let state = shared.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, MAX_BODY)
                    .await
                    .unwrap_or_default();
                answer(&state, &parts, body.to_vec())
            }
        });
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Server {
            port,
            state,
            _runtime: runtime,
        })
    }

    /// The URL `api` is served under.
    fn url(&self, api: &str) -> String {
        format!("http://127.0.0.1:{}/{api}/", self.port)
    }

    /// Answer `mocks` from now on, with nothing seen yet.
    fn arm(&self, mocks: &[Mock]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.mocks = mocks.to_vec();
        state.seen.clear();
    }

    /// The requests seen since the last `arm`.
    fn seen(&self) -> Vec<Seen> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.seen.clone()
    }
}

/// The mocks of some APIs, and the outbound service that reaches them (with
/// nothing attached: `auth = "none"`).
pub struct HttpMocks {
    server: Server,
    outbound: Arc<Outbound>,
    apis: Vec<String>,
}

impl std::fmt::Debug for HttpMocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMocks")
            .field("apis", &self.apis)
            .finish_non_exhaustive()
    }
}

impl HttpMocks {
    /// Serve `apis` (names as in `[apis.<name>]`) on a loopback port.
    pub fn start(apis: &[&str]) -> Result<HttpMocks, String> {
        let server = Server::start()?;
        let mut settings = OutboundSettings {
            apis: BTreeMap::new(),
        };
        for name in apis {
            let config: ApiConfig = serde_json::from_value(
                serde_json::json!({"url": server.url(name), "auth": "none"}),
            )
            .map_err(|e| e.to_string())?;
            let api = ApiSettings::resolve(name, &config, "http://toolhost.test/mcp", &|_| None)
                .map_err(|(key, reason)| format!("{key}: {reason}"))?;
            settings.apis.insert((*name).to_owned(), api);
        }
        let outbound = Outbound::new(
            &settings,
            None,
            Arc::new(crate::outbound::address::SystemResolver),
            None,
            crate::clock::system(),
        )?;
        Ok(HttpMocks {
            server,
            outbound,
            apis: apis.iter().map(|a| (*a).to_owned()).collect(),
        })
    }

    /// Answer `mocks` from now on and forget the requests seen so far. A
    /// mock that cannot be served ([`Mock::check`]) or names an API these
    /// mocks do not serve is refused with the reason, and nothing changes.
    pub fn answer(&self, mocks: &[Mock]) -> Result<(), String> {
        for mock in mocks {
            mock.check()?;
            if !self.apis.contains(&mock.api) {
                return Err(format!(
                    "http api {:?} is not one of the mocked APIs ({})",
                    mock.api,
                    self.apis.join(", ")
                ));
            }
        }
        self.server.arm(mocks);
        Ok(())
    }

    /// The requests seen since [`HttpMocks::answer`], in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.server.seen()
    }

    /// What one call of `tool` by `who` may reach: every mocked API, within
    /// `limits`.
    pub fn links(&self, tool: &Plugin, who: &Principal, limits: &Limits) -> CallLinks {
        CallLinks {
            grant: Some(self.outbound.grant(
                tool.name(),
                who,
                &self.apis,
                "test",
                limits.http_requests,
                std::time::Instant::now() + limits.timeout(),
            )),
            ..CallLinks::default()
        }
    }
}

fn answer(
    state: &Mutex<State>,
    request: &axum::http::request::Parts,
    body: Vec<u8>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = &request.uri;
    let full = uri.path().trim_start_matches('/');
    let (api, rest) = full.split_once('/').unwrap_or((full, ""));
    let path = format!("/{rest}");
    let with_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let method = request.method.as_str().to_owned();
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let mock = (state.mocks.iter())
        .find(|m| {
            m.api == api
                && m.method.eq_ignore_ascii_case(&method)
                && (m.path == with_query || (!m.path.contains('?') && m.path == path))
        })
        .cloned();
    if state.seen.len() < MAX_SEEN {
        state.seen.push(Seen {
            api: api.to_owned(),
            method: method.clone(),
            path: with_query.clone(),
            body,
            expected: mock.is_some(),
        });
    }
    drop(state);
    let Some(mock) = mock else {
        return (
            axum::http::StatusCode::NOT_IMPLEMENTED,
            format!("toolhost test: no [[case.http]] for {method} {api} {with_query}"),
        )
            .into_response();
    };
    let status = axum::http::StatusCode::from_u16(mock.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = axum::http::HeaderMap::new();
    let body = match (&mock.json, &mock.body) {
        (Some(json), _) => {
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            serde_json::to_vec(json).unwrap_or_default()
        }
        (None, Some(text)) => text.clone().into_bytes(),
        (None, None) => Vec::new(),
    };
    for (name, value) in &mock.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name.as_str()),
            axum::http::HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    (status, headers, body).into_response()
}
