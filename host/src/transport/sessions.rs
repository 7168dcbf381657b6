//! Sessions of the older, initialize-based protocol revisions (2025-06-18,
//! 2025-11-25), which hear of tool-set changes through their peer.
//!
//! A session is added when it initializes and removed as soon as it ends
//! (the initialize request's cancellation token fires when rmcp closes the
//! session: on DELETE, on its idle timeout, or on shutdown), so the list
//! holds only live sessions. Stateless 2026-07-28 clients subscribe with
//! `subscriptions/listen` instead (see `mcp::McpHandler::listen`).

use rmcp::{Peer, RoleServer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The live legacy sessions.
pub(crate) struct LegacySessions {
    peers: Mutex<HashMap<u64, Peer<RoleServer>>>,
    next: AtomicU64,
    /// How many are registered, for whoever wants to wait on it.
    count: watch::Sender<usize>,
}

impl LegacySessions {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(LegacySessions {
            peers: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            count: watch::channel(0).0,
        })
    }

    /// Register `peer` until `ended` fires.
    pub(crate) fn add(self: &Arc<Self>, peer: Peer<RoleServer>, ended: CancellationToken) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.insert(id, peer);
            self.count.send_replace(peers.len());
        }
        let sessions: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            ended.cancelled().await;
            if let Some(sessions) = sessions.upgrade() {
                sessions.remove(id);
            }
        });
    }

    fn remove(&self, id: u64) {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.remove(&id);
        self.count.send_replace(peers.len());
    }

    /// How many sessions are registered.
    pub(crate) fn len(&self) -> usize {
        *self.count.borrow()
    }

    /// Watch the number of registered sessions.
    pub(crate) fn watch(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    /// Tell every live session that the tool list changed, for every
    /// change: run this as a task for the life of the host.
    pub(crate) async fn notify_changes(self: Arc<Self>, mut changes: watch::Receiver<u64>) {
        while changes.changed().await.is_ok() {
            let peers: Vec<Peer<RoleServer>> = {
                let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
                // A backstop: a session whose transport closed without its
                // token firing.
                peers.retain(|_, p| !p.is_transport_closed());
                self.count.send_replace(peers.len());
                peers.values().cloned().collect()
            };
            for peer in peers {
                tokio::spawn(async move {
                    if let Err(e) = peer.notify_tool_list_changed().await {
                        tracing::debug!(error = %e, "session gone before tools/list_changed");
                    }
                });
            }
        }
    }
}
