//! Throwaway PostgreSQL clusters for tests and the load harness: `initdb` + `pg_ctl` from the
//! system's PostgreSQL in a temporary directory, on a free loopback port, trust auth. As root
//! (initdb refuses root) the commands run as the `postgres` user through `runuser`. A watchdog
//! process stops the cluster and removes its directory when this process exits, however it
//! exits, so no postgres is left running.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

static SHARED: OnceLock<PgCluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin`, else `PATH`.
pub fn bindir() -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("initdb").exists() {
            return Ok(p);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    if let Some((_, p)) = found.pop() {
        return Ok(p);
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()?;
    if which.status.success() {
        let p = PathBuf::from(String::from_utf8_lossy(&which.stdout).trim());
        if let Some(dir) = p.parent() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "PostgreSQL not found (no pg_config, /usr/lib/postgresql/*/bin or initdb on PATH): run scripts/setup"
    )
}

fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl PgCluster {
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, mut c: Command, what: &str) -> anyhow::Result<()> {
        let out = c
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Creates and starts a cluster in a new temporary directory.
    pub fn start() -> anyhow::Result<PgCluster> {
        let bin = bindir()?;
        let as_postgres = euid_is_root();
        let dir = tempfile::Builder::new()
            .prefix("tsunagi-pg-")
            .tempdir()?
            .keep();
        let port = free_port()?;
        let cluster = PgCluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        std::fs::create_dir(cluster.dir.join("sock"))?;
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:postgres").arg(&cluster.dir);
            cluster.run(chown, "chown")?;
        }
        cluster.spawn_watchdog()?;
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(cluster.data()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        cluster.run(initdb, "initdb")?;
        let mut start = cluster.command("pg_ctl");
        start
            .arg("-D")
            .arg(cluster.data())
            .arg("-l")
            .arg(cluster.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
                cluster.port,
                cluster.dir.join("sock").display()
            ))
            .arg("start");
        cluster.run(start, "pg_ctl start")?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the cluster and removes its directory when this process has exited.
    fn spawn_watchdog(&self) -> anyhow::Result<()> {
        let pid = std::process::id();
        let stop = format!(
            "{runuser}{pg_ctl} -D {data} -m fast -w stop",
            runuser = if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data().display(),
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            dir = self.dir.display()
        );
        // setsid: the watchdog outlives a Ctrl-C sent to the test's process group.
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the cluster watchdog")?;
        Ok(())
    }

    /// Stops the cluster now (the watchdog then only removes the directory).
    pub fn stop(&self) {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"]);
        if let Err(e) = self.run(c, "pg_ctl stop") {
            tracing::warn!(error = %e, "stopping the test cluster");
        }
    }

    /// The cluster's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new empty database and returns its URL.
    pub async fn create_database(&self) -> anyhow::Result<String> {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let (client, conn) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls).await?;
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        drop(client);
        let _ = task.await;
        Ok(self.url(&name))
    }
}

/// One cluster per process, started on first use and stopped when the process exits.
pub fn shared() -> anyhow::Result<&'static PgCluster> {
    if let Some(c) = SHARED.get() {
        return Ok(c);
    }
    static START: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = START
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = SHARED.get() {
        return Ok(c);
    }
    let c = PgCluster::start()?;
    Ok(SHARED.get_or_init(|| c))
}
