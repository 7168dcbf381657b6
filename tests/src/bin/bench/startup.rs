//! Start-up: `Host::start` with 10 plugins until it is ready to serve,
//! with an empty and with a warm compiled-artifact cache.

use super::{Stats, fmt, record};
use serde_json::json;
use std::path::Path;
use std::time::Instant;
use toolhost::{Config, Host};
use toolhost_tests::plugins;

/// Ten plugins with distinct tool names.
pub const TEN: [&str; 10] = [
    plugins::NOTES_LIST,
    plugins::NOTES_CREATE,
    plugins::SWAP_V1,
    plugins::HOSTILE_LOOP,
    plugins::HOSTILE_MEMORY,
    plugins::HOSTILE_RECURSION,
    plugins::HOSTILE_OUTPUT,
    plugins::HOSTILE_LOG,
    plugins::HOSTILE_FILE,
    plugins::HOSTILE_ENV,
];

fn config(root: &Path) -> Config {
    let mut config = Config::default();
    config.plugins.dir = root.join("plugins");
    config.storage.data_dir = root.join("data");
    config.plugins.watch = false;
    config
}

/// `runs` starts each way.
pub async fn start_up(runs: usize) -> anyhow::Result<()> {
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let root = tempfile::tempdir()?;
        std::fs::create_dir(root.path().join("plugins"))?;
        for p in TEN {
            let p = Path::new(p);
            std::fs::copy(p, root.path().join("plugins").join(p.file_name().unwrap()))?;
        }
        for samples in [&mut cold, &mut warm] {
            let t = Instant::now();
            let host = Host::start(config(root.path())).await?;
            samples.push(t.elapsed());
            anyhow::ensure!(
                host.registry().snapshot().len() == TEN.len(),
                "not every plugin loaded: {:?}",
                host.registry().problems()
            );
            host.shutdown();
        }
    }
    println!("| artifact cache | runs | p50 | max |");
    println!("|---|---|---|---|");
    for (what, samples) in [("empty (compiles all 10)", cold), ("warm", warm)] {
        let max = *samples.iter().max().unwrap();
        let stats = Stats::of(samples);
        println!(
            "| {what} | {} | {} | {} |",
            stats.n,
            fmt(stats.p50),
            fmt(max)
        );
        let mut figure = stats.json();
        figure["what"] = json!(what);
        record(figure);
    }
    Ok(())
}
