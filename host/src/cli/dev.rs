//! `toolhost dev [DIR...]`: build tool projects, serve them in development
//! mode, and on every save rebuild the project and swap the new version in.
//!
//! Each project is built with its own build (see [`super::project`]) into a
//! plugins folder of the development data directory; the server's watcher
//! swaps the new component in and tells connected clients the lists
//! changed. Before it is installed a build is loaded once (compiled into the
//! artifact cache the server then reads), so a component that does not load
//! is reported with the reason and never replaces the last good version. A
//! build that fails is shown once, and the last good version keeps serving.

use super::project::{Project, Sources};
use super::{EXIT_USAGE, serve, shell_word, this_command};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use toolhost::{Config, Host};

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(250);
/// Sources must stay unchanged this long before a build starts (an editor
/// that writes several files, a formatter on save).
const QUIET: Duration = Duration::from_millis(150);
/// Longest wait for the server to serve an installed build.
const SERVE_WAIT: Duration = Duration::from_secs(60);

/// Arguments of `toolhost dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// Tool projects: directories with a `Cargo.toml` (Rust) or a `build.sh`
    /// (JavaScript, Python), as `toolhost new` makes them [default: .].
    dirs: Vec<PathBuf>,
    /// TOML configuration file (every key has a default).
    #[arg(long, env = "TOOLHOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3001].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Data directory: the served plugins, the store, the artifact cache and
    /// the development issuer's key [default: .toolhost/dev].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// Run `toolhost dev`.
pub fn run(args: DevArgs) -> u8 {
    let (projects, config) = match prepare(&args) {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("toolhost dev: {e}");
            return EXIT_USAGE;
        }
    };
    serve::run_server("dev", dev(projects, config))
}

/// The projects, and the configuration of the development server.
fn prepare(args: &DevArgs) -> Result<(Vec<Project>, Config), String> {
    let dirs = if args.dirs.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.dirs.clone()
    };
    let mut projects: Vec<Project> = Vec::new();
    for dir in &dirs {
        let project = Project::open(dir)?.ok_or_else(|| {
            format!(
                "{} is not a tool project: it has neither a Cargo.toml nor a build.sh \
                 (`toolhost new NAME --lang rust|js|python` makes one)",
                dir.display()
            )
        })?;
        if let Some(twin) = projects.iter().find(|p| p.name() == project.name()) {
            return Err(format!(
                "{} and {} are both named {:?}",
                twin.dir().display(),
                project.dir().display(),
                project.name()
            ));
        }
        projects.push(project);
    }
    let mut config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    config.storage.data_dir = (args.data.clone()).unwrap_or_else(|| PathBuf::from(".toolhost/dev"));
    config.plugins.dir = config.storage.data_dir.join("plugins");
    config.dev.enabled = true;
    config.validate().map_err(|e| e.to_string())?;
    // The folder is this command's: what other projects left there goes.
    let plugins = &config.plugins.dir;
    std::fs::create_dir_all(plugins)
        .map_err(|e| format!("cannot create {}: {e}", plugins.display()))?;
    for entry in std::fs::read_dir(plugins)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = projects.iter().any(|p| name == served_name(p));
        if name.ends_with(".wasm") && !ours {
            std::fs::remove_file(entry.path())
                .map_err(|e| format!("cannot remove {}: {e}", entry.path().display()))?;
        }
    }
    Ok((projects, config))
}

/// The file a project is served from, in the plugins folder.
fn served_name(project: &Project) -> String {
    format!("{}.wasm", project.name())
}

async fn dev(projects: Vec<Project>, config: Config) -> Result<(), String> {
    let plugins = config.plugins.dir.clone();
    let data = config.storage.data_dir.clone();
    let host = serve::start(config).await?;
    // Build before listening, so the first tools/list has them.
    let mut watched = Vec::new();
    for project in projects {
        let sources = project.sources();
        let host = host.clone();
        let (project, plugins) = (project.clone(), plugins.clone());
        let built = tokio::task::spawn_blocking(move || {
            rebuild(&host, &project, &plugins, None);
            project
        })
        .await
        .map_err(|e| e.to_string())?;
        watched.push((built, sources));
    }
    let (listener, router) = serve::listen(&host).await?;
    let url = format!("http://{}/mcp", host.config().server.listen);
    let data = std::path::absolute(&data).unwrap_or(data);
    println!(
        "  watching: {}",
        (watched.iter())
            .map(|(p, _)| format!("{} ({}, {})", p.name(), p.language(), p.dir().display()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!(
        "  MCP Inspector (Node.js 22.19 or later): `npx @modelcontextprotocol/inspector`, \
         Streamable HTTP, {url}, and sign in on the development page; or from a shell:\n    \
         npx @modelcontextprotocol/inspector --cli {url} --header \"Authorization: Bearer \
         $({} token --data {} --subject alice --roles member)\" --method tools/list",
        shell_word(&this_command()),
        shell_word(&data.to_string_lossy()),
    );
    let watcher = host.clone();
    std::thread::Builder::new()
        .name("dev-watch".into())
        .spawn(move || watch(&watcher, watched, &plugins))
        .map_err(|e| format!("cannot start watching: {e}"))?;
    host.serve_router(listener, router)
        .await
        .map_err(|e| e.to_string())
}

/// Rebuild each project whose sources changed, until the host shuts down.
fn watch(host: &Host, mut projects: Vec<(Project, Sources)>, plugins: &Path) {
    while !host.is_shutting_down() {
        std::thread::sleep(POLL);
        for (project, built_from) in &mut projects {
            let now = project.sources();
            if now == *built_from {
                continue;
            }
            std::thread::sleep(QUIET);
            if project.sources() != now {
                continue; // still being written: the next pass
            }
            *built_from = now.clone();
            println!("{}: changed, rebuilding", project.name());
            rebuild(host, project, plugins, now.newest());
        }
    }
}

/// Build `project`, check that it loads, install it, and say when it serves.
/// `saved` is when its newest source was written.
fn rebuild(host: &Host, project: &Project, plugins: &Path, saved: Option<SystemTime>) {
    let name = project.name();
    let started = Instant::now();
    let wasm = match project.build() {
        Ok(wasm) => wasm,
        Err(output) => {
            println!(
                "{name}: the build failed; the last good version keeps serving\n{}",
                indent(&output)
            );
            return;
        }
    };
    let build = started.elapsed();
    match install(host, &wasm, &plugins.join(served_name(project))) {
        Ok(Installed::Serving { version, tools }) => {
            let since = saved
                .and_then(|s| s.elapsed().ok())
                .map(|d| format!(", {:.1} s after the save", d.as_secs_f64()))
                .unwrap_or_default();
            println!(
                "{name}: serving version {version} (tools: {}); built in {:.1} s{since}",
                tools.join(", "),
                build.as_secs_f64()
            );
        }
        Ok(Installed::Unchanged) => println!("{name}: built, unchanged"),
        Err(e) => println!("{name}: {e}; the last good version keeps serving"),
    }
}

/// What became of an installed build.
enum Installed {
    /// The server serves it.
    Serving { version: String, tools: Vec<String> },
    /// The server already serves these bytes.
    Unchanged,
}

/// Load `wasm` (an error says why it cannot serve), put it in place as
/// `dest` (renamed over: the watcher never sees half a file), and wait until
/// the server serves it.
fn install(host: &Host, wasm: &Path, dest: &Path) -> Result<Installed, String> {
    let bytes = std::fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    if std::fs::read(dest).is_ok_and(|served| served == bytes) {
        return Ok(Installed::Unchanged);
    }
    host.runtime()
        .load_component(wasm, &bytes)
        .map_err(|e| format!("the component does not load: {e}"))?;
    let hash = toolhost::runtime::content_hash(&bytes);
    let refused_before = host.registry().problems().get(dest).cloned();
    let part = dest.with_extension("wasm.part");
    std::fs::write(&part, &bytes).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    std::fs::rename(&part, dest).map_err(|e| format!("cannot install {}: {e}", dest.display()))?;
    let deadline = Instant::now() + SERVE_WAIT;
    while Instant::now() < deadline {
        let tools = host.registry().snapshot();
        let served: Vec<String> = (tools.iter())
            .filter_map(|entry| entry.plugin())
            .filter(|p| p.path() == dest && p.content_hash() == hash)
            .map(|p| p.name().to_owned())
            .collect();
        if !served.is_empty() {
            return Ok(Installed::Serving {
                version: hash[..12].to_owned(),
                tools: served,
            });
        }
        if let Some(problem) = host.registry().problems().get(dest)
            && Some(problem) != refused_before.as_ref()
        {
            return Err(format!("the server refused it: {problem}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "installed as {}, but not served after {} s (see the server's log)",
        dest.display(),
        SERVE_WAIT.as_secs()
    ))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
