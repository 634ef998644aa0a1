//! Printing results: one `variant=… metric=… value=…` line per figure, JSON lines for a
//! results file, and the summary table with SQLCipher's ratio to plain and the goals.

use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::{Metric, Variant};

/// What both benchmark binaries know at the start of a run: its id (the time it started, on
/// every JSON line), the machine (cores, 1-minute/5/15 load, for the header), and the results
/// file, opened for appending.
#[derive(Debug)]
pub struct RunStart {
    /// RFC 3339 start time, seconds.
    pub run_id: String,
    /// Cores available to this process.
    pub cores: usize,
    /// `/proc/loadavg`'s three load averages, comma-separated (empty if unreadable).
    pub loadavg: String,
    /// The `--out` file, if any.
    pub out: Option<std::fs::File>,
}

impl RunStart {
    /// Opens `out` (created if missing, appended to) and notes the time and the machine.
    pub fn new(out: Option<&std::path::Path>) -> anyhow::Result<RunStart> {
        use anyhow::Context;
        let out = match out {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?,
            ),
            None => None,
        };
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        Ok(RunStart {
            run_id: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            loadavg: load
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(","),
            out,
        })
    }
}

/// The line printed for one figure.
pub fn line(variant: Variant, m: &Metric) -> String {
    format!(
        "variant={} metric={} value={}",
        variant.name(),
        m.name,
        fmt_value(m.value)
    )
}

/// The JSON line appended to a results file.
pub fn json_line(variant: Variant, n: u32, m: &Metric, run_id: &str) -> String {
    json!({
        "run": run_id,
        "system": "tsunagi",
        "variant": variant.name(),
        "n": n,
        "metric": m.name,
        "value": m.value,
    })
    .to_string()
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// An absolute goal on the product (SQLCipher) figure.
fn goal(metric: &str) -> Option<f64> {
    match metric {
        "write_p99_ms" => Some(5.0),
        "timeline_p99_ms" => Some(20.0),
        m if m.starts_with("search_") && m.ends_with("_p99_ms") => Some(50.0),
        _ => None,
    }
}

/// Highest acceptable SQLCipher cost over plain.
pub const MAX_OVERHEAD: f64 = 1.3;

/// The cost of SQLCipher relative to plain, judged on medians and whole-phase times only: on a
/// shared 2-core machine a p99 of a few hundred samples is one stall away from either side.
/// Throughput is inverted; `None` for tails, counts and sizes.
fn overhead(metric: &str, ratio: f64) -> Option<f64> {
    if metric.ends_with("_p50_ms") || metric == "capture_s" {
        Some(ratio)
    } else if metric.ends_with("_per_s") {
        Some(1.0 / ratio)
    } else {
        None
    }
}

/// The summary table: each metric of the first variant, plain's value, the ratio
/// sqlcipher/plain, and the goals it is held to.
pub fn summary(results: &BTreeMap<Variant, Vec<Metric>>) -> String {
    let enc = results.get(&Variant::Sqlcipher);
    let plain = results.get(&Variant::Plain);
    let names: Vec<&str> = enc
        .or(plain)
        .map(|v| v.iter().map(|m| m.name.as_str()).collect())
        .unwrap_or_default();
    let get = |v: Option<&Vec<Metric>>, name: &str| {
        v.and_then(|v| v.iter().find(|m| m.name == name))
            .map(|m| m.value)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:>14} {:>14} {:>8}  goal",
        "metric", "sqlcipher", "plain", "ratio"
    );
    let mut failed = Vec::new();
    for name in names {
        let e = get(enc, name);
        let p = get(plain, name);
        let ratio = match (e, p) {
            (Some(e), Some(p)) if p != 0.0 => Some(e / p),
            _ => None,
        };
        let mut goals = Vec::new();
        if let (Some(g), Some(e)) = (goal(name), e) {
            let ok = e <= g;
            goals.push(format!("≤ {g} ms {}", if ok { "ok" } else { "MISSED" }));
            if !ok {
                failed.push(name.to_owned());
            }
        }
        if let Some(o) = ratio.and_then(|r| overhead(name, r)) {
            let ok = o <= MAX_OVERHEAD;
            goals.push(format!(
                "overhead {o:.2}× {}",
                if ok { "ok" } else { "over 1.3×" }
            ));
            if !ok {
                failed.push(format!("{name} (overhead)"));
            }
        }
        let cell = |v: Option<f64>| v.map(fmt_value).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<32} {:>14} {:>14} {:>8}  {}",
            name,
            cell(e),
            cell(p),
            ratio
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into()),
            goals.join("; ")
        );
    }
    if failed.is_empty() {
        let _ = writeln!(out, "goals: all met");
    } else {
        let _ = writeln!(out, "goals missed: {}", failed.join(", "));
    }
    out
}
