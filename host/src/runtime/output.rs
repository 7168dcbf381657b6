//! What a call produces: the tool's result, and its captured stdout/stderr.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// One block of MCP content returned by a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text.
    Text(String),
    /// An image: raw bytes and their MIME type.
    Image {
        /// The image bytes.
        data: Vec<u8>,
        /// e.g. `image/png`.
        mime_type: String,
    },
}

/// A successful tool result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// Content blocks.
    pub content: Vec<Content>,
    /// Structured result (a JSON object), checked against the tool's output
    /// schema when it declares one.
    pub structured: Option<serde_json::Value>,
}

impl ToolOutput {
    /// Bytes of content and structured JSON, as counted against the output limit.
    pub(crate) fn size(content: &[Content], structured: Option<&str>) -> usize {
        let content: usize = content
            .iter()
            .map(|c| match c {
                Content::Text(t) => t.len(),
                Content::Image { data, mime_type } => data.len() + mime_type.len(),
            })
            .sum();
        content + structured.map_or(0, str::len)
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
