//! `tsunagi-server` as a child process for the benchmark (SQLite in a data directory, 127.0.0.1,
//! random port), so that its RSS and disk are its own; and what the harness needs of any server.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the harness needs of a running server, however it was started.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The one-time bootstrap token.
    pub bootstrap_token: String,
    /// Its data directory (measured as the server's disk).
    pub data_dir: PathBuf,
    /// Its process id, when it is a process of its own (RSS is read from it).
    pub pid: Option<u32>,
}

/// A `tsunagi-server` child process; stopped (SIGTERM, then waited for) by [`ServerProcess::stop`]
/// or killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    info: ServerInfo,
}

impl ServerProcess {
    /// Starts `bin --data DIR --listen 127.0.0.1:PORT` and waits until it accepts connections.
    /// `lift_rate_limit` sets the per-key rate limit out of reach (the benchmark measures
    /// throughput, and the peer has no such limit).
    /// `log` is its `RUST_LOG` (its log goes to our stderr).
    pub fn start(
        bin: &Path,
        data: &Path,
        lift_rate_limit: bool,
        log: &str,
    ) -> anyhow::Result<ServerProcess> {
        if !bin.is_file() {
            bail!(
                "no server binary at {} (build it: cargo build --release -p tsunagi-server)",
                bin.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = Command::new(bin);
        cmd.arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if lift_rate_limit {
            cmd.env("TSUNAGI_SERVER_RATE_PER_SEC", "1000000")
                .env("TSUNAGI_SERVER_RATE_BURST", "1000000");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = ServerProcess {
            info: ServerInfo {
                url: format!("http://127.0.0.1:{port}"),
                bootstrap_token: String::new(),
                data_dir: data.to_owned(),
                pid: Some(child.id()),
            },
            child: None,
        };
        let stdout = child.stdout.take().context("server stdout")?;
        server.child = Some(child);
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        server.info.bootstrap_token = line
            .trim()
            .strip_prefix("bootstrap token: ")
            .with_context(|| format!("no bootstrap token from the server: {line:?}"))?
            .to_owned();
        // Keep draining stdout so that a later line can never block the server on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        // The token is printed before the listener binds: wait for the port.
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t.elapsed() > Duration::from_secs(20) {
                bail!("tsunagi-server did not listen on port {port} within 20 s");
            }
            if let Some(c) = server.child.as_mut()
                && let Some(status) = c.try_wait()?
            {
                bail!("tsunagi-server exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// What the harness needs.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// SIGTERM, then wait: the server finishes in-flight requests and exits.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !status.success() {
            let _ = child.kill();
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("tsunagi-server exited with {status}");
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Only on an early return: our own child, by its handle.
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
