//! Hot reload: watch the plugins directory and republish the tool set.
//!
//! File-system events only mark the directory dirty; after `debounce` without
//! further events the directory is reconciled off the async runtime (loads
//! compile or read cached artifacts) and the result is published. Files still
//! being written are picked up by a follow-up reconcile. A slow periodic
//! rescan covers events the OS dropped.

use super::{PluginDir, Registry};
use notify::{RecursiveMode, Watcher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Timings of the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// Quiet time after the last event before reconciling, in milliseconds.
    pub debounce_ms: u64,
    /// A file modified more recently than this is left for the next pass, in
    /// milliseconds (a copy in progress is not reported as broken).
    pub settle_ms: u64,
    /// Full rescan even without events, in seconds (0 = never).
    pub rescan_secs: u64,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            debounce_ms: 100,
            settle_ms: 100,
            rescan_secs: 30,
        }
    }
}

/// Start watching `dir` and publishing into `registry` until `cancel` fires.
/// Must be called within a Tokio runtime. The first reconcile is the
/// caller's (so start-up can wait for it); this only follows changes.
pub fn spawn_watcher(
    dir: Arc<Mutex<PluginDir>>,
    registry: Registry,
    config: WatchConfig,
    cancel: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, notify::Error> {
    let (tx, rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Err(e) = &event {
            tracing::warn!(error = %e, "plugins directory watch error; rescanning");
        }
        // A full channel already means "dirty".
        let _ = tx.try_send(());
    })?;
    let path = dir
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .dir()
        .to_path_buf();
    watcher.watch(&path, RecursiveMode::NonRecursive)?;
    Ok(tokio::spawn(async move {
        // The watcher lives as long as the task.
        let _watcher = watcher;
        run(dir, registry, config, cancel, rx).await;
    }))
}

async fn run(
    dir: Arc<Mutex<PluginDir>>,
    registry: Registry,
    config: WatchConfig,
    cancel: CancellationToken,
    mut events: mpsc::Receiver<()>,
) {
    let debounce = Duration::from_millis(config.debounce_ms);
    let settle = Duration::from_millis(config.settle_ms.max(1));
    let rescan = match config.rescan_secs {
        0 => Duration::MAX,
        s => Duration::from_secs(s),
    };
    let mut retry_after: Option<Duration> = None;
    loop {
        let wait = retry_after.unwrap_or(rescan);
        tokio::select! {
            _ = cancel.cancelled() => return,
            event = events.recv() => {
                if event.is_none() {
                    return;
                }
                // Debounce: wait for a quiet period.
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        more = events.recv() => if more.is_none() { return },
                        _ = tokio::time::sleep(debounce) => break,
                    }
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
        let dir = dir.clone();
        let reconciled = tokio::task::spawn_blocking(move || {
            dir.lock()
                .unwrap_or_else(|e| e.into_inner())
                .reconcile(true)
        })
        .await;
        match reconciled {
            Ok(r) => {
                retry_after = r.pending.then_some(settle);
                registry.set_problems(r.problems);
                if registry.publish(r.catalog) {
                    let tools = registry.snapshot();
                    tracing::info!(
                        generation = tools.generation(),
                        tools = tools.len(),
                        "tool set changed"
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "reconciling the plugins directory failed"),
        }
    }
}
