//! `tsunagi-loadtest`: the issues' figures. Starts `tsunagi-server` as a child process (so its
//! RSS is its own) on SQLite and on a throwaway PostgreSQL, enrolls and approves N simulated
//! devices (timing each provision → enroll → approve round trip), then runs a bounded load
//! from N concurrent devices and prints its rate, p50/p99 and the server's peak RSS (VmHWM).
//! Scenarios: `keys` (signed `GET /v1/keys`) and `push` (each device creates a case and pushes
//! batches of sealed change envelopes to `POST /v1/sync/push`).

use anyhow::{Context, bail};
use clap::Parser;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tsunagi_crypto::case::{CaseKey, CaseKeyContext, seal_case_key, seal_payload, team_kem};
use tsunagi_crypto::identity::{KemKey, KemPublic, SigKey, SlotContext, TeamKey, seal_team_key};
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, BootstrapResponse, CreateEnrollment, CreateTeam, CreateUser,
    DeviceCert, DeviceInfo, EnrollRequest, EnrollResponse, EnrollmentBundle, Head, KeyDirectory,
    KeySlot, Role, Team, User,
};
use tsunagi_protocol::client::{Client, Signer};
use tsunagi_protocol::wire::{Aux, Envelope, Kind, PushResponse, PushResult, encode_batch};

#[derive(Debug, Parser)]
#[command(about = "Load figures of tsunagi-server on SQLite and PostgreSQL")]
struct Args {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Simulated devices (each enrolled, approved, then one concurrent caller).
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// Devices per team.
    #[arg(long, default_value_t = 20)]
    team_size: usize,
    /// Load duration, seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// At most this many requests in the load phase.
    #[arg(long, default_value_t = 500_000)]
    max_requests: u64,
    /// The server binary (default: `tsunagi-server` beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// `keys` (signed GET /v1/keys) or `push` (sealed change envelopes to POST /v1/sync/push).
    #[arg(long, default_value = "keys")]
    scenario: String,
    /// Push scenario: envelopes per push.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// Push scenario: sealed payload bytes per change envelope (a compressed change set).
    #[arg(long, default_value_t = 2400)]
    payload: usize,
    /// Push scenario: offered pushes per second over all devices, each device pushing at
    /// random (Poisson) times, its batches sealed before the clock starts; latency counts from
    /// the time a push was due, so a device still waiting for its previous push is measured
    /// too. 0: closed loop, every device pushing again as soon as it is answered (saturation).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

/// Most bytes of batches sealed ahead for an offered load.
const OFFERED_BYTES_MAX: f64 = 4e9;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !["keys", "push"].contains(&args.scenario.as_str()) {
        bail!("unknown scenario {} (keys or push)", args.scenario);
    }
    if !(1..=1000).contains(&args.batch) {
        bail!("--batch must be 1 to 1000");
    }
    if !(args.rate.is_finite() && (0.0..=100_000.0).contains(&args.rate)) {
        bail!("--rate must be 0 (closed loop) to 100000 pushes per second");
    }
    // The offered load seals every batch before the clock starts: keep that in memory.
    let sealed = (args.rate * args.seconds as f64).min(args.max_requests as f64)
        * args.batch as f64
        * (args.payload as f64 + 200.0);
    if sealed > OFFERED_BYTES_MAX {
        bail!(
            "--rate {} for {} s would seal {:.1} GB of batches ahead (at most {:.0} GB): lower --rate, --seconds, --batch or --payload",
            args.rate,
            args.seconds,
            sealed / 1e9,
            OFFERED_BYTES_MAX / 1e9
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let backends: &[&str] = match args.backend.as_str() {
        "both" => &["sqlite", "postgres"],
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        other => bail!("unknown backend {other}"),
    };
    for b in backends {
        rt.block_on(run(&args, b))?;
    }
    Ok(())
}

struct ServerProcess {
    child: Child,
    url: String,
    token: String,
}

impl ServerProcess {
    fn start(
        bin: &PathBuf,
        data: &std::path::Path,
        database: Option<&str>,
    ) -> anyhow::Result<ServerProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = Command::new(bin);
        cmd.arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            // The load is 200 devices as fast as they can: lift the per-key limit.
            .env("TSUNAGI_SERVER_RATE_PER_SEC", "1000000")
            .env("TSUNAGI_SERVER_RATE_BURST", "1000000")
            // Every device may have a request in flight.
            .env("TSUNAGI_SERVER_MAX_CONCURRENT", "1000000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database {
            cmd.arg("--database").arg(url);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let token = line
            .trim()
            .strip_prefix("bootstrap token: ")
            .with_context(|| format!("no bootstrap token from the server: {line:?}"))?
            .to_owned();
        Ok(ServerProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            token,
        })
    }

    fn vm(&self, field: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .map(|l| l[field.len()..].trim().to_owned())
            })
            .unwrap_or_else(|| "?".into())
    }

    /// SIGTERM, then wait: the server finishes in-flight requests and exits.
    fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("server exited with {status}");
        }
        Ok(())
    }
}

fn signer(id: &str, key: &SigKey) -> Signer {
    Signer {
        key_id: id.into(),
        key: SigKey::from_seed(key.seed().as_slice()).expect("seed"),
    }
}

fn slot(
    team: &str,
    epoch: u32,
    recipient: &str,
    to: &tsunagi_crypto::identity::KemPublic,
    tk: &TeamKey,
    admin: &SigKey,
) -> anyhow::Result<KeySlot> {
    let sealed = seal_team_key(
        to,
        tk,
        &SlotContext {
            team,
            epoch,
            recipient,
        },
    )?;
    let mut s = KeySlot {
        team: team.into(),
        epoch,
        recipient: recipient.into(),
        enc: sealed.enc,
        ct: sealed.ct,
        signer: "admin".into(),
        sig: Vec::new(),
    };
    s.sig = admin.sign(&s.signed_message()).0.to_vec();
    Ok(s)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(args: &Args, backend: &str) -> anyhow::Result<()> {
    let bin = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("tsunagi-server"),
    };
    let data = tempfile::tempdir()?;
    let cluster = if backend == "postgres" {
        Some(tokio::task::spawn_blocking(tsunagi_server::pgtest::PgCluster::start).await??)
    } else {
        None
    };
    let database = match &cluster {
        Some(c) => Some(c.create_database().await?),
        None => None,
    };
    let server = ServerProcess::start(&bin, data.path(), database.as_deref())?;
    let url = server.url.clone();

    let admin = SigKey::generate()?;
    let ork = KemKey::generate()?;
    let _: BootstrapResponse = Client::new(&url, None)?
        .post(
            "/v1/bootstrap",
            &BootstrapRequest {
                token: server.token.clone(),
                admin_pub: admin.public().as_bytes().to_vec(),
                org_recovery_pub: ork.public().as_bytes().to_vec(),
            },
        )
        .await?;
    let admin_client = Client::new(&url, Some(signer("admin", &admin)))?;
    let anon = Client::new(&url, None)?;

    // Enrollment round trips, one after another.
    let mut round_trips = Vec::with_capacity(args.devices);
    let mut devices: Vec<(String, SigKey, usize)> = Vec::with_capacity(args.devices);
    let mut team_keys: Vec<TeamKey> = Vec::new();
    for i in 0..args.devices {
        let t = i / args.team_size.max(1);
        let team = format!("team-{t}");
        if i % args.team_size.max(1) == 0 {
            let _: Team = admin_client
                .post(
                    "/v1/admin/teams",
                    &CreateTeam {
                        id: team.clone(),
                        program: "csw".into(),
                    },
                )
                .await?;
            team_keys.push(TeamKey::generate()?);
        }
        let role = if i % args.team_size.max(1) == 0 {
            Role::Lead
        } else {
            Role::Worker
        };
        let user: User = admin_client
            .post(
                "/v1/admin/users",
                &CreateUser {
                    name: format!("職員{i}"),
                    team: team.clone(),
                    role,
                },
            )
            .await?;
        let started = Instant::now();
        let bundle: EnrollmentBundle = admin_client
            .post(
                "/v1/admin/enrollments",
                &CreateEnrollment {
                    user: user.id,
                    ttl_hours: None,
                },
            )
            .await?;
        let (sig, kem) = (SigKey::generate()?, KemKey::generate()?);
        let (sp, kp) = (
            sig.public().as_bytes().to_vec(),
            kem.public().as_bytes().to_vec(),
        );
        let enrolled: EnrollResponse = anon
            .post(
                "/v1/enroll",
                &EnrollRequest {
                    device: None,
                    proof: sig
                        .sign(&EnrollRequest::proof_message(&bundle.code, &sp, &kp))
                        .0
                        .to_vec(),
                    code: bundle.code.clone(),
                    sig_pub: sp.clone(),
                    kem_pub: kp.clone(),
                },
            )
            .await?;
        let id = enrolled.device.to_string();
        let mut cert = DeviceCert {
            device: enrolled.device,
            user: user.id,
            user_name: user.name.clone(),
            team: team.clone(),
            role,
            sig_pub: sp,
            kem_pub: kp,
            issued_at: "2026-05-20T09:00:00.000Z".into(),
            signer: "admin".into(),
            sig: Vec::new(),
        };
        cert.sig = admin.sign(&cert.signed_message()).0.to_vec();
        let tk = &team_keys[t];
        let mut slots = vec![slot(&team, 1, &id, &kem.public(), tk, &admin)?];
        if role == Role::Lead {
            slots.push(slot(&team, 1, "org", &ork.public(), tk, &admin)?);
        }
        let _: DeviceInfo = admin_client
            .post(
                &format!("/v1/devices/{id}/approve"),
                &ApproveRequest { cert, slots },
            )
            .await?;
        round_trips.push(started.elapsed());
        devices.push((id, sig, t));
    }
    round_trips.sort();

    if args.scenario == "push" {
        push_load(args, backend, &url, &devices, &team_keys, &server).await?;
    } else {
        keys_load(args, backend, &url, &devices, team_keys.len(), &server).await?;
    }
    println!(
        "backend={backend} enrollment round trip (provision → enroll → approve, {} devices, sequential): p50={:.2}ms p99={:.2}ms max={:.2}ms",
        round_trips.len(),
        ms(percentile(&round_trips, 0.50)),
        ms(percentile(&round_trips, 0.99)),
        ms(round_trips.last().copied().unwrap_or_default()),
    );
    server.stop()?;
    if let Some(c) = cluster {
        c.stop();
    }
    Ok(())
}

async fn keys_load(
    args: &Args,
    backend: &str,
    url: &str,
    devices: &[(String, SigKey, usize)],
    teams: usize,
    server: &ServerProcess,
) -> anyhow::Result<()> {
    // The bounded load: every device calls GET /v1/keys in a loop.
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let load_started = Instant::now();
    let mut tasks = Vec::new();
    for (id, key, _) in devices {
        let client = Client::new(url, Some(signer(id, key)))?;
        let issued = Arc::clone(&issued);
        let max = args.max_requests;
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let t0 = Instant::now();
                match client.get::<KeyDirectory>("/v1/keys").await {
                    Ok(_) => lat.push(t0.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = load_started.elapsed();
    lat.sort();
    let hwm = server.vm("VmHWM:");
    let rss = server.vm("VmRSS:");
    println!(
        "backend={backend} scenario=keys devices={} teams={} load={:.1}s ok={} errors={} rps={:.0} p50={:.2}ms p99={:.2}ms server_VmHWM={hwm} server_VmRSS_end={rss}",
        devices.len(),
        teams,
        elapsed.as_secs_f64(),
        lat.len(),
        errors,
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
    );
    Ok(())
}

/// A case as its device knows it: id, key id and key of epoch 1.
struct CaseState {
    id: [u8; 16],
    key_id: [u8; 16],
    ck: CaseKey,
}

/// An unsealed, unsigned envelope of epoch 1 of `case`.
fn envelope(kind: Kind, author: [u8; 16], case: &CaseState, aux: Aux) -> anyhow::Result<Envelope> {
    Ok(Envelope {
        kind,
        id: tsunagi_crypto::random_array()?,
        case: case.id,
        epoch: 1,
        key_id: case.key_id,
        author,
        aux,
        nonce: [0; 12],
        ct: Vec::new(),
        sig: [0; 64],
    })
}

fn slot_envelope(
    author: [u8; 16],
    key: &SigKey,
    case: &CaseState,
    team: &str,
    team_pub: &KemPublic,
) -> anyhow::Result<Vec<u8>> {
    let sealed = seal_case_key(
        team_pub,
        &case.ck,
        &CaseKeyContext {
            case: &case.id,
            epoch: 1,
            key_id: &case.key_id,
            team,
            team_epoch: 1,
        },
    )?;
    let mut e = envelope(
        Kind::CaseKey,
        author,
        case,
        Aux::CaseKey {
            team: team.into(),
            team_epoch: 1,
            created: 1,
            enc: sealed.enc,
        },
    )?;
    e.ct = sealed.ct;
    e.sign(key);
    Ok(e.encode())
}

fn change_envelope(
    author: [u8; 16],
    key: &SigKey,
    case: &CaseState,
    payload: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let mut e = envelope(Kind::Change, author, case, Aux::None)?;
    let (nonce, ct) = seal_payload(&case.ck, &e.id, &e.aad(), payload)?;
    e.nonce = nonce;
    e.ct = ct;
    e.sign(key);
    Ok(e.encode())
}

/// One push; its accepted count, or why it failed.
async fn push_once(client: &Client, envelopes: &[Vec<u8>]) -> anyhow::Result<usize> {
    let (status, body) = client
        .send_raw("POST", "/v1/sync/push", encode_batch(envelopes))
        .await?;
    if status != 200 {
        bail!("push answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let r: PushResponse = serde_json::from_slice(&body)?;
    let accepted = r
        .results
        .iter()
        .filter(|r| matches!(r, PushResult::Accepted { .. }))
        .count();
    if accepted != envelopes.len() {
        bail!("not all accepted: {:?}", r.results.first());
    }
    Ok(accepted)
}

async fn push_load(
    args: &Args,
    backend: &str,
    url: &str,
    devices: &[(String, SigKey, usize)],
    team_keys: &[TeamKey],
    server: &ServerProcess,
) -> anyhow::Result<()> {
    // Each device creates its case (one key slot) before the clock starts.
    let mut ready = Vec::with_capacity(devices.len());
    for (id, key, t) in devices {
        let team = format!("team-{t}");
        let team_pub = team_kem(&team_keys[*t], &team, 1)?.public();
        let client = Client::new(url, Some(signer(id, key)))?;
        let author = *uuid::Uuid::parse_str(id)?.as_bytes();
        let case = CaseState {
            id: tsunagi_crypto::random_array()?,
            key_id: tsunagi_crypto::random_array()?,
            ck: CaseKey::generate()?,
        };
        push_once(
            &client,
            &[slot_envelope(author, key, &case, &team, &team_pub)?],
        )
        .await?;
        ready.push((client, author, signer(id, key).key, case));
    }

    let load = if args.rate > 0.0 {
        open_loop(args, ready).await?
    } else {
        closed_loop(args, ready).await?
    };
    let (
        Tally {
            mut lat,
            errors,
            accepted,
            first_error,
        },
        elapsed,
    ) = load;
    lat.sort();
    let hwm = server.vm("VmHWM:");
    let rss = server.vm("VmRSS:");
    // Every accepted envelope (and the slots) has a seq: the head says so.
    let (id, key, _) = &devices[0];
    let head: Head = Client::new(url, Some(signer(id, key)))?
        .get("/v1/sync/head")
        .await?;
    println!(
        "backend={backend} scenario=push mode={} devices={} batch={} payload={}B load={:.1}s pushes_ok={} pushes_per_s={:.0} errors={} envelopes_accepted={} envelopes_per_s={:.0} push_p50={:.2}ms push_p99={:.2}ms push_max={:.2}ms head={} server_VmHWM={hwm} server_VmRSS_end={rss}",
        if args.rate > 0.0 {
            format!("offered:{}/s", args.rate)
        } else {
            "closed".to_owned()
        },
        devices.len(),
        args.batch,
        args.payload,
        elapsed.as_secs_f64(),
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        errors,
        accepted,
        accepted as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
        head.head,
    );
    if let Some(e) = first_error {
        println!("backend={backend} first push error: {e}");
    }
    if head.head != (accepted + devices.len()) as u64 {
        bail!(
            "head {} is not the {} accepted envelopes plus {} slots",
            head.head,
            accepted,
            devices.len()
        );
    }
    Ok(())
}

/// A device ready to push: its client, id, signing key and case.
type Ready = (Client, [u8; 16], SigKey, CaseState);

/// What a load phase measured: every device's pushes added up, and how long it took.
type Load = (Tally, Duration);

/// What pushes measured.
#[derive(Default)]
struct Tally {
    /// Latency of every answered push (unsorted).
    lat: Vec<Duration>,
    errors: u64,
    accepted: usize,
    first_error: Option<String>,
}

impl Tally {
    fn fail(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert(e.to_string());
    }

    /// A push's outcome; its latency counted from `since`.
    fn record(&mut self, result: anyhow::Result<usize>, since: Instant) {
        match result {
            Ok(n) => {
                self.lat.push(since.elapsed());
                self.accepted += n;
            }
            Err(e) => self.fail(&e),
        }
    }
}

/// Waits for every device and adds up what they measured since `started`.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    started: Instant,
) -> anyhow::Result<Load> {
    let mut all = Tally::default();
    for t in tasks {
        let one = t.await?;
        all.lat.extend(one.lat);
        all.errors += one.errors;
        all.accepted += one.accepted;
        all.first_error = all.first_error.or(one.first_error);
    }
    Ok((all, started.elapsed()))
}

/// A change set's sealed bytes: a compressed change set does not compress further, so
/// random-looking bytes, different per device.
fn payload_of(device: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (j.wrapping_mul(131) ^ device.wrapping_mul(31)) as u8)
        .collect()
}

/// The saturation load: every device pushes again as soon as it is answered.
async fn closed_loop(args: &Args, ready: Vec<Ready>) -> anyhow::Result<Load> {
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let load_started = Instant::now();
    let mut tasks = Vec::new();
    for (i, (client, author, key, case)) in ready.into_iter().enumerate() {
        let issued = Arc::clone(&issued);
        let (max, batch) = (args.max_requests, args.batch);
        let payload = payload_of(i, args.payload);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let envelopes = match (0..batch)
                    .map(|_| change_envelope(author, &key, &case, &payload))
                    .collect::<anyhow::Result<Vec<_>>>()
                {
                    Ok(e) => e,
                    Err(e) => {
                        tally.fail(&e);
                        continue;
                    }
                };
                let t0 = Instant::now();
                let result = push_once(&client, &envelopes).await;
                tally.record(result, t0);
            }
            tally
        }));
    }
    gather(tasks, load_started).await
}

/// splitmix64: the load's own reproducible arrival times (not for keys).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Poisson arrivals at `rate` per second within `seconds`: the times a push is due.
fn arrivals(seed: u64, rate: f64, seconds: f64) -> Vec<Duration> {
    let mut state = seed;
    let (mut t, mut out) = (0.0f64, Vec::new());
    loop {
        // Uniform in (0, 1]: 53 random bits.
        let u = ((splitmix(&mut state) >> 11) + 1) as f64 / (1u64 << 53) as f64;
        t += -u.ln() / rate;
        if t >= seconds {
            return out;
        }
        out.push(Duration::from_secs_f64(t));
    }
}

/// The offered load: each device pushes at its own random times, `--rate` over all devices.
/// Every batch is sealed before the clock starts, so the measured phase is the server's work
/// and the HTTP round trip (a real device seals on its own CPU). A push's latency counts from
/// the time it was due.
async fn open_loop(args: &Args, ready: Vec<Ready>) -> anyhow::Result<Load> {
    let per_device = args.rate / ready.len() as f64;
    let mut planned = Vec::with_capacity(ready.len());
    let mut total = 0u64;
    for (i, (client, author, key, case)) in ready.into_iter().enumerate() {
        let mut due = arrivals(
            0x0054_5355_4E41_4749 ^ i as u64,
            per_device,
            args.seconds as f64,
        );
        due.truncate(
            usize::try_from(args.max_requests.saturating_sub(total)).unwrap_or(usize::MAX),
        );
        total += due.len() as u64;
        let payload = payload_of(i, args.payload);
        let batches = due
            .iter()
            .map(|_| {
                (0..args.batch)
                    .map(|_| change_envelope(author, &key, &case, &payload))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        planned.push((client, due, batches));
    }
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (client, due, batches) in planned {
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for (at, envelopes) in due.into_iter().zip(batches) {
                let due_at = start + at;
                tokio::time::sleep_until(due_at).await;
                let result = push_once(&client, &envelopes).await;
                tally.record(result, due_at.into_std());
            }
            tally
        }));
    }
    gather(tasks, start.into_std()).await
}
