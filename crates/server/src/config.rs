//! Configuration: command-line flags, `TSUNAGI_SERVER_*` environment variables and an optional
//! TOML file with the same keys (flags and environment win over the file). docs/server.md
//! lists every key.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Burst of requests per key (default 100).
    #[arg(long, env = "TSUNAGI_SERVER_RATE_BURST")]
    pub rate_burst: Option<f64>,
    /// Seconds a request may take before it is answered 408 (default 60).
    #[arg(long, env = "TSUNAGI_SERVER_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Seconds a connection may take to send a request head, or stay idle (default 30).
    #[arg(long, env = "TSUNAGI_SERVER_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Requests handled at once; more are answered 503 (default 256).
    #[arg(long, env = "TSUNAGI_SERVER_MAX_CONCURRENT")]
    pub max_concurrent: Option<usize>,
    /// Failed bootstrap/enrollment/metrics attempts per client address per window (default 10).
    #[arg(long, env = "TSUNAGI_SERVER_SECRET_ATTEMPTS_PER_IP")]
    pub secret_attempts_per_ip: Option<u32>,
    /// The same from all addresses together (default 100).
    #[arg(long, env = "TSUNAGI_SERVER_SECRET_ATTEMPTS_TOTAL")]
    pub secret_attempts_total: Option<u32>,
    /// The window of those limits, seconds (default 600).
    #[arg(long, env = "TSUNAGI_SERVER_SECRET_ATTEMPTS_WINDOW_SECS")]
    pub secret_attempts_window_secs: Option<u64>,
    /// Bearer token for `GET /metrics` (at least 16 characters); unset: /metrics is 404.
    #[arg(long, env = "TSUNAGI_SERVER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Behind a reverse proxy on loopback: the client address is the last `X-Forwarded-For`.
    #[arg(long, env = "TSUNAGI_SERVER_TRUST_FORWARDED_FOR", num_args = 0..=1, default_missing_value = "true")]
    pub trust_forwarded_for: Option<bool>,
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
    request_timeout_secs: Option<u64>,
    header_timeout_secs: Option<u64>,
    max_concurrent: Option<usize>,
    secret_attempts_per_ip: Option<u32>,
    secret_attempts_total: Option<u32>,
    secret_attempts_window_secs: Option<u64>,
    metrics_token: Option<String>,
    trust_forwarded_for: Option<bool>,
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
        let secs = |flag: Option<u64>, file: Option<u64>, default: Duration, name: &str| match flag
            .or(file)
        {
            None => Ok(default),
            Some(0) => bail!("{name} must be at least 1 second"),
            Some(n) => Ok(Duration::from_secs(n)),
        };
        let request_timeout = secs(
            args.request_timeout_secs,
            file.request_timeout_secs,
            defaults.request_timeout,
            "request_timeout_secs",
        )?;
        let header_timeout = secs(
            args.header_timeout_secs,
            file.header_timeout_secs,
            defaults.header_timeout,
            "header_timeout_secs",
        )?;
        let secret_attempts_window = secs(
            args.secret_attempts_window_secs,
            file.secret_attempts_window_secs,
            defaults.secret_attempts_window,
            "secret_attempts_window_secs",
        )?;
        let max_concurrent = args
            .max_concurrent
            .or(file.max_concurrent)
            .unwrap_or(defaults.max_concurrent);
        let secret_attempts_per_ip = args
            .secret_attempts_per_ip
            .or(file.secret_attempts_per_ip)
            .unwrap_or(defaults.secret_attempts_per_ip);
        let secret_attempts_total = args
            .secret_attempts_total
            .or(file.secret_attempts_total)
            .unwrap_or(defaults.secret_attempts_total);
        if max_concurrent == 0 || secret_attempts_per_ip == 0 || secret_attempts_total == 0 {
            bail!(
                "max_concurrent, secret_attempts_per_ip and secret_attempts_total must be at least 1"
            );
        }
        let metrics_token = args.metrics_token.or(file.metrics_token);
        if metrics_token
            .as_deref()
            .is_some_and(|t| t.trim().chars().count() < 16 || t.trim() != t)
        {
            bail!("metrics_token must be at least 16 characters, without surrounding spaces");
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
                request_timeout,
                header_timeout,
                max_concurrent,
                secret_attempts_per_ip,
                secret_attempts_total,
                secret_attempts_window,
                metrics_token,
                trust_forwarded_for: args
                    .trust_forwarded_for
                    .or(file.trust_forwarded_for)
                    .unwrap_or(defaults.trust_forwarded_for),
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
        assert_eq!(
            c.settings.metrics_token, None,
            "no metrics token unless configured"
        );
        assert_eq!(c.settings.request_timeout, Duration::from_secs(60));
        assert_eq!(c.settings.max_concurrent, 256);

        std::fs::write(
            &path,
            "data = \"/d\"\nrequest_timeout_secs = 5\nheader_timeout_secs = 2\nmax_concurrent = 8\n\
             secret_attempts_per_ip = 3\nsecret_attempts_total = 9\nsecret_attempts_window_secs = 60\n\
             metrics_token = \"0123456789abcdef\"\ntrust_forwarded_for = true\n",
        )
        .unwrap();
        let c = Config::resolve(Args {
            config: Some(path.clone()),
            max_concurrent: Some(4),
            ..Args::default()
        })
        .unwrap();
        let s = &c.settings;
        assert_eq!(
            (
                s.request_timeout,
                s.header_timeout,
                s.secret_attempts_window
            ),
            (
                Duration::from_secs(5),
                Duration::from_secs(2),
                Duration::from_secs(60)
            )
        );
        assert_eq!(
            (
                s.max_concurrent,
                s.secret_attempts_per_ip,
                s.secret_attempts_total
            ),
            (4, 3, 9)
        );
        assert_eq!(s.metrics_token.as_deref(), Some("0123456789abcdef"));
        assert!(s.trust_forwarded_for);
        for bad in [
            "data = \"/d\"\nmetrics_token = \"short\"\n",
            "data = \"/d\"\nrequest_timeout_secs = 0\n",
            "data = \"/d\"\nmax_concurrent = 0\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                Config::resolve(Args {
                    config: Some(path.clone()),
                    ..Args::default()
                })
                .is_err(),
                "{bad}"
            );
        }

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
