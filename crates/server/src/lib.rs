//! `tsunagi-server`: the sync server. It verifies signatures and stores public keys, hashes
//! and ciphertext; it never holds a key that decrypts records (docs/identity.md,
//! docs/server.md, docs/protocol.md). `app(state)` is the whole HTTP API; `main.rs` only reads
//! configuration.

use axum::Router;
use axum::routing::{get, post};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tsunagi_crypto::identity::{SigKey, sha256};

pub mod auth;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod handlers;
pub mod limits;
pub mod metrics;
pub mod pgtest;
pub mod serve;
pub mod storage;
mod sync;

use storage::Storage;

/// Where the server keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite(PathBuf),
    /// PostgreSQL URL (`postgres://user@host:port/db`).
    Postgres(String),
}

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL devices use to reach this server (written into enrollment bundles); when
    /// unset, `http://<Host header>`.
    pub public_url: Option<String>,
    /// Sustained requests per second per key (device or admin).
    pub rate_per_sec: f64,
    /// Burst size per key.
    pub rate_burst: f64,
    /// Largest accepted request body, bytes.
    pub max_body: usize,
    /// Largest accepted push batch (`POST /v1/sync/push`), bytes.
    pub max_push_body: usize,
    /// A request not answered within this long (its body trickling in, or a handler stuck)
    /// is dropped and answered 408 `timeout`.
    pub request_timeout: Duration,
    /// A connection that has not sent a whole request head within this long (counted from
    /// the connection or from the previous answer: it also ends idle connections) is closed.
    pub header_timeout: Duration,
    /// Requests handled at once; one more is answered 503 `overloaded` at once.
    pub max_concurrent: usize,
    /// Failed attempts at a secret (bootstrap token, enrollment code, metrics token) allowed
    /// from one client address per `secret_attempts_window` (a token bucket of that burst).
    pub secret_attempts_per_ip: u32,
    /// The same from all addresses together.
    pub secret_attempts_total: u32,
    /// The window of the two limits above.
    pub secret_attempts_window: Duration,
    /// The bearer token `GET /metrics` requires; none: `/metrics` answers 404.
    pub metrics_token: Option<String>,
    /// The client address of a request from a loopback peer (a reverse proxy on the same
    /// machine) is the last one in its `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            public_url: None,
            rate_per_sec: 20.0,
            rate_burst: 100.0,
            max_body: 1 << 20,
            max_push_body: 4 << 20,
            request_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(30),
            max_concurrent: 256,
            secret_attempts_per_ip: 10,
            secret_attempts_total: 100,
            secret_attempts_window: Duration::from_secs(600),
            metrics_token: None,
            trust_forwarded_for: false,
        }
    }
}

/// Everything the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Arc<dyn Storage>,
    identity: SigKey,
    settings: Settings,
    metrics: metrics::Metrics,
    limiter: limits::RateLimiter,
    guard: guard::Guard,
    bootstrap_token: Option<String>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 4648 base32 without padding (upper case): enrollment codes and bootstrap tokens.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Hash of an enrollment code or bootstrap token as stored (codes are compared case-blind).
pub fn secret_hash(code: &str) -> [u8; 32] {
    sha256(code.trim().to_ascii_uppercase().as_bytes())
}

/// Reads the server identity key (a raw 32-byte Ed25519 seed), creating it with mode 0600 at
/// first start.
pub fn load_or_create_identity(path: &Path) -> anyhow::Result<SigKey> {
    use anyhow::Context;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read(path) {
        Ok(seed) => SigKey::from_seed(&seed)
            .map_err(|e| anyhow::anyhow!("{}: not a 32-byte key seed: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            f.write_all(key.seed().as_slice())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated the server identity key");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

impl AppState {
    /// Opens the storage (migrating it), and, when no org is bootstrapped yet, makes a new
    /// one-time bootstrap token (only its hash is stored) and returns it.
    pub async fn open(
        backend: &Backend,
        identity: SigKey,
        settings: Settings,
    ) -> anyhow::Result<AppState> {
        let storage: Arc<dyn Storage> = match backend {
            Backend::Sqlite(path) => {
                let path = path.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || {
                        storage::sqlite::SqliteStorage::open(&path)
                    })
                    .await??,
                )
            }
            Backend::Postgres(url) => {
                Arc::new(storage::postgres::PostgresStorage::connect(url).await?)
            }
        };
        Self::with_storage(storage, identity, settings).await
    }

    /// As [`AppState::open`], on a storage already opened.
    pub async fn with_storage(
        storage: Arc<dyn Storage>,
        identity: SigKey,
        settings: Settings,
    ) -> anyhow::Result<AppState> {
        let bootstrapped = storage
            .org()
            .await?
            .is_some_and(|o| o.bootstrapped_at.is_some());
        let mut bootstrap_token = None;
        if !bootstrapped {
            let token =
                base32(&tsunagi_crypto::random_array::<16>().map_err(|e| anyhow::anyhow!("{e}"))?);
            if storage
                .set_bootstrap_token(secret_hash(&token), now_ms())
                .await?
            {
                bootstrap_token = Some(token);
            }
        }
        Ok(AppState {
            inner: Arc::new(Inner {
                storage,
                identity,
                limiter: limits::RateLimiter::new(settings.rate_per_sec, settings.rate_burst),
                guard: guard::Guard::new(&settings),
                settings,
                metrics: metrics::Metrics::default(),
                bootstrap_token,
            }),
        })
    }

    /// The one-time bootstrap token made at this start, if the org was not bootstrapped.
    pub fn bootstrap_token(&self) -> Option<&str> {
        self.inner.bootstrap_token.as_deref()
    }

    /// The server identity public key.
    pub fn server_pub(&self) -> Vec<u8> {
        self.inner.identity.public().as_bytes().to_vec()
    }

    /// The storage.
    pub fn storage(&self) -> &dyn Storage {
        self.inner.storage.as_ref()
    }

    /// A shared handle on the storage (another `AppState` on the same database: a restart,
    /// or a second instance).
    pub fn storage_handle(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.inner.storage)
    }

    /// The HTTP tunables this state was made with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
}

/// The HTTP API.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new().route("/v1/health", get(handlers::health));
    // Without a token `/metrics` is not routed: a probe of it is an unknown path (404), not a
    // failed attempt at a secret that would use up the enrollment's allowance.
    if state.settings().metrics_token.is_some() {
        router = router.route("/metrics", get(metrics::endpoint));
    }
    router
        .route("/v1/bootstrap", post(handlers::bootstrap))
        .route("/v1/enroll", post(handlers::enroll))
        .route("/v1/keys", get(handlers::keys))
        .route("/v1/devices/{id}", get(handlers::device_info))
        .route("/v1/devices/{id}/approve", post(handlers::approve))
        .route("/v1/admin/teams", post(handlers::create_team))
        .route("/v1/admin/teams/{team}", get(handlers::team_members))
        .route("/v1/admin/teams/{team}/slots", post(handlers::rotate))
        .route(
            "/v1/admin/teams/{team}/statement",
            post(handlers::put_statement),
        )
        .route("/v1/teams/{team}/statement", get(handlers::get_statement))
        .route("/v1/admin/users", post(handlers::create_user))
        .route("/v1/admin/enrollments", post(handlers::create_enrollment))
        .route("/v1/admin/devices", get(handlers::list_devices))
        .route("/v1/admin/devices/{id}/revoke", post(handlers::revoke))
        .route("/v1/sync/push", post(sync::push))
        .route("/v1/sync/pull", get(sync::pull))
        .route("/v1/sync/snapshots", get(sync::snapshots))
        .route("/v1/sync/head", get(sync::head))
        .route("/v1/sync/mine", get(sync::mine))
        .route("/v1/sync/cases/{case}", get(sync::case_history))
        .route(
            "/v1/teams/{team}/kem",
            post(sync::publish_team_kem).get(sync::team_kem),
        )
        .route("/v1/devices/{id}/cert", get(sync::device_cert))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        // Innermost first: the deadline, the secret-attempt limit, the cap on requests in
        // flight, then the metrics that count all of their answers too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::secret_attempts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::admission,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(CatchPanicLayer::custom(handlers::panic_response))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_is_rfc4648() {
        // RFC 4648 §10 test vectors, without padding.
        for (input, out) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), out);
        }
        assert_eq!(base32(&[0u8; 16]).len(), 26);
    }
}
