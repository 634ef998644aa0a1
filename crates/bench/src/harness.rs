//! The measurements: one store per variant, filled with N contacts through the device's own
//! use case, then timed reads (timeline, person page, caseload, search) and its size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;
use tsunagi_core::config::Config;
use tsunagi_core::ids::{DeviceId, PersonId};
use tsunagi_crypto::{CryptoError, StoreKey};
use tsunagi_device::api::{ContactForm, PersonForm};
use tsunagi_device::{CaseloadFilter, Device, DeviceError};
use tsunagi_store::{Encryption, Store, StoreError};

use crate::rss;
use crate::workload::{CLIENTS, DISTRICTS, Mulberry32, OUTCOMES, PROGRAMS, VisitRecord, Workload};

/// Why a run failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A use case refused a workload record or failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The store could not be created.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No store key could be generated.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store's directory.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// How the store file is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// SQLCipher with a fresh random key: the product.
    Sqlcipher,
    /// Plain SQLite: the baseline that prices SQLCipher.
    Plain,
}

impl Variant {
    /// The name printed in results.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Sqlcipher => "sqlcipher",
            Variant::Plain => "plain",
        }
    }
}

/// Search terms taken from the note pool: (metric name, term). Notes are random characters of
/// the pool, so terms are chosen by how many notes contain them, from rare to nearly all.
pub const SEARCH_TERMS: [(&str, &str); 5] = [
    ("search_3char_rare", "訪問し"),
    ("search_3char", "しまし"),
    ("search_2char", "訪問"),
    ("search_2char_common", "した"),
    ("search_1char", "訪"),
];

/// Page size of the person page and of search results, as the app asks for.
const PAGE: u32 = 50;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Contacts written (records 0..n of the workload).
    pub n: u32,
    /// Persons whose timeline (and page) is opened.
    pub timeline_samples: usize,
    /// Caseload list loads.
    pub caseload_runs: usize,
    /// Runs per search term.
    pub search_runs: usize,
    /// Where the stores go (`DIR/<variant>/store.db`); a temporary directory if none.
    pub dir: Option<PathBuf>,
}

impl Options {
    /// The defaults of the command line for `n` contacts.
    pub fn new(n: u32) -> Options {
        Options {
            n,
            timeline_samples: 200,
            caseload_runs: 50,
            search_runs: 20,
            dir: None,
        }
    }
}

/// One figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// `write_p99_ms`, `store_bytes`, ...
    pub name: String,
    /// The value, in the unit the name ends with.
    pub value: f64,
}

/// What the workload's generated data says, independent of any store: the persons'
/// program and district and the true hit count of every search term.
#[derive(Debug, Clone)]
pub struct Prepared {
    workload: Workload,
    n: u32,
    /// Per client: (program index, district index) of the first record about it.
    pub(crate) first_use: Vec<Option<(usize, usize)>>,
    /// Per entry of [`SEARCH_TERMS`]: notes among the n that contain the term.
    pub naive_hits: Vec<u64>,
}

impl Prepared {
    /// Generates the n records once (untimed) to learn persons and true hit counts.
    pub fn new(n: u32) -> Prepared {
        let workload = Workload::new();
        let mut first_use = vec![None; CLIENTS];
        let mut naive_hits = vec![0u64; SEARCH_TERMS.len()];
        for i in 0..n {
            let r = workload.record(i);
            first_use[r.client].get_or_insert((r.program, r.district));
            for (hits, (_, term)) in naive_hits.iter_mut().zip(SEARCH_TERMS) {
                *hits += u64::from(r.note.contains(term));
            }
        }
        Prepared {
            workload,
            n,
            first_use,
            naive_hits,
        }
    }

    /// The record count.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// The generator.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }
}

/// Latencies of one operation.
#[derive(Debug, Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.0.push(t.elapsed());
        out
    }

    /// Nearest-rank percentile in milliseconds.
    fn pct_ms(&mut self, p: f64) -> f64 {
        self.0.sort_unstable();
        let n = self.0.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.0[rank - 1].as_secs_f64() * 1e3
    }

    fn push_summary(&mut self, out: &mut Vec<Metric>, name: &str, with_max: bool) {
        let mut m = |suffix: &str, value: f64| {
            out.push(Metric {
                name: format!("{name}_{suffix}"),
                value,
            })
        };
        m("p50_ms", self.pct_ms(0.50));
        m("p99_ms", self.pct_ms(0.99));
        if with_max {
            m("max_ms", self.pct_ms(1.0));
        }
    }
}

pub(crate) fn contact_input(r: &VisitRecord, persons: &[PersonId]) -> ContactForm {
    ContactForm {
        person: persons[r.client].to_string(),
        at: Some(r.visited_at_iso()),
        channel: "visit".into(),
        // The workload's outcomes are Tsunagi outcome keys as they are.
        outcome: OUTCOMES[r.outcome].into(),
        note: r.note.clone(),
        next_step: Some(r.tag_names().join(" ")),
        ..ContactForm::default()
    }
}

/// Adds the 500 persons (untimed); the workload's districts map onto the configuration's 13
/// districts by index, and each person takes the program and district of its first record.
pub(crate) fn add_persons(
    device: &mut Device,
    prepared: &Prepared,
) -> Result<Vec<PersonId>, BenchError> {
    let config = Config::fujisawa();
    let codes: Vec<String> = config
        .districts()
        .iter()
        .map(|d| d.district().code().to_owned())
        .collect();
    debug_assert_eq!(codes.len(), DISTRICTS.len());
    let mut ids = Vec::with_capacity(CLIENTS);
    for (k, first) in prepared.first_use.iter().enumerate() {
        let (program, district) = first.unwrap_or((0, k % DISTRICTS.len()));
        let input = PersonForm {
            name: format!("対象者{k}"),
            kana: Some("たいしょうしゃ".into()),
            district: codes[district % codes.len()].clone(),
            programs: vec![PROGRAMS[program].into()],
            ..PersonForm::default()
        };
        ids.push(device.add_person(&input)?);
    }
    Ok(ids)
}

fn open_device(variant: Variant, dir: &Path) -> Result<Device, BenchError> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        path: dir.to_owned(),
        source: e,
    })?;
    let path = dir.join("store.db");
    let store = match variant {
        Variant::Sqlcipher => {
            let key = StoreKey::generate()?;
            Store::create(&path, Encryption::Key(&key))?
        }
        Variant::Plain => Store::create(&path, Encryption::Plain)?,
    };
    let device_id = DeviceId::from_uuid(uuid::Uuid::now_v7());
    Ok(Device::with_store(dir, store, device_id, "bench")?)
}

/// A SQLCipher device in `dir` holding the 500 persons and the first n workload records as
/// contacts (untimed; what `tsunagi-snapbench` seals snapshots from), with the persons' ids.
pub fn captured_device(
    prepared: &Prepared,
    dir: &Path,
) -> Result<(Device, Vec<PersonId>), BenchError> {
    let mut device = open_device(Variant::Sqlcipher, dir)?;
    let persons = add_persons(&mut device, prepared)?;
    for i in 0..prepared.n {
        let r = prepared.workload.record(i);
        device.add_contact(&contact_input(&r, &persons))?;
    }
    Ok((device, persons))
}

fn peak_rss(out: &mut Vec<Metric>, phase: &str) {
    if let Some(kb) = rss::peak_kb() {
        out.push(Metric {
            name: format!("peak_rss_{phase}_mb"),
            value: kb as f64 / 1024.0,
        });
    }
}

/// Runs every measurement of one variant in `dir` (which must not hold a store), reporting
/// each figure to `report` as soon as it is known.
pub fn run_variant(
    variant: Variant,
    prepared: &Prepared,
    opts: &Options,
    dir: &Path,
    report: &mut dyn FnMut(&Metric),
) -> Result<Vec<Metric>, BenchError> {
    let mut all = Vec::new();
    let mut emit = |all: &mut Vec<Metric>, batch: Vec<Metric>| {
        for m in batch {
            report(&m);
            all.push(m);
        }
    };
    let mut device = open_device(variant, dir)?;
    let persons = add_persons(&mut device, prepared)?;
    let w = &prepared.workload;

    // Phase A: one contact per user action, as the app records them (wall time includes
    // generating each record, like the peer's loop).
    let mut out = Vec::new();
    let reset = rss::reset_peak();
    out.push(Metric {
        name: "rss_peak_reset".into(),
        value: f64::from(u8::from(reset)),
    });
    let mut writes = Samples::default();
    let wall = Instant::now();
    for i in 0..prepared.n {
        let input = contact_input(&w.record(i), &persons);
        writes.time(|| device.add_contact(&input))?;
    }
    let capture = wall.elapsed().as_secs_f64();
    writes.push_summary(&mut out, "write", true);
    out.push(Metric {
        name: "capture_s".into(),
        value: capture,
    });
    out.push(Metric {
        name: "capture_records_per_s".into(),
        value: f64::from(prepared.n) / capture,
    });
    peak_rss(&mut out, "write");
    // Full-text indexing runs in the background, off the save path: how long after the last
    // save the indexes are complete (a search before then indexes the rest itself). Polled,
    // bounded at ten minutes.
    let catchup = Instant::now();
    while device.index_pending()? > 0 && catchup.elapsed().as_secs() < 600 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    out.push(Metric {
        name: "index_catchup_s".into(),
        value: catchup.elapsed().as_secs_f64(),
    });
    device.checkpoint()?;
    let bytes = device.disk_bytes();
    out.push(Metric {
        name: "store_bytes".into(),
        value: bytes as f64,
    });
    out.push(Metric {
        name: "store_bytes_per_contact".into(),
        value: bytes as f64 / f64::from(prepared.n.max(1)),
    });
    emit(&mut all, std::mem::take(&mut out));

    // A person's timeline: the 50 newest contacts, decoded into domain contacts.
    rss::reset_peak();
    let mut pick = Mulberry32::new(0x7173_e11e);
    let sample: Vec<PersonId> = (0..opts.timeline_samples)
        .map(|_| persons[pick.index(persons.len())])
        .collect();
    let mut timeline = Samples::default();
    let mut shown = 0usize;
    for &p in &sample {
        let contacts = timeline.time(|| device.timeline(p, PAGE))?;
        shown += contacts.len();
    }
    timeline.push_summary(&mut out, "timeline", false);
    out.push(Metric {
        name: "timeline_contacts_avg".into(),
        value: shown as f64 / sample.len().max(1) as f64,
    });

    // The whole person page as the app opens it: profile, summary, timeline, assessments,
    // and the access log's open and close rows (two more transactions).
    let mut page = Samples::default();
    for &p in &sample {
        page.time(|| -> Result<(), BenchError> {
            let pg = device.open_person(&p.to_string(), PAGE)?;
            device.close_person(pg)?;
            Ok(())
        })?;
    }
    page.push_summary(&mut out, "person_page", false);
    peak_rss(&mut out, "timeline");
    emit(&mut all, std::mem::take(&mut out));

    // The caseload list: every person with last contact, stage, next due.
    rss::reset_peak();
    let mut caseload = Samples::default();
    let mut rows = 0;
    for _ in 0..opts.caseload_runs {
        rows = caseload
            .time(|| device.caseload(&CaseloadFilter::default()))?
            .len();
    }
    caseload.push_summary(&mut out, "caseload", false);
    out.push(Metric {
        name: "caseload_rows".into(),
        value: rows as f64,
    });
    peak_rss(&mut out, "caseload");
    emit(&mut all, std::mem::take(&mut out));

    // Full-text search, first page of results plus the total.
    rss::reset_peak();
    for ((name, term), naive) in SEARCH_TERMS.iter().zip(&prepared.naive_hits) {
        let mut s = Samples::default();
        let mut hits = 0;
        for _ in 0..opts.search_runs {
            hits = s.time(|| device.search(term, PAGE))?.contact_total;
        }
        s.push_summary(&mut out, name, false);
        out.push(Metric {
            name: format!("{name}_hits"),
            value: hits as f64,
        });
        out.push(Metric {
            name: format!("{name}_naive_hits"),
            value: *naive as f64,
        });
    }
    peak_rss(&mut out, "search");
    emit(&mut all, out);
    Ok(all)
}

/// Runs the variants one after the other, each in a fresh directory; figures are reported as
/// they come.
pub fn run(
    opts: &Options,
    variants: &[Variant],
    report: &mut dyn FnMut(Variant, &Metric),
) -> Result<BTreeMap<Variant, Vec<Metric>>, BenchError> {
    let prepared = Prepared::new(opts.n);
    let mut results = BTreeMap::new();
    for &v in variants {
        let temp;
        let dir = match &opts.dir {
            Some(d) => d.join(v.name()),
            None => {
                temp = tempfile::Builder::new()
                    .prefix("tsunagi-bench-")
                    .tempdir()
                    .map_err(|e| BenchError::Io {
                        path: std::env::temp_dir(),
                        source: e,
                    })?;
                temp.path().to_owned()
            }
        };
        let metrics = run_variant(v, &prepared, opts, &dir, &mut |m| report(v, m))?;
        results.insert(v, metrics);
    }
    Ok(results)
}
