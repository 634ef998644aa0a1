//! Test harness: starts a server on a fresh database, and plays admin, devices and leads with
//! real keys and the real client.

use tsunagi_crypto::identity::{KemKey, SigKey, SlotContext, TeamKey, seal_team_key};
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, BootstrapResponse, CreateEnrollment, CreateTeam, CreateUser,
    DeviceCert, DeviceInfo, EnrollRequest, EnrollResponse, EnrollmentBundle, KeySlot, Role, Team,
    User,
};
use tsunagi_protocol::client::{Client, ClientError, Signer};
use tsunagi_server::{AppState, Backend, Settings, app};

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Where a test server keeps its data.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// A running server.
pub struct Server {
    pub url: String,
    pub state: AppState,
    pub db: Db,
    _dir: tempfile::TempDir,
}

/// The bearer token of `/metrics` on test servers.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// The default settings, with the metrics open to [`METRICS_TOKEN`].
pub fn settings() -> Settings {
    Settings {
        metrics_token: Some(METRICS_TOKEN.into()),
        ..Settings::default()
    }
}

pub async fn start(kind: Kind) -> Server {
    start_with(kind, settings()).await
}

pub async fn start_with(kind: Kind, settings: Settings) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (backend, db) = match kind {
        Kind::Sqlite => {
            let path = dir.path().join("server.db");
            (Backend::Sqlite(path.clone()), Db::Sqlite(path))
        }
        Kind::Postgres => {
            let url = pg_database().await;
            (Backend::Postgres(url.clone()), Db::Postgres(url))
        }
    };
    let identity =
        tsunagi_server::load_or_create_identity(&dir.path().join("server-identity.key")).unwrap();
    let state = AppState::open(&backend, identity, settings).await.unwrap();
    serve(state, db, dir).await
}

/// A server whose storage waits `delay` between a push's last write and its commit.
pub async fn start_with_commit_delay(
    kind: Kind,
    settings: Settings,
    delay: std::time::Duration,
) -> Server {
    use std::sync::Arc;
    use tsunagi_server::storage::{Storage, postgres::PostgresStorage, sqlite::SqliteStorage};
    let dir = tempfile::tempdir().unwrap();
    let (storage, db): (Arc<dyn Storage>, Db) = match kind {
        Kind::Sqlite => {
            let path = dir.path().join("server.db");
            let p = path.clone();
            let s = tokio::task::spawn_blocking(move || SqliteStorage::open(&p))
                .await
                .unwrap()
                .unwrap();
            (Arc::new(s.with_push_commit_delay(delay)), Db::Sqlite(path))
        }
        Kind::Postgres => {
            let url = pg_database().await;
            let s = PostgresStorage::connect(&url).await.unwrap();
            (Arc::new(s.with_push_commit_delay(delay)), Db::Postgres(url))
        }
    };
    let identity =
        tsunagi_server::load_or_create_identity(&dir.path().join("server-identity.key")).unwrap();
    let state = AppState::with_storage(storage, identity, settings)
        .await
        .unwrap();
    serve(state, db, dir).await
}

async fn pg_database() -> String {
    let cluster = tokio::task::spawn_blocking(tsunagi_server::pgtest::shared)
        .await
        .unwrap()
        .expect("throwaway PostgreSQL cluster");
    cluster.create_database().await.unwrap()
}

async fn serve(state: AppState, db: Db, dir: tempfile::TempDir) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(state.clone());
    let header_timeout = state.settings().header_timeout;
    tokio::spawn(tsunagi_server::serve::serve(
        listener,
        None,
        router,
        header_timeout,
        std::future::pending(),
    ));
    Server {
        url,
        state,
        db,
        _dir: dir,
    }
}

pub fn copy_key(k: &SigKey) -> SigKey {
    SigKey::from_seed(k.seed().as_slice()).unwrap()
}

pub fn signed(url: &str, key_id: &str, key: &SigKey) -> Client {
    Client::new(
        url,
        Some(Signer {
            key_id: key_id.into(),
            key: copy_key(key),
        }),
    )
    .unwrap()
}

pub fn anon(url: &str) -> Client {
    Client::new(url, None).unwrap()
}

/// The HTTP status and code of a refusal.
pub fn refusal<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Refused { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A bootstrapped org.
pub struct Org {
    pub server: Server,
    pub admin: SigKey,
    pub ork: KemKey,
}

/// An enrolled device with its own keys.
pub struct Dev {
    pub id: uuid::Uuid,
    pub user: User,
    pub sig: SigKey,
    pub kem: KemKey,
}

impl Org {
    pub async fn new(kind: Kind) -> Org {
        Org::bootstrap(start(kind).await).await
    }

    pub async fn bootstrap(server: Server) -> Org {
        let admin = SigKey::generate().unwrap();
        let ork = KemKey::generate().unwrap();
        let token = server.state.bootstrap_token().unwrap().to_owned();
        let r: BootstrapResponse = anon(&server.url)
            .post(
                "/v1/bootstrap",
                &BootstrapRequest {
                    token,
                    admin_pub: admin.public().as_bytes().to_vec(),
                    org_recovery_pub: ork.public().as_bytes().to_vec(),
                },
            )
            .await
            .unwrap();
        assert_eq!(r.server_pub, server.state.server_pub());
        Org { server, admin, ork }
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    pub fn admin(&self) -> Client {
        signed(self.url(), "admin", &self.admin)
    }

    pub fn as_device(&self, d: &Dev) -> Client {
        signed(self.url(), &d.id.to_string(), &d.sig)
    }

    pub async fn team(&self, id: &str) -> Team {
        self.admin()
            .post(
                "/v1/admin/teams",
                &CreateTeam {
                    id: id.into(),
                    program: "csw".into(),
                },
            )
            .await
            .unwrap()
    }

    pub async fn user(&self, name: &str, team: &str, role: Role) -> User {
        self.admin()
            .post(
                "/v1/admin/users",
                &CreateUser {
                    name: name.into(),
                    team: team.into(),
                    role,
                },
            )
            .await
            .unwrap()
    }

    pub async fn provision(&self, user: &User) -> EnrollmentBundle {
        self.admin()
            .post(
                "/v1/admin/enrollments",
                &CreateEnrollment {
                    user: user.id,
                    ttl_hours: None,
                },
            )
            .await
            .unwrap()
    }

    /// Enrolls a new device for `user` (pending).
    pub async fn enroll(&self, user: &User) -> Dev {
        let bundle = self.provision(user).await;
        let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
        let r: EnrollResponse = anon(self.url())
            .post("/v1/enroll", &enroll_request(&bundle.code, &sig, &kem))
            .await
            .unwrap();
        // The device checks the server's answer with the pinned key.
        tsunagi_crypto::identity::SigPublic::from_bytes(&bundle.server_pub)
            .unwrap()
            .verify(
                &EnrollResponse::signed_message(&r.device, &bundle.code, sig.public().as_bytes()),
                &tsunagi_crypto::identity::Signature::from_bytes(&r.server_sig).unwrap(),
            )
            .unwrap();
        Dev {
            id: r.device,
            user: user.clone(),
            sig,
            kem,
        }
    }

    /// Approves `dev` as the admin, with the team key `tk` of `epoch` (and an org slot when
    /// `epoch` is created).
    pub async fn approve_by_admin(
        &self,
        dev: &Dev,
        tk: &TeamKey,
        epoch: u32,
        with_org: bool,
    ) -> Result<DeviceInfo, ClientError> {
        let mut slots = vec![slot(
            &dev.user.team,
            epoch,
            &dev.id.to_string(),
            &dev.kem.public(),
            tk,
            "admin",
            &self.admin,
        )];
        if with_org {
            slots.push(slot(
                &dev.user.team,
                epoch,
                "org",
                &self.ork.public(),
                tk,
                "admin",
                &self.admin,
            ));
        }
        self.admin()
            .post(
                &format!("/v1/devices/{}/approve", dev.id),
                &ApproveRequest {
                    cert: cert(dev, "admin", &self.admin),
                    slots,
                },
            )
            .await
    }

    /// Approves `dev` as `lead`.
    pub async fn approve_by_lead(
        &self,
        lead: &Dev,
        dev: &Dev,
        tk: &TeamKey,
        epoch: u32,
    ) -> Result<DeviceInfo, ClientError> {
        let signer = lead.id.to_string();
        self.as_device(lead)
            .post(
                &format!("/v1/devices/{}/approve", dev.id),
                &ApproveRequest {
                    cert: cert(dev, &signer, &lead.sig),
                    slots: vec![slot(
                        &dev.user.team,
                        epoch,
                        &dev.id.to_string(),
                        &dev.kem.public(),
                        tk,
                        &signer,
                        &lead.sig,
                    )],
                },
            )
            .await
    }
}

pub fn enroll_request(code: &str, sig: &SigKey, kem: &KemKey) -> EnrollRequest {
    let (sp, kp) = (
        sig.public().as_bytes().to_vec(),
        kem.public().as_bytes().to_vec(),
    );
    EnrollRequest {
        device: None,
        proof: sig
            .sign(&EnrollRequest::proof_message(code, &sp, &kp))
            .0
            .to_vec(),
        code: code.into(),
        sig_pub: sp,
        kem_pub: kp,
    }
}

pub fn cert(dev: &Dev, signer: &str, key: &SigKey) -> DeviceCert {
    let mut c = DeviceCert {
        device: dev.id,
        user: dev.user.id,
        user_name: dev.user.name.clone(),
        team: dev.user.team.clone(),
        role: dev.user.role,
        sig_pub: dev.sig.public().as_bytes().to_vec(),
        kem_pub: dev.kem.public().as_bytes().to_vec(),
        issued_at: "2026-05-20T09:00:00.000Z".into(),
        signer: signer.into(),
        sig: Vec::new(),
    };
    c.sig = key.sign(&c.signed_message()).0.to_vec();
    c
}

pub fn slot(
    team: &str,
    epoch: u32,
    recipient: &str,
    to: &tsunagi_crypto::identity::KemPublic,
    tk: &TeamKey,
    signer: &str,
    key: &SigKey,
) -> KeySlot {
    let sealed = seal_team_key(
        to,
        tk,
        &SlotContext {
            team,
            epoch,
            recipient,
        },
    )
    .unwrap();
    let mut s = KeySlot {
        team: team.into(),
        epoch,
        recipient: recipient.into(),
        enc: sealed.enc,
        ct: sealed.ct,
        signer: signer.into(),
        sig: Vec::new(),
    };
    s.sig = key.sign(&s.signed_message()).0.to_vec();
    s
}

/// Sends raw bytes with an arbitrary Authorization header (or none).
pub async fn raw(
    url: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let http = http();
    let mut req = http
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{url}{path}"),
        )
        .header("content-type", "application/json")
        .body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

pub fn now_ms() -> i64 {
    tsunagi_server::now_ms()
}

/// A plain reqwest client (with the TLS provider reqwest needs installed first).
pub fn http() -> reqwest::Client {
    let _ = tsunagi_protocol::client::Pool::new();
    reqwest::Client::new()
}

/// `GET /metrics` with the test bearer token: status and text.
pub async fn metrics(url: &str) -> (u16, String) {
    let resp = http()
        .get(format!("{url}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}
