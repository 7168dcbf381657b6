//! WASI Preview 2, linked with nothing granted: components built by
//! ordinary toolchains import it (Python's and JavaScript's runtimes import
//! filesystem and socket interfaces), so it must be there, and it must give
//! nothing.
//!
//! No preopened directories, no arguments, no network (the socket check
//! denies every address), no name lookup, empty stdin. The environment holds
//! only what the call's grant puts there (the URLs of the APIs granted). Stdout
//! and stderr are captured, capped per call, and go to the host's log.

use super::super::Limits;
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Link WASI Preview 2 (synchronous) for `T`.
pub(crate) fn add_to_linker<T: WasiView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)
}

/// One call's WASI state: a context that grants nothing, its resource
/// table, and the captured output.
pub(crate) struct WasiCall {
    ctx: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) stdout: CappedPipe,
    pub(crate) stderr: CappedPipe,
}

impl WasiCall {
    /// Nothing granted but `env`; stdout and stderr kept up to
    /// `limits.log_bytes` each.
    pub(crate) fn new(limits: &Limits, env: &[(String, String)]) -> Self {
        let stdout = CappedPipe::new(limits.log_bytes);
        let stderr = CappedPipe::new(limits.log_bytes);
        let ctx = WasiCtx::builder()
            .envs(env)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        WasiCall {
            ctx,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }

    /// The view wasmtime-wasi asks for.
    pub(crate) fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A stdout/stderr sink that keeps at most `capacity` bytes and silently
/// drops the rest. Unlike a pipe that fails when full, it never makes a
/// chatty tool trap (Rust's `println!` panics on a write error); the host
/// logs how much was dropped.
#[derive(Clone)]
pub(crate) struct CappedPipe {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    capacity: usize,
    dropped: usize,
}

impl CappedPipe {
    pub(crate) fn new(capacity: usize) -> Self {
        CappedPipe {
            inner: Arc::new(Mutex::new(Captured {
                capacity,
                ..Captured::default()
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = c.capacity.saturating_sub(c.bytes.len());
        let kept = room.min(bytes.len());
        c.bytes.extend_from_slice(&bytes[..kept]);
        c.dropped += bytes.len() - kept;
    }

    /// The captured text and the number of bytes dropped.
    pub(crate) fn take(&self) -> (String, usize) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&c.bytes).into_owned();
        c.bytes.clear();
        (text, std::mem::take(&mut c.dropped))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable: excess is dropped, never refused.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_pipe_keeps_the_head_and_counts_the_rest() {
        let pipe = CappedPipe::new(5);
        pipe.push(b"abc");
        pipe.push(b"defgh");
        let (text, dropped) = pipe.take();
        assert_eq!(text, "abcde");
        assert_eq!(dropped, 3);
        assert_eq!(pipe.take(), (String::new(), 0));
    }
}
