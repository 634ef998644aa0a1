//! Configuration: command-line flags, `TSUNAGI_SERVER_*` environment variables and an optional
//! TOML file with the same keys (flags and environment win over the file). docs/server.md
//! lists every key.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{Backend, Settings};

/// Default listen address: loopback, for a reverse proxy on the same machine.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// `tsunagi-server` flags (each also an environment variable).
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "tsunagi-server", version, about = "Tsunagi sync server")]
pub struct Args {
    /// TOML file with the same keys as the flags (data, database, listen, ...).
    #[arg(long, env = "TSUNAGI_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: `server.db` (SQLite) and `server-identity.key`.
    #[arg(long, env = "TSUNAGI_SERVER_DATA")]
    pub data: Option<PathBuf>,
    /// PostgreSQL URL (`postgres://user@host:port/db`) instead of the SQLite file.
    #[arg(long, env = "TSUNAGI_SERVER_DATABASE")]
    pub database: Option<String>,
    /// Address to listen on (default 127.0.0.1:8443).
    #[arg(long, env = "TSUNAGI_SERVER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for built-in TLS (with --tls-key).
    #[arg(long, env = "TSUNAGI_SERVER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in TLS (with --tls-cert).
    #[arg(long, env = "TSUNAGI_SERVER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The URL devices reach this server at, written into enrollment bundles.
    #[arg(long, env = "TSUNAGI_SERVER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Sustained requests per second per device or admin key (default 20).
    #[arg(long, env = "TSUNAGI_SERVER_RATE_PER_SEC")]
    pub rate_per_sec: Option<f64>,
    /// Burst of requests per key (default 40).
    #[arg(long, env = "TSUNAGI_SERVER_RATE_BURST")]
    pub rate_burst: Option<f64>,
}

/// The TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    database: Option<String>,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    public_url: Option<String>,
    rate_per_sec: Option<f64>,
    rate_burst: Option<f64>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data: PathBuf,
    /// Storage.
    pub backend: Backend,
    /// Listen address.
    pub listen: SocketAddr,
    /// Built-in TLS: certificate chain and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// HTTP tunables.
    pub settings: Settings,
}

impl Config {
    /// Resolves flags and environment over the file over the defaults.
    pub fn resolve(args: Args) -> anyhow::Result<Config> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let Some(data) = args.data.or(file.data) else {
            bail!("--data DIR is required (TSUNAGI_SERVER_DATA, or `data` in the config file)");
        };
        let backend = match args.database.or(file.database) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Backend::Postgres(url)
            }
            Some(_) => bail!("--database must be a postgres:// URL"),
            None => Backend::Sqlite(data.join("server.db")),
        };
        let listen = match args.listen.or(file.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN.parse()?,
        };
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        };
        let defaults = Settings::default();
        let rate_per_sec = args
            .rate_per_sec
            .or(file.rate_per_sec)
            .unwrap_or(defaults.rate_per_sec);
        let rate_burst = args
            .rate_burst
            .or(file.rate_burst)
            .unwrap_or(defaults.rate_burst);
        if !(rate_per_sec > 0.0 && rate_burst >= 1.0) {
            bail!("rate_per_sec must be > 0 and rate_burst >= 1");
        }
        Ok(Config {
            data,
            backend,
            listen,
            tls,
            settings: Settings {
                public_url: args.public_url.or(file.public_url),
                rate_per_sec,
                rate_burst,
                ..defaults
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(
            &path,
            "data = \"/srv/tsunagi\"\nlisten = \"0.0.0.0:9000\"\nrate_per_sec = 5.0\n",
        )
        .unwrap();
        let c = Config::resolve(Args {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:1".parse().unwrap()),
            ..Args::default()
        })
        .unwrap();
        assert_eq!(c.data, PathBuf::from("/srv/tsunagi"));
        assert_eq!(c.listen.port(), 1);
        assert!((c.settings.rate_per_sec - 5.0).abs() < f64::EPSILON);
        assert!(matches!(c.backend, Backend::Sqlite(ref p) if p.ends_with("server.db")));

        std::fs::write(&path, "dta = \"/x\"\n").unwrap();
        assert!(
            Config::resolve(Args {
                config: Some(path),
                ..Args::default()
            })
            .is_err()
        );
        assert!(
            Config::resolve(Args::default()).is_err(),
            "data is required"
        );
    }
}
