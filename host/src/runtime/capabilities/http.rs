//! `wasi:http/outgoing-handler`: standard outbound HTTP for tools, every
//! request decided by the call's [`Grant`](crate::outbound::Grant).
//!
//! The interface is linked for every component (JavaScript and Python
//! runtimes import it), but a call without a grant reaches nothing, and a
//! call with one reaches only its APIs. A refusal is an HTTP error the
//! tool's code can handle (`ErrorCode::InternalError` with the reason), never
//! a trap.

use crate::outbound::{Grant, OutboundError};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpHooks, WasiHttpView,
};

/// Link `wasi:http` (synchronous) for `T`.
pub(crate) fn add_to_linker<T: WasiHttpView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(linker)
}

/// One call's `wasi:http` state.
pub(crate) struct HttpCall {
    pub(crate) ctx: WasiHttpCtx,
    pub(crate) hooks: Hooks,
}

impl HttpCall {
    /// Outbound HTTP as `grant` allows (nothing without one).
    pub(crate) fn new(grant: Option<Arc<Grant>>) -> Self {
        HttpCall {
            ctx: WasiHttpCtx::new(),
            hooks: Hooks { grant },
        }
    }
}

/// The hooks that send a tool's request, or refuse it.
pub(crate) struct Hooks {
    grant: Option<Arc<Grant>>,
}

fn guest_error(e: OutboundError) -> Error {
    Error::InternalError(Some(e.to_string()))
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    /// The host sets `Host` from the checked URL when it sends; a `Host`
    /// header in the request can only be the guest's, and is refused.
    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let grant = self.grant.clone();
        Box::new(async move {
            let (parts, body) = request.into_parts();
            let Some(grant) = grant else {
                let origin = match (parts.uri.scheme_str(), parts.uri.host()) {
                    (Some(s), Some(h)) => format!("{s}://{h}"),
                    _ => "(no origin)".into(),
                };
                tracing::warn!(origin = ?origin, "outbound request refused: no grant in this call");
                return Err(guest_error(OutboundError::Refused {
                    origin,
                    rule: "this call has no outbound grant".into(),
                }));
            };
            let authorized = grant
                .authorize(&parts.method, &parts.uri, &parts.headers)
                .await
                .map_err(guest_error)?;
            let limit = authorized.max_request_bytes();
            let body: Bytes = match Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return Err(guest_error(OutboundError::RequestTooLarge {
                        origin: authorized.origin().to_owned(),
                        limit,
                    }));
                }
                Err(e) => {
                    return Err(Error::InternalError(Some(format!(
                        "the request body could not be read: {e}"
                    ))));
                }
            };
            let first_byte = options.and_then(|o| o.first_byte_timeout);
            let response = authorized
                .send(body, first_byte)
                .await
                .map_err(guest_error)?;
            let response = response.map(|b| b.map_err(guest_error).boxed_unsync());
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}
