//! Command-line parsing and dispatch.

mod audit;
mod call;
mod config;
mod dev;
mod inspect;
mod keys;
mod new;
mod project;
mod serve;
mod test;
mod token;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use toolhost::runtime::RuntimeConfig;
use toolhost::storage::{SqliteStore, SyncMode};
use toolhost::{Runtime, Store};

/// Exit code: the tool ran and succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: the tool returned an error (or the call was refused).
pub const EXIT_TOOL_ERROR: u8 = 1;
/// Exit code: bad command line, or the plugin could not be loaded.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "toolhost",
    version,
    about = "An MCP server whose tools are sandboxed WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one call of a plugin and print the MCP CallToolResult as JSON.
    ///
    /// Exit status: 0 success, 1 the tool returned an error (or the caller
    /// lacks a role), 2 the plugin could not be loaded or the command line is wrong.
    Call(call::CallArgs),
    /// Print a plugin's description (name, schemas, roles) and its imports as JSON.
    Inspect(inspect::InspectArgs),
    /// Serve the plugins of a directory over MCP (Streamable HTTP at /mcp, or stdio).
    Serve(serve::ServeArgs),
    /// Print a bearer token from the development issuer (for `serve --dev`).
    Token(token::TokenArgs),
    /// Read the audit trail of tool calls (who, which tool and version,
    /// allowed or not and why, outcome, duration), newest first.
    Audit(audit::AuditArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Manage the key that signs the proxy's access tokens and the caller
    /// tokens tools' requests carry.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Create a tool project (Rust, JavaScript or Python) that builds with
    /// one command, with a working example tool.
    New(new::NewArgs),
    /// Build tool projects, serve them in development mode, and rebuild and
    /// swap in each one when its sources change.
    Dev(dev::DevArgs),
    /// Run the declarative cases of a tool's `tests.toml` in isolation (no
    /// server, no authentication); exit 1 if any fails.
    Test(test::TestArgs),
}

/// Where compiled artifacts go, shared by the subcommands.
#[derive(clap::Args)]
pub struct CacheArgs {
    /// Compiled-artifact cache directory [default: DATA/cache with --data,
    /// else $XDG_CACHE_HOME/toolhost or ~/.cache/toolhost].
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Compile on every load; write no cache.
    #[arg(long, conflicts_with = "cache")]
    no_cache: bool,
}

impl CacheArgs {
    fn dir(&self, data: Option<&Path>) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache {
            return Some(dir.clone());
        }
        if let Some(data) = data {
            return Some(data.join("cache"));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("toolhost"))
    }
}

/// A runtime over SQLite in `data`, or over memory without it, with the
/// limits of `base` (the configuration's, or the defaults).
fn runtime(cache: &CacheArgs, data: Option<&Path>, base: RuntimeConfig) -> Result<Runtime, String> {
    let store = match data {
        Some(dir) => {
            Store::new(SqliteStore::open_dir(dir, SyncMode::Full).map_err(|e| e.to_string())?)
        }
        None => Store::in_memory(),
    };
    let config = RuntimeConfig {
        cache_dir: cache.dir(data),
        max_instances: 16,
        ..base
    };
    Runtime::new(config, store).map_err(|e| e.to_string())
}

/// Logs go to stderr (stdout carries results, or the stdio transport).
/// `TOOLHOST_LOG` takes a filter such as `debug` or `toolhost=debug`;
/// `TOOLHOST_LOG_FORMAT=json` writes one JSON object per line (with the
/// fields of the current span, e.g. the call's tool, version and subject).
///
/// Built with the `otel` feature, `serve` also exports its spans over OTLP
/// when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
/// is set, through the same filter; an unusable setting is logged as an
/// error and the server runs without export.
fn init_logging(serving: bool) -> Logging {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, Layer};
    let default = if serving {
        "info,rmcp=warn"
    } else {
        "warn,toolhost::plugin=info"
    };
    let filter =
        EnvFilter::try_from_env("TOOLHOST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match std::env::var("TOOLHOST_LOG_FORMAT").as_deref() {
        Ok("json") => fmt.json().with_current_span(true).boxed(),
        _ => fmt.boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otel")]
    {
        let (layer, export) = otel::layer(serving);
        let _ = subscriber.with(layer).try_init();
        Logging {
            otel: export.report(),
        }
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = subscriber.try_init();
        Logging {}
    }
}

/// What logging set up that must outlive the command.
struct Logging {
    /// The span export, when on.
    #[cfg(feature = "otel")]
    otel: Option<toolhost::otel::OtelGuard>,
}

impl Logging {
    /// Send the spans still queued (at the end of the command).
    fn finish(self) {
        #[cfg(feature = "otel")]
        if let Some(otel) = self.otel
            && let Err(e) = otel.shutdown()
        {
            tracing::warn!(error = %e, "spans queued for export may be lost");
        }
    }
}

/// Span export over OTLP, for `serve`, when the environment names an endpoint.
#[cfg(feature = "otel")]
mod otel {
    use toolhost::otel::{OtelError, OtelGuard};
    use tracing_subscriber::Layer;

    /// How setting up the export went, to log once the subscriber is in place.
    pub enum Export {
        /// No endpoint is configured, or not serving: nothing to do.
        Off,
        /// Spans go to this endpoint (redacted).
        On(String, OtelGuard),
        /// The settings are unusable.
        Failed(OtelError),
    }

    impl Export {
        /// Log the outcome; the guard, when exporting.
        pub fn report(self) -> Option<OtelGuard> {
            match self {
                Export::Off => None,
                Export::On(endpoint, guard) => {
                    tracing::info!(%endpoint, "exporting spans over OTLP");
                    Some(guard)
                }
                Export::Failed(e) => {
                    tracing::error!("OpenTelemetry export is off: {e}");
                    None
                }
            }
        }
    }

    /// The OTLP layer (`None` when not exporting) and how it went.
    pub fn layer<S>(serving: bool) -> (Option<impl Layer<S>>, Export)
    where
        S: tracing::Subscriber
            + for<'a> tracing_subscriber::registry::LookupSpan<'a>
            + Send
            + Sync
            + 'static,
    {
        if !serving {
            return (None, Export::Off);
        }
        let endpoint = match toolhost::otel::traces_endpoint() {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => return (None, Export::Off),
            Err(e) => return (None, Export::Failed(e)),
        };
        match toolhost::otel::otlp_layer() {
            Ok((layer, guard)) => (
                Some(layer),
                Export::On(toolhost::otel::redacted(&endpoint), guard),
            ),
            Err(e) => (None, Export::Failed(e)),
        }
    }
}

/// Parse the command line and run it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let logging = init_logging(matches!(cli.command, Command::Serve(_)));
    let code = match cli.command {
        Command::Call(args) => call::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Config(command) => config::run(command),
        Command::Keys(command) => keys::run(command),
        Command::New(args) => new::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Test(args) => test::run(args),
    };
    logging.finish();
    ExitCode::from(code)
}

/// Write `line` and a newline to stdout. False when stdout is gone (a pipe
/// whose reader left, as in `toolhost call … | head`): the caller stops
/// writing, and nothing panics.
fn print_line(line: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => false,
        Err(e) => {
            eprintln!("toolhost: cannot write to stdout: {e}");
            false
        }
    }
}

/// Print `value` as pretty JSON on stdout.
fn print_json(value: &serde_json::Value) {
    print_line(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// How a shell runs this binary again: `toolhost` when that name on the
/// `PATH` is this very file, otherwise its full path (after `make run` the
/// binary is in the target directory, not on the `PATH`).
pub(crate) fn this_command() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "toolhost".to_owned();
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let first = std::env::split_paths(&path)
        .map(|dir| dir.join("toolhost"))
        .find(|candidate| candidate.is_file());
    match first.and_then(|c| std::fs::canonicalize(c).ok()) {
        Some(found) if found == me => "toolhost".to_owned(),
        _ => me.to_string_lossy().into_owned(),
    }
}

/// `word` quoted for a POSIX shell when it needs to be.
pub(crate) fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:@,%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
