//! Tsunagi's side of the sync benchmark: IT sets up a team, two devices enroll, and phases A–D
//! run through the device's own use cases against a real server, followed by untimed checks.

use anyhow::{Context, bail, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tsunagi_admin::{Admin, Passphrase};
use tsunagi_core::contact::{Contact, ContactChannel, ContactOutcome};
use tsunagi_core::ids::{ContactId, PersonId};
use tsunagi_device::{Device, OsKeystore};

use super::engine::{self, Round};
use super::server::ServerInfo;
use super::{Phase, PhaseResult, d_records, dir_bytes, wal_bytes};
use crate::harness::{Prepared, add_persons, contact_input};
use crate::rss;
use crate::workload::{OUTCOMES, VisitRecord, edit_indices};

/// The team both devices belong to.
pub const TEAM: &str = "bench";
/// IT's passphrase for the throw-away admin keys.
const PASSPHRASE: &str = "benchmark passphrase, not a secret";
/// The variant name of Tsunagi's figures (the device store is SQLCipher, envelopes sealed).
pub const VARIANT: &str = "sqlcipher";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records of phase A (workload records 0..n).
    pub n: u32,
    /// Records read back on device 2 after phase C (evenly spread, as the peer's 50).
    pub samples: u32,
    /// Where the admin state, bundles and both device directories go (must be empty or new).
    pub dir: PathBuf,
    /// At most this many sync rounds for one "sync until done".
    pub max_rounds: u32,
    /// How long phase C may wait for the background full-text indexer.
    pub index_timeout: Duration,
    /// Rounds of phase D (at most N / 100); its figures are the median round's.
    pub d_rounds: u32,
}

impl Options {
    /// The defaults for `n` records in `dir`.
    pub fn new(n: u32, dir: &Path) -> Options {
        Options {
            n,
            samples: 50,
            dir: dir.to_owned(),
            max_rounds: 50,
            index_timeout: Duration::from_secs(3600),
            d_rounds: 5,
        }
    }
}

/// Everything one run produced: the four phases and the checks that passed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Phases A–D, in order.
    pub results: Vec<PhaseResult>,
    /// One line per untimed check that passed.
    pub checks: Vec<String>,
}

/// Peak-RSS and CPU bookkeeping of one phase: this process and the server process.
struct Meter<'a> {
    server: &'a ServerInfo,
    server_pid: Option<String>,
    /// CPU seconds of (client, server) at the phase's start.
    cpu: (Option<f64>, Option<f64>),
}

impl Meter<'_> {
    fn cpu_now(&self) -> (Option<f64>, Option<f64>) {
        (
            rss::cpu_seconds_of("self"),
            self.server_pid.as_deref().and_then(rss::cpu_seconds_of),
        )
    }

    fn reset(&mut self) {
        rss::reset_peak();
        if let Some(pid) = &self.server_pid {
            rss::reset_peak_of(pid);
        }
        self.cpu = self.cpu_now();
    }

    fn result(
        &self,
        phase: Phase,
        n: u32,
        seconds: f64,
        records: u64,
        device: &Device,
    ) -> PhaseResult {
        PhaseResult {
            system: "tsunagi".into(),
            variant: VARIANT.into(),
            n,
            phase,
            seconds,
            records,
            server_disk_bytes: Some(dir_bytes(&self.server.data_dir)),
            client_disk_bytes: Some(dir_bytes(device.dir())),
            client_peak_rss_mb: rss::peak_kb().map(|kb| kb as f64 / 1024.0),
            server_peak_rss_mb: self
                .server_pid
                .as_deref()
                .and_then(rss::peak_kb_of)
                .map(|kb| kb as f64 / 1024.0),
            extra: self.extra(device),
        }
    }

    /// CPU seconds since [`Meter::reset`] (the client's includes its background indexer), and
    /// the SQLite logs' share of the disk figures (`-wal` files, part of `*_disk_bytes`).
    fn extra(&self, device: &Device) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        // Other work on the machine shows here (the benchmark itself keeps about 2 busy).
        if let Some(l) = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        {
            out.insert("loadavg_1m".into(), l);
        }
        out.insert("client_wal_bytes".into(), wal_bytes(device.dir()) as f64);
        out.insert(
            "server_wal_bytes".into(),
            wal_bytes(&self.server.data_dir) as f64,
        );
        let (c, s) = self.cpu_now();
        if let (Some(now), Some(then)) = (c, self.cpu.0) {
            out.insert("client_cpu_s".into(), now - then);
        }
        if let (Some(now), Some(then)) = (s, self.cpu.1) {
            out.insert("server_cpu_s".into(), now - then);
        }
        out
    }
}

/// IT's side: the admin library, bootstrapped once.
pub(crate) struct It {
    pub(crate) admin: Admin,
    dir: PathBuf,
}

impl It {
    pub(crate) async fn bootstrap(server: &ServerInfo, dir: &Path) -> anyhow::Result<It> {
        let admin_dir = dir.join("admin");
        let pass = Passphrase::new_for_init(PASSPHRASE)?;
        tsunagi_admin::init(&admin_dir, &server.url, &server.bootstrap_token, &pass)
            .await
            .context("IT bootstrap")?;
        let admin = Admin::open(&admin_dir, Passphrase::new(PASSPHRASE))?;
        admin.create_team(TEAM, "csw").await?;
        Ok(It {
            admin,
            dir: dir.to_owned(),
        })
    }

    /// A user of the team, a new device for them (its keys in the OS keystore), its enrollment
    /// bundle redeemed, approved by IT, and the team key fetched.
    pub(crate) async fn device(
        &self,
        name: &str,
        user: &str,
        role: &str,
        ks: &OsKeystore,
    ) -> anyhow::Result<Device> {
        let u = self.admin.create_user(user, TEAM, role).await?;
        let (mut device, _) = Device::init(&self.dir.join(name), None, user, ks)?;
        let text = self.bundle(&u.id.to_string(), name).await?;
        let enrolled = device.enroll(&text, ks).await?;
        self.admin
            .approve(&enrolled.device.to_string(), &enrolled.device_code)
            .await?;
        let keys = device.refresh_keys(ks).await?;
        ensure!(
            !keys.epochs_held.is_empty(),
            "{name} holds no team key after approval"
        );
        Ok(device)
    }
}

impl It {
    /// An enrollment bundle for another device of an existing user (its JSON text).
    pub(crate) async fn bundle(&self, user: &str, name: &str) -> anyhow::Result<String> {
        let file = self.dir.join(format!("{name}.tsunagi-enroll.json"));
        self.admin.provision(user, None, Some(&file)).await?;
        Ok(std::fs::read_to_string(&file)?)
    }
}

/// One round of phase D.
struct DRound {
    write_s: f64,
    push_s: f64,
    pull_s: f64,
    sync_rounds: u32,
    pushed: u64,
    pulled: u64,
    /// Device 1's steps (all its rounds), then device 2's.
    steps: (tsunagi_device::SyncSteps, tsunagi_device::SyncSteps),
}

impl DRound {
    /// Device 1's sync until the server has the changes, plus device 2's sync.
    fn round_trip(&self) -> f64 {
        self.push_s + self.pull_s
    }
}

/// Syncs until the device has nothing left to push, at most `max` rounds.
async fn sync_until_pushed(
    device: &mut Device,
    ks: &OsKeystore,
    max: u32,
) -> anyhow::Result<(u32, Round)> {
    let mut total = Round::default();
    let t = Instant::now();
    for round in 1..=max {
        total += engine::sync_round(device, ks).await.with_context(|| {
            format!(
                "sync round {round} failed after {:.1} s ({} change sets pushed in earlier rounds)",
                t.elapsed().as_secs_f64(),
                total.pushed
            )
        })?;
        if engine::pending(device)? == 0 {
            return Ok((round, total));
        }
    }
    bail!(
        "still {} changes pending after {max} sync rounds",
        engine::pending(device)?
    )
}

/// Waits (polling every 2 ms) until the store's background thread has indexed every saved
/// note; its duration.
fn index_catchup(device: &Device, timeout: Duration) -> anyhow::Result<f64> {
    let t = Instant::now();
    while device.index_pending()? > 0 {
        ensure!(
            t.elapsed() < timeout,
            "the full-text index did not catch up in {} s ({} notes left)",
            timeout.as_secs(),
            device.index_pending()?
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Indexes every queued note at once, as a search does before it reads (full speed, unlike
/// the background thread's 100 ms per 250 ms); its duration.
fn index_now(device: &Device) -> anyhow::Result<f64> {
    let t = Instant::now();
    device.search("訪問", 1)?;
    ensure!(
        device.index_pending()? == 0,
        "a search left notes unindexed"
    );
    Ok(t.elapsed().as_secs_f64())
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// What one record must look like when read back.
struct Expect {
    index: u32,
    id: ContactId,
    record: VisitRecord,
}

/// Counts every contact on a device (over the persons' timelines) and checks the total.
fn check_count(
    device: &Device,
    persons: &[PersonId],
    expect: u64,
    label: &str,
) -> anyhow::Result<String> {
    let caseload = device.caseload(&Default::default())?;
    ensure!(
        caseload.len() == persons.len(),
        "CHECK FAILED ({label}): {} persons on the device, expected {}",
        caseload.len(),
        persons.len()
    );
    let mut total = 0u64;
    for &p in persons {
        total += device.timeline(p, u32::MAX)?.len() as u64;
    }
    ensure!(
        total == expect,
        "CHECK FAILED ({label}): {total} contacts on the device, expected {expect}"
    );
    let counts = device.sync_status()?;
    ensure!(
        counts.held == 0 && counts.refused_incoming == 0 && counts.refused_outgoing == 0,
        "CHECK FAILED ({label}): held {}, pull refused {}, push refused {}",
        counts.held,
        counts.refused_incoming,
        counts.refused_outgoing
    );
    Ok(format!(
        "{label}: {total} contacts and {} persons, nothing held or refused",
        persons.len()
    ))
}

/// Reads each expected record back on `reader` through the person page (the app's view) and
/// compares it with the workload and, field for field, with the writer's own copy.
fn check_records(
    reader: &mut Device,
    writer: &Device,
    persons: &[PersonId],
    expect: &[Expect],
    label: &str,
) -> anyhow::Result<String> {
    let mut by_person: BTreeMap<PersonId, Vec<&Expect>> = BTreeMap::new();
    for e in expect {
        by_person
            .entry(persons[e.record.client])
            .or_default()
            .push(e);
    }
    for (person, list) in by_person {
        let page = reader.open_person(&person.to_string(), u32::MAX)?;
        for e in list {
            let fail = |what: &str| format!("CHECK FAILED ({label}): record {} {what}", e.index);
            let view = page
                .timeline
                .iter()
                .find(|v| v.id == e.id)
                .with_context(|| fail("is not on its person's timeline"))?;
            let f = view.contact.fields();
            let r = &e.record;
            ensure!(f.person == person, fail("has another person"));
            ensure!(
                f.at.timestamp() == r.visited_at.timestamp(),
                fail("has another time")
            );
            ensure!(
                f.channel == ContactChannel::Visit,
                fail("has another channel")
            );
            ensure!(
                f.outcome == ContactOutcome::parse(OUTCOMES[r.outcome])?,
                fail("has another outcome")
            );
            ensure!(f.note.as_str() == r.note, fail("has another note"));
            ensure!(
                f.next_step.as_ref().map(|s| s.as_str()) == Some(r.tag_names().join(" ").as_str()),
                fail("has other tags")
            );
            ensure!(view.conflicts.is_empty(), fail("shows a conflict"));
            let own = writer
                .record_state(e.id.into())?
                .with_context(|| fail("is missing on the writing device"))?;
            let own: Contact = serde_json::from_value(serde_json::Value::Object(own.to_object()))?;
            ensure!(
                own == view.contact,
                fail("differs from the writing device's copy")
            );
        }
        reader.close_person(page)?;
    }
    Ok(format!(
        "{label}: {} records read back equal on device 2",
        expect.len()
    ))
}

/// Runs phases A–D on `server`, reporting each phase's figures as soon as they are known.
pub async fn run(
    opts: &Options,
    server: &ServerInfo,
    report: &mut dyn FnMut(&PhaseResult),
) -> anyhow::Result<Outcome> {
    let n = opts.n;
    ensure!(n >= 1, "--n must be at least 1");
    std::fs::create_dir_all(&opts.dir)?;
    let ks = OsKeystore::new();
    let mut meter = Meter {
        server,
        server_pid: server.pid.map(|p| p.to_string()),
        cpu: (None, None),
    };
    let mut results = Vec::new();
    let mut checks = Vec::new();
    let mut emit = |r: PhaseResult, results: &mut Vec<PhaseResult>| {
        report(&r);
        results.push(r);
    };

    // Untimed setup: the records' persons, IT, device 1 enrolled and approved, 500 persons.
    let prepared = Prepared::new(n);
    let w = prepared.workload();
    let it = It::bootstrap(server, &opts.dir).await?;
    let mut dev1 = it.device("device1", "記録 一郎", "lead", &ks).await?;
    let persons = add_persons(&mut dev1, &prepared)?;
    index_now(&dev1)?;

    // A: offline capture, one add_contact per record (generating each record is in the time,
    // as in the peer's loop).
    meter.reset();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n as usize);
    for i in 0..n {
        ids.push(dev1.add_contact(&contact_input(&w.record(i), &persons))?);
    }
    let a_s = secs(t);
    // The full-text index is completed before B (untimed for A, reported apart) so that B
    // measures the push alone: through a search, which indexes at full speed, rather than by
    // waiting for the background thread (that wait is C's "indexed").
    let a_index = index_now(&dev1)?;
    let mut a = meter.result(Phase::A, n, a_s, u64::from(n), &dev1);
    a.extra.insert("index_on_search_s".into(), a_index);
    emit(a, &mut results);

    // B: push everything, until the server has acknowledged all.
    meter.reset();
    let t = Instant::now();
    let (rounds, b_round) = sync_until_pushed(&mut dev1, &ks, opts.max_rounds).await?;
    let mut b = meter.result(Phase::B, n, secs(t), u64::from(n), &dev1);
    b.extra.insert("rounds".into(), f64::from(rounds));
    b.extra.insert("pushed".into(), b_round.pushed as f64);
    b.extra
        .insert("envelopes_sent".into(), b_round.envelopes_sent as f64);
    b.extra
        .insert("snapshots_made".into(), b_round.snapshots_made as f64);
    b.extra.extend(engine::step_fields("", &b_round.steps));
    emit(b, &mut results);
    ensure!(
        b_round.pushed >= u64::from(n) + persons.len() as u64,
        "CHECK FAILED (push): {} change sets pushed, expected at least {} contacts + {} persons",
        b_round.pushed,
        n,
        persons.len()
    );
    checks.push(format!(
        "push: {} change sets acknowledged, none pending",
        b_round.pushed
    ));

    // C: a fresh device of the same team (enrolled now, untimed) receives everything: one sync
    // (downloaded, verified, decrypted, merged), then the full-text index catching up.
    let mut dev2 = it.device("device2", "記録 二郎", "worker", &ks).await?;
    meter.reset();
    let t = Instant::now();
    let c_round = engine::sync_round(&mut dev2, &ks).await?;
    let c_sync = secs(t);
    let c_index = index_catchup(&dev2, opts.index_timeout)?;
    let mut c = meter.result(Phase::C, n, c_sync + c_index, u64::from(n), &dev2);
    c.extra.insert("sync_s".into(), c_sync);
    c.extra.insert("indexed_s".into(), c_index);
    c.extra.insert("pulled".into(), c_round.pulled as f64);
    c.extra.insert("applied".into(), c_round.applied as f64);
    c.extra
        .insert("snapshots_applied".into(), c_round.snapshots_applied as f64);
    c.extra.extend(engine::step_fields("", &c_round.steps));
    emit(c, &mut results);
    checks.push(check_count(&dev2, &persons, u64::from(n), "after pull")?);
    let sample: Vec<Expect> = (0..opts.samples.min(n))
        .map(|k| {
            let i = (u64::from(k) * u64::from(n) / u64::from(opts.samples.min(n))) as u32;
            Expect {
                index: i,
                id: ids[i as usize],
                record: w.record(i),
            }
        })
        .collect();
    checks.push(check_records(
        &mut dev2,
        &dev1,
        &persons,
        &sample,
        "after pull",
    )?);

    // "After the full sync": device 1 also pulls (untimed) so that its cursor is at the head.
    engine::sync_round(&mut dev1, &ks).await?;
    ensure!(
        engine::pending(&dev1)? == 0,
        "device 1 has pending changes before D"
    );

    // D: 100 new records and 100 corrections on device 1, then sync until the server has them;
    // separately, device 2's sync that brings them over. Repeated `d_rounds` times (round r
    // adds the next 100 records and corrects the records next to the peer's, `i + r`): one
    // round is a single sample of ~0.1 s on a shared machine, so D's figures are those of the
    // median round, with the first and the slowest beside them. Every round starts from idle
    // devices, as the first.
    let edits = edit_indices(n);
    let step = (n / 100).max(1);
    let d_rounds = opts.d_rounds.clamp(1, step);
    let mut samples: Vec<DRound> = Vec::new();
    let mut changed: Vec<Expect> = Vec::new();
    meter.reset();
    for r in 0..d_rounds {
        if r > 0 {
            // Each round starts as the first does, from idle devices (untimed): syncs are
            // minutes apart in the field, not back to back with the previous round's notes
            // still being indexed by both background threads.
            index_catchup(&dev1, opts.index_timeout)?;
            index_catchup(&dev2, opts.index_timeout)?;
        }
        let t = Instant::now();
        let first = n + r * 100;
        for i in first..first + 100 {
            let id = dev1.add_contact(&contact_input(&w.record(i), &persons))?;
            changed.push(Expect {
                index: i,
                id,
                record: w.record(i),
            });
        }
        for &i in &edits {
            let i = i + r;
            let e = w.edited(&w.record(i), i);
            engine::edit_contact(&mut dev1, ids[i as usize], OUTCOMES[e.outcome], &e.note)?;
            changed.push(Expect {
                index: i,
                id: ids[i as usize],
                record: e,
            });
        }
        let write_s = secs(t);
        let (sync_rounds, pushed) = sync_until_pushed(&mut dev1, &ks, opts.max_rounds).await?;
        let push_s = secs(t) - write_s;
        let t2 = Instant::now();
        let p_round = engine::sync_round(&mut dev2, &ks).await?;
        let pull_s = secs(t2);
        ensure!(
            pushed.pushed >= d_records(n),
            "CHECK FAILED (incremental round {r}): {} change sets pushed, expected at least {}",
            pushed.pushed,
            d_records(n)
        );
        samples.push(DRound {
            write_s,
            push_s,
            pull_s,
            sync_rounds,
            pushed: pushed.pushed,
            pulled: p_round.pulled,
            steps: (pushed.steps, p_round.steps),
        });
    }
    let mut by_rt: Vec<&DRound> = samples.iter().collect();
    by_rt.sort_by(|a, b| a.round_trip().total_cmp(&b.round_trip()));
    let median = by_rt[by_rt.len() / 2];
    let mut d = meter.result(
        Phase::D,
        n,
        median.write_s + median.push_s,
        d_records(n),
        &dev1,
    );
    d.extra.insert("write_s".into(), median.write_s);
    d.extra.insert("push_s".into(), median.push_s);
    d.extra.insert("device2_pull_s".into(), median.pull_s);
    d.extra.insert("round_trip_s".into(), median.round_trip());
    d.extra
        .insert("round_trip_first_s".into(), samples[0].round_trip());
    d.extra.insert(
        "round_trip_max_s".into(),
        by_rt[by_rt.len() - 1].round_trip(),
    );
    d.extra.insert("d_rounds".into(), f64::from(d_rounds));
    d.extra
        .insert("rounds".into(), f64::from(median.sync_rounds));
    d.extra.insert("pushed".into(), median.pushed as f64);
    d.extra
        .insert("device2_pulled".into(), median.pulled as f64);
    d.extra
        .extend(engine::step_fields("device1_", &median.steps.0));
    d.extra
        .extend(engine::step_fields("device2_", &median.steps.1));
    emit(d, &mut results);
    checks.push(check_count(
        &dev2,
        &persons,
        u64::from(n) + 100 * u64::from(d_rounds),
        "after incremental",
    )?);
    checks.push(check_records(
        &mut dev2,
        &dev1,
        &persons,
        &changed,
        "after incremental",
    )?);
    Ok(Outcome { results, checks })
}
