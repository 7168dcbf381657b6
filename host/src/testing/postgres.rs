//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
//! directory, a server on a loopback port, removed when dropped.
//!
//! It runs the server binaries of Debian's `postgresql` package (found under
//! `/usr/lib/postgresql/*/bin`, on `PATH`, or in `TOOLHOST_PG_BIN`). As
//! root, it runs them as the `postgres` user, since PostgreSQL refuses to
//! run as root.
//!
//! ```no_run
//! use toolhost::testing::postgres::PostgresCluster;
//!
//! let cluster = PostgresCluster::start().unwrap();
//! let url = cluster.create_database("notes").unwrap();
//! // postgres://toolhost@127.0.0.1:PORT/notes
//! # let _ = url;
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The superuser every cluster is made with (trust authentication, on
/// loopback only).
pub const USER: &str = "toolhost";

/// A running PostgreSQL server on 127.0.0.1, stopped and deleted on drop.
#[derive(Debug)]
pub struct PostgresCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The directory holding `initdb`, `pg_ctl` and `createdb`.
fn server_binaries() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TOOLHOST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").is_file())
        .ok_or_else(|| {
            "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: \
             install Debian's postgresql package (`make postgres`), or set TOOLHOST_PG_BIN"
                .to_string()
        })
}

fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

impl PostgresCluster {
    /// Make a new cluster and start its server; fails with what to install
    /// when PostgreSQL is missing.
    pub fn start() -> Result<Self, String> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let bin = server_binaries()?;
        let dir = std::env::temp_dir().join(format!(
            "toolhost-pg-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let as_postgres = running_as_root();
        let cluster = PostgresCluster {
            dir,
            bin,
            port: free_port()?,
            as_postgres,
        };
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&cluster.dir);
            run(chown, "chown postgres")?;
        }
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(cluster.data()).args([
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        cluster.resume()?;
        Ok(cluster)
    }

    /// A server binary, run as `postgres` when this process is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The directory the cluster lives in (its server log is `server.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Create `database` and return its URL.
    pub fn create_database(&self, database: &str) -> Result<String, String> {
        let mut createdb = self.command("createdb");
        createdb
            .args(["-h", "127.0.0.1", "-U", USER, "-p"])
            .arg(self.port.to_string())
            .arg(database);
        run(createdb, "createdb")?;
        Ok(self.url(database))
    }

    /// Stop the server (fast shutdown: connections are closed).
    pub fn stop(&self) -> Result<(), String> {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "-t", "30", "stop"]);
        run(stop, "pg_ctl stop")
    }

    /// Start the server again (after [`PostgresCluster::stop`]), on the same
    /// port, and wait until it accepts connections.
    pub fn resume(&self) -> Result<(), String> {
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
                self.port,
                self.dir.display()
            ))
            .arg("start");
        run(start, "pg_ctl start").map_err(|e| {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            format!("{e}\nserver log:\n{log}")
        })?;
        // pg_ctl -w waits for the socket; a first connection can still race.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if std::time::Instant::now() > deadline {
                return Err(format!("the server on port {} did not listen", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        let _ = stop.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
