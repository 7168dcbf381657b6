//! `toolhost audit`: read the audit trail of tool calls.

use super::{EXIT_OK, EXIT_USAGE, print_line};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toolhost::clock::{Clock, SystemClock};
use toolhost::storage::audit::{AuditQuery, AuditStore, SqliteAuditStore};
use toolhost::storage::{Postgres, PostgresAuditStore};

#[derive(clap::Args)]
pub struct AuditArgs {
    /// The server's data directory (where `audit.db` is) [default: where
    /// the configuration keeps the trail: its PostgreSQL database with
    /// storage.backend = "postgres", else storage.data_dir, else .toolhost].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The server's configuration file, for where it keeps the trail.
    #[arg(long, env = "TOOLHOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Only calls by this subject.
    #[arg(long)]
    subject: Option<String>,
    /// Only calls of this tool.
    #[arg(long)]
    tool: Option<String>,
    /// Only calls since this long ago (`90s`, `15m`, `2h`, `7d`) or this
    /// RFC 3339 time (`2026-11-22T10:00:00Z`).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only `allowed`, `denied` or `rejected` calls.
    #[arg(long, value_parser = ["allowed", "denied", "rejected"])]
    decision: Option<String>,
    /// At most this many records, newest first.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// `since` as milliseconds since the epoch.
fn since_ms(since: &str) -> Result<i64, String> {
    if let Ok(ago) = humantime::parse_duration(since) {
        return Ok(SystemClock.unix_millis() - ago.as_millis() as i64);
    }
    humantime::parse_rfc3339_weak(since)
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis() as i64
        })
        .map_err(|_| {
            format!("--since {since:?}: not a duration like 15m or 2h, nor a time like 2026-11-22T10:00:00Z")
        })
}

/// The trail to read: `audit.db` in `--data`, else where the configuration
/// keeps it (PostgreSQL with `storage.backend = "postgres"`, else
/// `storage.data_dir`).
fn trail(data: Option<PathBuf>, config: Option<&Path>) -> Result<Box<dyn AuditStore>, String> {
    if let Some(dir) = data {
        let trail = SqliteAuditStore::open_existing(&SqliteAuditStore::path_in(&dir));
        return Ok(Box::new(trail.map_err(|e| e.to_string())?));
    }
    let config = toolhost::Config::load(config).map_err(|e| e.to_string())?;
    let trail: Box<dyn AuditStore> = match config.postgres_settings().map_err(|e| e.to_string())? {
        Some(settings) => Box::new(
            Postgres::connect(&settings)
                .and_then(PostgresAuditStore::open)
                .map_err(|e| e.to_string())?,
        ),
        None => Box::new(
            SqliteAuditStore::open_existing(&SqliteAuditStore::path_in(&config.storage.data_dir))
                .map_err(|e| e.to_string())?,
        ),
    };
    Ok(trail)
}

pub fn run(args: AuditArgs) -> u8 {
    let since = match args.since.as_deref().map(since_ms).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("toolhost audit: {e}");
            return EXIT_USAGE;
        }
    };
    let query = AuditQuery {
        subject: args.subject,
        tool: args.tool,
        since_ms: since,
        decision: args.decision,
        limit: args.limit,
    };
    let records = match trail(args.data, args.config.as_deref())
        .and_then(|t| t.query(&query).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("toolhost audit: {e}");
            return EXIT_USAGE;
        }
    };
    for r in &records {
        let line = if args.json {
            serde_json::to_string(r).unwrap_or_default()
        } else {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(r.at_ms.max(0) as u64);
            format!(
                "{}  {:<8}  {:<20} {:<16} {:<12} {:<18} {:>9} µs  {}",
                humantime::format_rfc3339_millis(at),
                r.decision,
                r.subject,
                r.tool,
                r.version.as_deref().unwrap_or("-"),
                r.outcome,
                r.duration_us,
                r.reason.as_deref().unwrap_or(""),
            )
        };
        if !print_line(&line) {
            return EXIT_OK;
        }
    }
    if records.is_empty() && !args.json {
        eprintln!("toolhost audit: no records match");
    }
    EXIT_OK
}
