//! The figures a worker waits for in the app, measured through the app's front door
//! (`tsunagi_device::App`, what the Tauri commands call) on the shared workload: a new tablet's
//! first sync of the team's records while the worker uses the app (how long each command
//! waits; when the worker's own caseload is usable), then on the synced store: a cold start to
//! the unlocked caseload, a person page, a save, a search, and the process's memory.
//!
//! Setup (untimed): `tsunagi-server` as a child process; IT makes a team with two workers; the
//! first worker's device writes the records of every `own_every`-th person (their own
//! caseload), the second's the rest; both push. Then the first worker gets a new tablet.

use anyhow::{Context, bail, ensure};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tsunagi_core::ids::PersonId;
use tsunagi_device::api::*;
use tsunagi_device::{App, AppOptions, Device, OsKeystore};

use crate::harness::{Prepared, SEARCH_TERMS, contact_input};
use crate::rss;
use crate::syncbench::server::ServerProcess;
use crate::syncbench::tsunagi::It;
use crate::workload::{CLIENTS, DISTRICTS, PROGRAMS};

/// The new tablet's PIN.
const PIN: &str = "246810";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload records (contacts).
    pub n: u32,
    /// Every this-many-th person is the first worker's own.
    pub own_every: usize,
    /// The server binary.
    pub server_bin: PathBuf,
    /// Scratch directory (new or empty).
    pub dir: PathBuf,
    /// Also run the first sync with a page per transaction, for comparison.
    pub compare_whole_pages: bool,
    /// Repetitions of the steady-state measurements.
    pub reps: usize,
}

/// Latencies of one kind of command, in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<f64>);

impl Latencies {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.0.push(t.elapsed().as_secs_f64() * 1e3);
        out
    }

    /// Nearest-rank percentile (p in 0..=1); 0 with no samples.
    pub fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return 0.0;
        }
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    /// Samples taken.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No samples.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The first sync of a new tablet, with the app in use meanwhile.
#[derive(Debug, Default, Clone)]
pub struct FirstSync {
    /// Write slice of the background sync (None: a page per transaction).
    pub slice_ms: Option<u64>,
    /// From "sync now" to the round's end.
    pub total_s: f64,
    /// From "sync now" until the worker's own cases were all on the device and openable.
    pub own_ready_s: Option<f64>,
    /// Own persons and their contacts found in the app when they were reported ready.
    pub own_found: (usize, u64),
    /// Own persons and contacts expected.
    pub own_expected: (usize, u64),
    /// Latencies of the app's commands while the sync ran, by kind.
    pub caseload: Latencies,
    /// Searches.
    pub search: Latencies,
    /// Person pages opened (and closed).
    pub open_person: Latencies,
    /// Contacts saved.
    pub save: Latencies,
    /// Commands that waited 100 ms or more: which, how long, and the sync's step then.
    pub stalls: Vec<(&'static str, f64, String)>,
    /// How the store's write lock was held during the sync, by kind of transaction.
    pub holds: Vec<(&'static str, tsunagi_store::holds::HoldStat)>,
}

impl FirstSync {
    /// Every command's latency while the sync ran.
    pub fn all(&self) -> Latencies {
        let mut all = Latencies::default();
        for l in [&self.caseload, &self.search, &self.open_person, &self.save] {
            all.0.extend(&l.0);
        }
        all
    }
}

/// Measurements on the synced store.
#[derive(Debug, Default, Clone)]
pub struct Steady {
    /// A new App, unlock with the PIN, the caseload (all of it), in ms.
    pub cold_start: Latencies,
    /// Persons on the caseload then.
    pub caseload_rows: usize,
    /// A person page (open, with its timeline of up to 200 contacts, and close).
    pub person_page: Latencies,
    /// Contacts on the pages opened (mean).
    pub page_contacts: f64,
    /// Saving a contact.
    pub save: Latencies,
    /// A search, per workload term.
    pub search: Vec<(&'static str, Latencies)>,
    /// Resident memory of this process (the app's backend: both store connections, the
    /// background threads) after the measurements, and its peak, in MiB.
    pub rss_mb: (Option<f64>, Option<f64>),
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Workload records.
    pub n: u32,
    /// The first sync, sliced (the app's default) and, if asked, a page per transaction.
    pub first: Vec<FirstSync>,
    /// On the synced store.
    pub steady: Steady,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} [{}]", e.message, e.code)
}

fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn current_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The team's records on the server: the first worker's own persons and theirs, the rest by
/// the second worker. Returns IT, the first worker's user id and own persons with their
/// contact counts.
async fn setup(
    opts: &Options,
    prepared: &Prepared,
    server: &ServerProcess,
    ks: &OsKeystore,
) -> anyhow::Result<(It, String, Vec<(PersonId, u64)>)> {
    let it = It::bootstrap(server.info(), &opts.dir).await?;
    let mut own = it.device("worker-own", "山田 花子", "worker", ks).await?;
    let mut mate = it.device("worker-mate", "鈴木 一郎", "worker", ks).await?;
    let user = own
        .enrollment()?
        .context("the first worker's device has no enrollment")?
        .user
        .to_string();
    let config = tsunagi_core::config::Config::fujisawa();
    let codes: Vec<String> = config
        .districts()
        .iter()
        .map(|d| d.district().code().to_owned())
        .collect();
    let mut persons = Vec::with_capacity(CLIENTS);
    for (k, first) in prepared.first_use.iter().enumerate() {
        let (program, district) = first.unwrap_or((0, k % DISTRICTS.len()));
        let form = PersonForm {
            name: format!("対象者{k}"),
            kana: Some("たいしょうしゃ".into()),
            district: codes[district % codes.len()].clone(),
            programs: vec![PROGRAMS[program].into()],
            ..PersonForm::default()
        };
        let writer: &mut Device = if k.is_multiple_of(opts.own_every) {
            &mut own
        } else {
            &mut mate
        };
        persons.push(writer.add_person(&form)?);
    }
    let mut counts = vec![0u64; CLIENTS];
    for i in 0..prepared.n() {
        let r = prepared.workload().record(i);
        counts[r.client] += 1;
        let writer: &mut Device = if r.client.is_multiple_of(opts.own_every) {
            &mut own
        } else {
            &mut mate
        };
        writer.add_contact(&contact_input(&r, &persons))?;
    }
    for dev in [&mut own, &mut mate] {
        for _ in 0..50 {
            dev.sync(ks).await?;
            if dev.pending()? == 0 {
                break;
            }
        }
        ensure!(dev.pending()? == 0, "a device could not push everything");
    }
    let own_persons = persons
        .iter()
        .enumerate()
        .filter(|(k, _)| k.is_multiple_of(opts.own_every))
        .map(|(k, p)| (*p, counts[k]))
        .collect();
    Ok((it, user, own_persons))
}

/// A new tablet of the first worker, set up and enrolled through the app, approved by IT.
fn new_tablet(
    rt: &tokio::runtime::Runtime,
    it: &It,
    user: &str,
    dir: &Path,
    name: &str,
    options: AppOptions,
) -> anyhow::Result<App<OsKeystore>> {
    let bundle = rt.block_on(it.bundle(user, name))?;
    let app = App::with_options(&dir.join(name), OsKeystore::new(), options).map_err(api)?;
    let enrolled = app
        .enroll(&EnrollRequest {
            bundle,
            pin: PIN.into(),
            pin_repeat: PIN.into(),
        })
        .map_err(api)?;
    rt.block_on(it.admin.approve(&enrolled.device_id, &enrolled.device_code))?;
    ensure!(
        app.check_approval().map_err(api)?.approved,
        "the new tablet was not approved"
    );
    Ok(app)
}

/// The first sync while the worker uses the app: commands in turn (caseload, a search, a
/// person page, and — once the own cases are there — a save), each timed, until the round
/// ends.
fn first_sync(
    app: &App<OsKeystore>,
    own: &[(PersonId, u64)],
    saved_before: u64,
    slice: Option<Duration>,
) -> anyhow::Result<FirstSync> {
    let mut out = FirstSync {
        slice_ms: slice.map(|s| s.as_millis() as u64),
        own_expected: (
            own.len(),
            own.iter().map(|(_, n)| n).sum::<u64>() + saved_before,
        ),
        ..FirstSync::default()
    };
    let own_ids: BTreeSet<String> = own.iter().map(|(p, _)| p.to_string()).collect();
    let before = app.sync_status().map_err(api)?.last_success;
    tsunagi_store::holds::reset_write_holds();
    let mut phase = String::new();
    let t0 = Instant::now();
    app.sync_now().map_err(api)?;
    let mut seen_running = false;
    let mut turn = 0usize;
    let deadline = Duration::from_secs(3600);
    loop {
        ensure!(
            t0.elapsed() < deadline,
            "the first sync did not end in an hour"
        );
        let status = app.sync_status().map_err(api)?;
        seen_running |= status.running;
        if let Some(p) = &status.progress {
            phase = format!("{:?} {}/{}", p.phase, p.done, p.total);
        }
        let kinds =
            |o: &FirstSync| [&o.caseload, &o.search, &o.open_person, &o.save][turn % 4].len();
        let timed_before = kinds(&out);
        if let Some(e) = &status.error_code
            && !status.running
            && seen_running
        {
            bail!("the first sync failed: {e}");
        }
        if !status.running && seen_running && status.last_success != before {
            out.total_s = t0.elapsed().as_secs_f64();
            break;
        }
        // Ready when the sync says so (a first sync reports it once the own cases are in).
        let own_ready = status
            .progress
            .as_ref()
            .is_some_and(|p| p.first_sync && p.own_cases_ready);
        if own_ready && out.own_ready_s.is_none() {
            out.own_ready_s = Some(t0.elapsed().as_secs_f64());
            // Usable: every own person on the caseload, with every contact on their page.
            let rows = app.caseload(&CaseloadRequest::default()).map_err(api)?;
            let found: Vec<&PersonRow> = rows.iter().filter(|r| own_ids.contains(&r.id)).collect();
            let mut contacts = 0u64;
            for r in &found {
                let page = app.open_person(&ById { id: r.id.clone() }).map_err(api)?;
                contacts += u64::from(page.contact_count);
                app.close_person(&PageRef { page: page.page })
                    .map_err(api)?;
            }
            out.own_found = (found.len(), contacts);
        }
        let person = &own[turn % own.len()].0;
        match turn % 4 {
            0 => {
                out.caseload
                    .time(|| app.caseload(&CaseloadRequest::default()))
                    .map_err(api)?;
            }
            1 => {
                let (_, term) = SEARCH_TERMS[(turn / 4) % SEARCH_TERMS.len()];
                out.search
                    .time(|| {
                        app.search(&SearchRequest {
                            text: term.into(),
                            limit: Some(50),
                        })
                    })
                    .map_err(api)?;
            }
            2 if out.own_ready_s.is_some() => {
                let page = out
                    .open_person
                    .time(|| {
                        app.open_person(&ById {
                            id: person.to_string(),
                        })
                    })
                    .map_err(api)?;
                app.close_person(&PageRef { page: page.page })
                    .map_err(api)?;
            }
            3 if out.own_ready_s.is_some() => {
                out.save
                    .time(|| {
                        app.add_contact(&ContactForm {
                            person: person.to_string(),
                            channel: "visit".into(),
                            outcome: "letter_left".into(),
                            note: "同期中に記録した不在・置き手紙".into(),
                            ..ContactForm::default()
                        })
                    })
                    .map_err(api)?;
            }
            _ => {}
        }
        let timed = [&out.caseload, &out.search, &out.open_person, &out.save][turn % 4];
        if timed.len() > timed_before
            && let Some(&ms) = timed.0.last().filter(|&&ms| ms >= 100.0)
        {
            let kind = ["caseload", "search", "open person", "save contact"][turn % 4];
            out.stalls.push((kind, ms, phase.clone()));
        }
        turn += 1;
        // A worker's pace is seconds between taps; a command every 20 ms is far busier.
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(out)
}

/// On the synced store: cold start, person pages, saves, searches, memory.
fn steady(
    app: App<OsKeystore>,
    dir: &Path,
    own: &[(PersonId, u64)],
    reps: usize,
) -> anyhow::Result<Steady> {
    let mut out = Steady::default();
    // Let the background thread index and merge what the sync left (a search would
    // otherwise index it first), as on a tablet that has been idle a moment.
    drop(app);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let app = App::new(dir).map_err(api)?;
        app.unlock(&UnlockRequest { pin: PIN.into() })
            .map_err(api)?;
        let rows = app.caseload(&CaseloadRequest::default()).map_err(api)?;
        out.cold_start.0.push(t.elapsed().as_secs_f64() * 1e3);
        out.caseload_rows = rows.len();
        app.lock().map_err(api)?;
    }
    let app = App::new(dir).map_err(api)?;
    app.unlock(&UnlockRequest { pin: PIN.into() })
        .map_err(api)?;
    app.cancel_sync().map_err(api)?;
    let mut contacts = 0u64;
    let mut pages = 0u64;
    for (p, _) in own.iter().cycle().take(reps * 10) {
        let page = out
            .person_page
            .time(|| app.open_person(&ById { id: p.to_string() }))
            .map_err(api)?;
        contacts += page.timeline.len() as u64;
        pages += 1;
        app.close_person(&PageRef { page: page.page })
            .map_err(api)?;
    }
    out.page_contacts = contacts as f64 / pages.max(1) as f64;
    for (i, (p, _)) in own.iter().cycle().take(reps * 20).enumerate() {
        out.save
            .time(|| {
                app.add_contact(&ContactForm {
                    person: p.to_string(),
                    channel: "visit".into(),
                    outcome: "met".into(),
                    note: format!("玄関先で話せた。次回は来週に訪問する予定。{i}"),
                    stage: Some(2),
                    ..ContactForm::default()
                })
            })
            .map_err(api)?;
    }
    for (name, term) in SEARCH_TERMS {
        let mut l = Latencies::default();
        for _ in 0..reps * 4 {
            l.time(|| {
                app.search(&SearchRequest {
                    text: term.into(),
                    limit: Some(50),
                })
            })
            .map_err(api)?;
        }
        out.search.push((name, l));
    }
    out.rss_mb = (current_rss_kb().map(kb_to_mb), rss::peak_kb().map(kb_to_mb));
    app.lock().map_err(api)?;
    Ok(out)
}

/// Runs everything (inside a keystore session: the app keeps its keys in the OS keystore).
pub fn run(opts: &Options) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&opts.dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ks = OsKeystore::new();
    let prepared = Prepared::new(opts.n);
    let server = ServerProcess::start(&opts.server_bin, &opts.dir.join("server"), true, "warn")?;
    eprintln!("appbench: writing and pushing {} records (untimed)", opts.n);
    let t = Instant::now();
    let (it, user, own) = rt.block_on(setup(opts, &prepared, &server, &ks))?;
    eprintln!(
        "appbench: setup done in {:.0} s; the first worker owns {} persons",
        t.elapsed().as_secs_f64(),
        own.len()
    );
    let mut variants = vec![AppOptions::default().write_slice];
    if opts.compare_whole_pages {
        variants.push(None);
    }
    let mut first: Vec<FirstSync> = Vec::new();
    let mut kept = None;
    for (i, slice) in variants.into_iter().enumerate() {
        let name = format!("tablet-{i}");
        let app = new_tablet(
            &rt,
            &it,
            &user,
            &opts.dir,
            &name,
            AppOptions { write_slice: slice },
        )?;
        eprintln!("appbench: first sync of a new tablet (slice {slice:?})");
        // Contacts an earlier tablet saved during its sync are the worker's too by now.
        let saved_before = first.iter().map(|f| f.save.len() as u64).sum();
        first.push(first_sync(&app, &own, saved_before, slice)?);
        if i == 0 {
            kept = Some((app, opts.dir.join(&name)));
        } else {
            app.lock().map_err(api)?;
        }
        if let Some(f) = first.last_mut() {
            f.holds = tsunagi_store::holds::write_holds();
        }
    }
    let (app, dir) = kept.context("no first sync ran")?;
    rss::reset_peak();
    let steady = steady(app, &dir, &own, opts.reps)?;
    server.stop()?;
    Ok(Outcome {
        n: opts.n,
        first,
        steady,
    })
}

/// The figures, one per line, ready for the closing note and docs/decisions.md.
pub fn report(o: &Outcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "tsunagi-appbench, n = {} contacts", o.n);
    for f in &o.first {
        let all = f.all();
        let _ = writeln!(
            s,
            "first sync (write slice {}): {:.1} s; own caseload usable at {}; found {}/{} persons, {}/{} contacts",
            f.slice_ms
                .map_or("none: a page per transaction".into(), |m| format!("{m} ms")),
            f.total_s,
            f.own_ready_s
                .map_or("never".into(), |s| format!("{s:.2} s")),
            f.own_found.0,
            f.own_expected.0,
            f.own_found.1,
            f.own_expected.1
        );
        let _ = writeln!(
            s,
            "  commands during the sync: {} — p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            all.len(),
            all.pct(0.5),
            all.pct(0.99),
            all.pct(1.0)
        );
        for (name, l) in [
            ("caseload", &f.caseload),
            ("search", &f.search),
            ("open person", &f.open_person),
            ("save contact", &f.save),
        ] {
            let _ = writeln!(
                s,
                "    {name:<13} n {:>4}  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
                l.len(),
                l.pct(0.5),
                l.pct(0.99),
                l.pct(1.0)
            );
        }
        let _ = writeln!(s, "  write-lock holds during the sync, by kind:");
        for (kind, h) in &f.holds {
            let _ = writeln!(
                s,
                "    {kind:<32} n {:>6}  total {:>8.0} ms  max {:>7.1} ms  ≥100 ms {:>4}",
                h.count, h.total_ms, h.max_ms, h.over_100ms
            );
        }
        let _ = writeln!(s, "  commands that waited ≥ 100 ms: {}", f.stalls.len());
        for (kind, ms, phase) in f.stalls.iter().take(30) {
            let _ = writeln!(s, "    {kind:<13} {ms:>7.1} ms  during {phase}");
        }
    }
    let st = &o.steady;
    let _ = writeln!(
        s,
        "cold start to the unlocked caseload ({} rows): median {:.0} ms, max {:.0} ms",
        st.caseload_rows,
        st.cold_start.pct(0.5),
        st.cold_start.pct(1.0)
    );
    let _ = writeln!(
        s,
        "person page ({:.0} contacts on average): p50 {:.1} ms, p99 {:.1} ms",
        st.page_contacts,
        st.person_page.pct(0.5),
        st.person_page.pct(0.99)
    );
    let _ = writeln!(
        s,
        "save a contact: p50 {:.1} ms, p99 {:.1} ms",
        st.save.pct(0.5),
        st.save.pct(0.99)
    );
    for (name, l) in &st.search {
        let _ = writeln!(
            s,
            "{name}: p50 {:.1} ms, p99 {:.1} ms",
            l.pct(0.5),
            l.pct(0.99)
        );
    }
    let _ = writeln!(
        s,
        "memory of the app's backend: {} MiB resident, peak {} MiB",
        st.rss_mb.0.map_or("?".into(), |m| format!("{m:.0}")),
        st.rss_mb.1.map_or("?".into(), |m| format!("{m:.0}"))
    );
    s
}
