//! Sessions of the older, initialize-based protocol revisions (2025-06-18,
//! 2025-11-25), which hear through their peer of changes: of the tools,
//! resources and prompts lists, and of the resources they subscribed to.
//!
//! A session is added when it initializes and removed as soon as it ends
//! (the initialize request's cancellation token fires when rmcp closes the
//! session: on DELETE, on its idle timeout, or on shutdown), so the list
//! holds only live sessions. Stateless 2026-07-28 clients subscribe with
//! `subscriptions/listen` instead (see `mcp::McpHandler::listen`).

use crate::registry::{Registry, Tools};
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::{Peer, RoleServer};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The resource URIs one session subscribed to (`resources/subscribe`).
pub(crate) type Subscriptions = Arc<Mutex<BTreeSet<String>>>;

/// Most resources one session may subscribe to at once.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 64;

struct Session {
    peer: Peer<RoleServer>,
    /// Who opened it, when known.
    subject: Option<String>,
    subscriptions: Subscriptions,
}

/// A resource that changed, for one caller's clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Updated {
    /// The caller whose clients hear it.
    pub(crate) subject: String,
    /// The resource.
    pub(crate) uri: String,
}

/// Where the resource-updated notifications of calls go, to every
/// listener: the legacy sessions, and each `subscriptions/listen` stream.
pub(crate) type UpdateBus = tokio::sync::broadcast::Sender<Arc<Updated>>;

/// Updates queued for a slow listener at most; past it the oldest are
/// lost to it (and counted in the log).
pub(crate) const UPDATE_QUEUE: usize = 1024;

/// The live legacy sessions.
pub(crate) struct LegacySessions {
    peers: Mutex<HashMap<u64, Session>>,
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

    /// Register `peer`, opened by `subject`, with the resources it
    /// subscribes to, until `ended` fires.
    pub(crate) fn add(
        self: &Arc<Self>,
        peer: Peer<RoleServer>,
        subject: Option<String>,
        subscriptions: Subscriptions,
        ended: CancellationToken,
    ) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.insert(
                id,
                Session {
                    peer,
                    subject,
                    subscriptions,
                },
            );
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

    /// Tell every live session of every change of `registry`: which lists
    /// changed, and which of its subscribed resources are now served by
    /// another version (or no longer served). Run this as a task for the
    /// life of the host.
    pub(crate) async fn notify_changes(self: Arc<Self>, registry: Registry) {
        let mut changes = registry.subscribe();
        let mut before = registry.snapshot();
        while changes.changed().await.is_ok() {
            let now = registry.snapshot();
            let sessions: Vec<(Peer<RoleServer>, Change)> = {
                let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
                // A backstop: a session whose transport closed without its
                // token firing.
                peers.retain(|_, s| !s.peer.is_transport_closed());
                self.count.send_replace(peers.len());
                (peers.values())
                    .map(|s| {
                        let subscribed = s.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
                        (
                            s.peer.clone(),
                            Change::between(&before, &now, subscribed.iter()),
                        )
                    })
                    .collect()
            };
            for (peer, change) in sessions {
                tokio::spawn(announce(peer, change));
            }
            before = now;
        }
    }
}

impl LegacySessions {
    /// Tell each live session of its caller's resources that calls said
    /// changed, when it subscribed to them. Run this as a task for the life
    /// of the host.
    pub(crate) async fn notify_updates(
        self: Arc<Self>,
        mut updates: tokio::sync::broadcast::Receiver<Arc<Updated>>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let update = match updates.recv().await {
                Ok(update) => update,
                Err(RecvError::Lagged(lost)) => {
                    tracing::warn!(
                        lost,
                        "resource-updated notifications lost: sessions too slow"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let peers: Vec<Peer<RoleServer>> = {
                let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
                (peers.values())
                    .filter(|s| s.subject.as_deref() == Some(update.subject.as_str()))
                    .filter(|s| {
                        let subscribed = s.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
                        subscribed.contains(&update.uri)
                    })
                    .map(|s| s.peer.clone())
                    .collect()
            };
            for peer in peers {
                let change = Change {
                    updated: vec![update.uri.clone()],
                    ..Change::default()
                };
                tokio::spawn(announce(peer, change));
            }
        }
    }
}

/// What one client hears of a change of the registry.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Change {
    /// The tools list changed.
    pub(crate) tools: bool,
    /// The resources (or templates) list changed.
    pub(crate) resources: bool,
    /// The prompts list changed.
    pub(crate) prompts: bool,
    /// Subscribed URIs now served by another version, or no longer served.
    pub(crate) updated: Vec<String>,
}

impl Change {
    /// The change from `before` to `now` for a client subscribed to
    /// `subscribed`.
    pub(crate) fn between<'a>(
        before: &Tools,
        now: &Tools,
        subscribed: impl IntoIterator<Item = &'a String>,
    ) -> Self {
        let (old, new) = (before.lists(), now.lists());
        Change {
            tools: old.tools != new.tools,
            resources: old.resources != new.resources,
            prompts: old.prompts != new.prompts,
            updated: (subscribed.into_iter())
                .filter(|uri| before.resource_version(uri) != now.resource_version(uri))
                .cloned()
                .collect(),
        }
    }
}

/// Send one session its notifications of one change.
async fn announce(peer: Peer<RoleServer>, change: Change) {
    let sent = async {
        if change.tools {
            peer.notify_tool_list_changed().await?;
        }
        if change.resources {
            peer.notify_resource_list_changed().await?;
        }
        if change.prompts {
            peer.notify_prompt_list_changed().await?;
        }
        for uri in change.updated {
            (peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))).await?;
        }
        Ok::<(), rmcp::service::ServiceError>(())
    };
    if let Err(e) = sent.await {
        tracing::debug!(error = %e, "session gone before its change notifications");
    }
}

/// Who owns each session of the older revisions, and how many each caller
/// holds: a session answers only the caller that opened it, and no caller
/// (nor all together) may hold more than the configured number.
pub(crate) struct SessionOwners {
    state: Mutex<Owners>,
    max_total: usize,
    max_per_caller: usize,
}

#[derive(Default)]
struct Owners {
    by_id: HashMap<String, String>,
    per_caller: HashMap<String, usize>,
    /// Slots taken by `initialize` requests still being answered.
    reserved: usize,
}

/// Why a session cannot be opened now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SessionRefused {
    /// The caller holds its most.
    #[error(
        "too many sessions: {subject} has {limit} open, the most one caller may have; end one \
         (HTTP DELETE with its Mcp-Session-Id) or let an idle one expire"
    )]
    Caller {
        /// The caller.
        subject: String,
        /// The limit.
        limit: usize,
    },
    /// The server holds its most.
    #[error(
        "too many sessions: this server holds {limit}, its most; retry shortly, or use the \
         stateless 2026-07-28 revision, which needs no session"
    )]
    Server {
        /// The limit.
        limit: usize,
    },
}

/// A slot held for a session being opened; given back when dropped unless
/// the session was recorded.
pub(crate) struct Reservation<'a> {
    owners: &'a SessionOwners,
    subject: String,
    held: bool,
}

impl Reservation<'_> {
    /// The session `id` was opened: it belongs to the reserving caller.
    pub(crate) fn opened(mut self, id: &str) {
        let mut state = self.owners.lock();
        state.reserved -= 1;
        state.by_id.insert(id.to_owned(), self.subject.clone());
        self.held = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.held {
            let mut state = self.owners.lock();
            state.reserved -= 1;
            forget_one(&mut state.per_caller, &self.subject);
        }
    }
}

fn forget_one(per_caller: &mut HashMap<String, usize>, subject: &str) {
    if let Some(n) = per_caller.get_mut(subject) {
        *n -= 1;
        if *n == 0 {
            per_caller.remove(subject);
        }
    }
}

impl SessionOwners {
    pub(crate) fn new(max_total: usize, max_per_caller: usize) -> Self {
        SessionOwners {
            state: Mutex::new(Owners::default()),
            max_total,
            max_per_caller,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hold a slot for a session `subject` is opening, if the limits allow.
    pub(crate) fn reserve(&self, subject: &str) -> Result<Reservation<'_>, SessionRefused> {
        let mut state = self.lock();
        if state.by_id.len() + state.reserved >= self.max_total {
            return Err(SessionRefused::Server {
                limit: self.max_total,
            });
        }
        let held = state.per_caller.get(subject).copied().unwrap_or(0);
        if held >= self.max_per_caller {
            return Err(SessionRefused::Caller {
                subject: subject.to_owned(),
                limit: self.max_per_caller,
            });
        }
        state.reserved += 1;
        *state.per_caller.entry(subject.to_owned()).or_default() += 1;
        Ok(Reservation {
            owners: self,
            subject: subject.to_owned(),
            held: true,
        })
    }

    /// Whether `subject` may use session `id`: it opened it, or the session
    /// is not one of ours (rmcp answers those with 404).
    pub(crate) fn may_use(&self, id: &str, subject: &str) -> bool {
        self.lock()
            .by_id
            .get(id)
            .is_none_or(|owner| owner == subject)
    }

    /// The session `id` ended.
    pub(crate) fn ended(&self, id: &str) {
        let mut state = self.lock();
        if let Some(subject) = state.by_id.remove(id) {
            forget_one(&mut state.per_caller, &subject);
        }
    }

    /// Sessions open now.
    pub(crate) fn open(&self) -> usize {
        self.lock().by_id.len()
    }
}

/// rmcp's in-memory session manager, telling [`SessionOwners`] when a
/// session ends (on DELETE, on its idle timeout, on shutdown), so the slot
/// is free again.
pub(crate) struct OwnedSessionManager {
    inner: rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
    owners: Arc<SessionOwners>,
}

impl OwnedSessionManager {
    pub(crate) fn new(owners: Arc<SessionOwners>, idle: std::time::Duration) -> Self {
        let mut inner =
            rmcp::transport::streamable_http_server::session::local::LocalSessionManager::default();
        inner.session_config.keep_alive = Some(idle);
        OwnedSessionManager { inner, owners }
    }
}

mod manager {
    use super::OwnedSessionManager;
    use futures_core::Stream;
    use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
    use rmcp::transport::streamable_http_server::session::SessionManager;
    use rmcp::transport::streamable_http_server::session::local::{
        LocalSessionManager, LocalSessionManagerError,
    };
    use rmcp::transport::streamable_http_server::session::{ServerSseMessage, SessionId};

    impl SessionManager for OwnedSessionManager {
        type Error = LocalSessionManagerError;
        type Transport = <LocalSessionManager as SessionManager>::Transport;

        async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
            self.inner.create_session().await
        }

        async fn initialize_session(
            &self,
            id: &SessionId,
            message: ClientJsonRpcMessage,
        ) -> Result<ServerJsonRpcMessage, Self::Error> {
            self.inner.initialize_session(id, message).await
        }

        async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
            self.inner.has_session(id).await
        }

        async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
            self.owners.ended(id);
            self.inner.close_session(id).await
        }

        async fn create_stream(
            &self,
            id: &SessionId,
            message: ClientJsonRpcMessage,
        ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
        {
            self.inner.create_stream(id, message).await
        }

        async fn accept_message(
            &self,
            id: &SessionId,
            message: ClientJsonRpcMessage,
        ) -> Result<(), Self::Error> {
            self.inner.accept_message(id, message).await
        }

        async fn create_standalone_stream(
            &self,
            id: &SessionId,
        ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
        {
            self.inner.create_standalone_stream(id).await
        }

        async fn resume(
            &self,
            id: &SessionId,
            last_event_id: String,
        ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
        {
            self.inner.resume(id, last_event_id).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_capped_per_caller_and_in_all_and_freed_when_they_end() {
        let owners = SessionOwners::new(3, 2);
        owners.reserve("alice").unwrap().opened("a1");
        owners.reserve("alice").unwrap().opened("a2");
        assert_eq!(
            owners.reserve("alice").err(),
            Some(SessionRefused::Caller {
                subject: "alice".into(),
                limit: 2
            })
        );
        {
            let _abandoned = owners.reserve("bob").unwrap();
            // While bob's initialize is answered, the server is full.
            assert!(matches!(
                owners.reserve("carol"),
                Err(SessionRefused::Server { limit: 3 })
            ));
        }
        owners.reserve("bob").unwrap().opened("b1");
        assert!(owners.may_use("a1", "alice") && !owners.may_use("a1", "bob"));
        assert!(owners.may_use("unknown", "bob"), "not ours: rmcp says 404");
        owners.ended("a1");
        assert!(owners.reserve("alice").is_ok(), "a slot is free again");
        assert_eq!(owners.open(), 2);
        owners.ended("a2");
        owners.ended("b1");
        assert!(
            owners.lock().per_caller.is_empty(),
            "nothing kept per caller"
        );
    }
}
