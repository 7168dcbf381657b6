//! Accepting connections: TCP_NODELAY, a deadline for a request's headers,
//! a cap on the connections one peer holds, the peer's address for the
//! handlers, and a graceful stop.
//!
//! A client that opens connections and sends a header line every few
//! seconds (slowloris) holds each connection only until the header deadline
//! (`server.header_read_timeout_ms`), and holds at most
//! `server.max_connections_per_peer` at once; others are served meanwhile.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How connections are accepted and held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest wait for a request's headers, from the connection's start or
    /// the end of the previous request.
    pub header_read_timeout: Duration,
    /// Connections one peer address may hold at once (0: no cap). Behind a
    /// reverse proxy every connection comes from its address: raise it.
    pub max_per_peer: usize,
}

/// How a server stops: `stop` stops accepting connections; `sessions` fires
/// once the calls in flight have drained (see `Host::shutdown`), closing
/// rmcp's sessions and streams; connections still open `grace` after that are
/// dropped.
pub(crate) struct Shutdown {
    pub stop: CancellationToken,
    pub sessions: CancellationToken,
    pub grace: Duration,
}

/// Connections held per peer address.
struct Peers {
    held: Mutex<HashMap<IpAddr, usize>>,
    max: usize,
}

/// One held connection; given back when dropped.
struct Held {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(ip).or_default();
        if self.max > 0 && *n >= self.max {
            if *n == 0 {
                held.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(Held {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.peers.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// Serve `router` on `listener` until `shutdown.stop` fires, then let the
/// open connections finish (up to the grace period after the sessions
/// close). Every accepted socket gets TCP_NODELAY (without it a small
/// response waits ~40 ms for delayed ACKs); every request carries the peer's
/// [`ConnectInfo`].
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let peers = Arc::new(Peers {
        held: Mutex::new(HashMap::new()),
        max: limits.max_per_peer,
    });
    // Connections are told to finish through `closing`, and each holds a
    // receiver of `open` until it ends.
    let (closing, _) = watch::channel(false);
    let (open, _) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or an aborted handshake.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Some(held) = peers.enter(peer.ip()) else {
            metrics::counter!("toolhost_connections_refused_total", "reason" => "per_peer")
                .increment(1);
            tracing::warn!(
                peer = %peer.ip(),
                limit = limits.max_per_peer,
                reason = "too_many_connections",
                "connection refused: the peer holds its most"
            );
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let service = TowerToHyperService::new(service);
        let mut closing = closing.subscribe();
        let still_open = open.subscribe();
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _held = held;
            let _still_open = still_open;
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(e) = served {
                            tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    changed = closing.changed() => {
                        connection.as_mut().graceful_shutdown();
                        if changed.is_err() {
                            // The server is gone: finish, don't listen again.
                            let _ = connection.as_mut().await;
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let all_closed = open.closed();
    let deadline = async {
        shutdown.sessions.cancelled().await;
        tokio::time::sleep(shutdown.grace).await;
    };
    tokio::select! {
        _ = all_closed => {}
        _ = deadline => {
            tracing::warn!("connections still open after the grace period; stopping anyway");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_holds_at_most_its_share_and_gets_it_back() {
        let peers = Arc::new(Peers {
            held: Mutex::new(HashMap::new()),
            max: 2,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = peers.enter(a).unwrap();
        let _second = peers.enter(a).unwrap();
        assert!(peers.enter(a).is_none(), "a third is refused");
        assert!(peers.enter(b).is_some(), "another peer is not");
        drop(first);
        assert!(peers.enter(a).is_some(), "a slot came back");
        let unlimited = Arc::new(Peers {
            held: Mutex::new(HashMap::new()),
            max: 0,
        });
        let all: Vec<_> = (0..100).map(|_| unlimited.enter(a).unwrap()).collect();
        drop(all);
        assert!(unlimited.held.lock().unwrap().is_empty(), "nothing kept");
    }
}
