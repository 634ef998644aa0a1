//! Shared fixtures of the end-to-end tests: a real `tsunagi-server` on 127.0.0.1 (SQLite file or
//! a throwaway PostgreSQL database), IT's `tsunagi-admin` state, and real devices whose keys
//! live in the real OS keystore (run through `scripts/test`).

use std::path::{Path, PathBuf};
use tsunagi_admin::{Admin, Passphrase};
use tsunagi_device::{Device, OsKeystore};
use tsunagi_server::{AppState, Backend, Settings, app};

/// Which server backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL (throwaway cluster started by the test).
    Postgres,
}

/// Fails (never skips) outside a keystore session.
pub fn require_keystore() {
    assert!(
        std::env::var_os("TSUNAGI_TEST_KEYSTORE").is_some(),
        "these tests need a real Secret Service: run them through scripts/test"
    );
}

/// A running server and a temp dir for everything of one scenario.
#[derive(Debug)]
pub struct World {
    /// Base URL.
    pub url: String,
    /// The server's state (bootstrap token).
    pub state: AppState,
    /// Scratch space.
    pub dir: tempfile::TempDir,
}

/// The IT passphrase used in tests.
pub const PASSPHRASE: &str = "correct horse battery staple";

impl World {
    /// Starts a server on 127.0.0.1 port 0.
    pub async fn start(kind: Kind) -> World {
        World::start_wrapped(kind, |r| r).await
    }

    /// Starts a server on 127.0.0.1 port 0 whose router `wrap` may add layers to (a test that
    /// holds a request at a chosen moment).
    pub async fn start_wrapped(
        kind: Kind,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> World {
        require_keystore();
        let dir = tempfile::tempdir().unwrap();
        let backend = match kind {
            Kind::Sqlite => Backend::Sqlite(dir.path().join("server.db")),
            Kind::Postgres => {
                let cluster = tokio::task::spawn_blocking(tsunagi_server::pgtest::shared)
                    .await
                    .unwrap()
                    .expect("throwaway PostgreSQL cluster");
                Backend::Postgres(cluster.create_database().await.unwrap())
            }
        };
        let identity =
            tsunagi_server::load_or_create_identity(&dir.path().join("server-identity.key"))
                .unwrap();
        let state = AppState::open(&backend, identity, Settings::default())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = wrap(app(state.clone()));
        tokio::spawn(async move { axum::serve(listener, router).await });
        World { url, state, dir }
    }

    /// IT bootstraps the org and returns its admin handle.
    pub async fn admin(&self) -> Admin {
        let dir = self.dir.path().join("admin");
        let token = self
            .state
            .bootstrap_token()
            .expect("fresh server has a token")
            .to_owned();
        let pass = Passphrase::new_for_init(PASSPHRASE).unwrap();
        tsunagi_admin::init(&dir, &self.url, &token, &pass)
            .await
            .unwrap();
        Admin::open(&dir, Passphrase::new(PASSPHRASE)).unwrap()
    }

    /// A new device directory path.
    pub fn device_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A fresh device (no PIN) in `dir`.
pub fn new_device(dir: &Path, user: &str) -> Device {
    Device::init(dir, None, user, &OsKeystore::new()).unwrap().0
}
