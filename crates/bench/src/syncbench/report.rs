//! Printing the sync benchmark: one table per N (Tsunagi next to the PouchDB peer, the speed-up
//! and the goals), a disk and RSS table, and every figure as JSON lines.

use serde_json::{Value, json};
use std::fmt::Write;

use super::{Phase, PhaseResult};

/// The peer variant Tsunagi is compared with.
pub const PEER_VARIANT: &str = "encrypted";
/// Speed-up over the encrypted peer required on B and C.
pub const SPEEDUP_GOAL: f64 = 10.0;
/// C at N = 100,000, seconds.
pub const C_100K_GOAL_S: f64 = 5.0;
/// D round trip (device 1's sync until the server has the changes, plus device 2's sync).
pub const D_ROUND_TRIP_GOAL_S: f64 = 0.1;

/// One goal and whether it was met (`None`: not applicable or not measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// `B speed-up ≥ 10×`, ...
    pub name: String,
    /// Phase it belongs to.
    pub phase: Phase,
    /// The table row it is shown on.
    pub row: &'static str,
    /// The measured value (speed-up or seconds).
    pub value: Option<f64>,
    /// The target.
    pub target: f64,
    /// Whether `value` meets `target`.
    pub met: Option<bool>,
}

fn find(rs: &[PhaseResult], phase: Phase) -> Option<&PhaseResult> {
    rs.iter().find(|r| r.phase == phase)
}

fn peer_of<'a>(peer: &'a [PhaseResult], variant: &str, phase: Phase) -> Option<&'a PhaseResult> {
    peer.iter()
        .find(|r| r.variant == variant && r.phase == phase)
}

const B_ROW: &str = "B push";
const C_ROW: &str = "C pull (sync+indexed)";
const D_RT_ROW: &str = "  D round trip";

/// The rows of the main table: label, Tsunagi (seconds, records), peer (seconds, records).
struct Row {
    label: &'static str,
    phase: Phase,
    ours: Option<(f64, u64)>,
    peer: Option<(f64, u64)>,
    plain: Option<f64>,
}

fn rows(n: u32, ours: &[PhaseResult], peer: &[PhaseResult]) -> Vec<Row> {
    let n64 = u64::from(n);
    let main = |r: Option<&PhaseResult>| r.map(|r| (r.seconds, r.records));
    let extra =
        |r: Option<&PhaseResult>, k: &str, recs: u64| r.and_then(|r| r.get(k)).map(|s| (s, recs));
    let pe = |p| peer_of(peer, PEER_VARIANT, p);
    let pp = |p| peer_of(peer, "plain", p);
    let d = super::d_records(n);
    let peer_rt =
        |r: Option<&PhaseResult>| r.and_then(|r| Some(r.get("sync_s")? + r.get("peer_pull_s")?));
    let o = |p| find(ours, p);
    vec![
        Row {
            label: "A capture",
            phase: Phase::A,
            ours: main(o(Phase::A)),
            peer: main(pe(Phase::A)),
            plain: pp(Phase::A).map(|r| r.seconds),
        },
        Row {
            label: B_ROW,
            phase: Phase::B,
            ours: main(o(Phase::B)),
            peer: main(pe(Phase::B)),
            plain: pp(Phase::B).map(|r| r.seconds),
        },
        Row {
            label: C_ROW,
            phase: Phase::C,
            ours: main(o(Phase::C)),
            peer: main(pe(Phase::C)),
            plain: pp(Phase::C).map(|r| r.seconds),
        },
        Row {
            label: "  C sync",
            phase: Phase::C,
            ours: extra(o(Phase::C), "sync_s", n64),
            peer: None,
            plain: None,
        },
        Row {
            label: "  C indexed",
            phase: Phase::C,
            ours: extra(o(Phase::C), "indexed_s", n64),
            peer: None,
            plain: None,
        },
        Row {
            label: "D write+push (200)",
            phase: Phase::D,
            ours: main(o(Phase::D)),
            peer: main(pe(Phase::D)),
            plain: pp(Phase::D).map(|r| r.seconds),
        },
        Row {
            label: "  D device 2 pull",
            phase: Phase::D,
            ours: extra(o(Phase::D), "device2_pull_s", d),
            peer: extra(pe(Phase::D), "peer_pull_s", d),
            plain: pp(Phase::D).and_then(|r| r.get("peer_pull_s")),
        },
        Row {
            label: D_RT_ROW,
            phase: Phase::D,
            ours: extra(o(Phase::D), "round_trip_s", d),
            peer: peer_rt(pe(Phase::D)).map(|s| (s, d)),
            plain: peer_rt(pp(Phase::D)),
        },
        Row {
            label: "    first round",
            phase: Phase::D,
            ours: extra(o(Phase::D), "round_trip_first_s", d),
            peer: None,
            plain: None,
        },
        Row {
            label: "    slowest round",
            phase: Phase::D,
            ours: extra(o(Phase::D), "round_trip_max_s", d),
            peer: None,
            plain: None,
        },
    ]
}

fn speedup(row: &Row) -> Option<f64> {
    match (row.ours, row.peer) {
        (Some((o, _)), Some((p, _))) if o > 0.0 => Some(p / o),
        _ => None,
    }
}

/// The goals of one N.
pub fn goals(n: u32, ours: &[PhaseResult], peer: &[PhaseResult]) -> Vec<Goal> {
    let rows = rows(n, ours, peer);
    let by = |label: &str| rows.iter().find(|r| r.label == label);
    let mut out = Vec::new();
    for (label, phase) in [(B_ROW, Phase::B), (C_ROW, Phase::C)] {
        let s = by(label).and_then(speedup);
        out.push(Goal {
            name: format!("{} ≥ {SPEEDUP_GOAL}× peer {PEER_VARIANT}", phase.letter()),
            phase,
            row: label,
            value: s,
            target: SPEEDUP_GOAL,
            met: s.map(|s| s >= SPEEDUP_GOAL),
        });
    }
    let c = find(ours, Phase::C).map(|r| r.seconds);
    out.push(Goal {
        name: format!("C ≤ {C_100K_GOAL_S} s at 100k"),
        phase: Phase::C,
        row: C_ROW,
        value: c,
        target: C_100K_GOAL_S,
        met: if n == 100_000 {
            c.map(|c| c <= C_100K_GOAL_S)
        } else {
            None
        },
    });
    let rt = find(ours, Phase::D).and_then(|r| r.get("round_trip_s"));
    out.push(Goal {
        name: format!("D round trip ≤ {} ms", D_ROUND_TRIP_GOAL_S * 1e3),
        phase: Phase::D,
        row: D_RT_ROW,
        value: rt,
        target: D_ROUND_TRIP_GOAL_S,
        met: rt.map(|s| s <= D_ROUND_TRIP_GOAL_S),
    });
    out
}

fn s(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 10.0 => format!("{v:.3}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

fn per_s(v: Option<(f64, u64)>) -> String {
    match v {
        // Below a millisecond (e.g. no index left to catch up) a rate means nothing.
        Some((s, r)) if s >= 0.001 => format!("{:.0}", r as f64 / s),
        _ => "-".into(),
    }
}

fn mb(v: Option<u64>) -> String {
    v.map(|b| format!("{:.1}", b as f64 / 1e6))
        .unwrap_or_else(|| "-".into())
}

fn rss(v: Option<f64>) -> String {
    v.map(|m| format!("{m:.0}")).unwrap_or_else(|| "-".into())
}

fn goal_text(g: &Goal) -> String {
    let verdict = match g.met {
        Some(true) => "ok",
        Some(false) => "MISSED",
        None => "n/a",
    };
    format!("{}: {verdict}", g.name)
}

/// The tables of one N.
pub fn table(n: u32, ours: &[PhaseResult], peer: &[PhaseResult]) -> String {
    let mut out = String::new();
    let goals = goals(n, ours, peer);
    let _ = writeln!(
        out,
        "== N={n}: Tsunagi (SQLCipher devices, sealed envelopes) vs PouchDB peer ({PEER_VARIANT}; plain for reference)"
    );
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9}  goal",
        "phase", "tsunagi s", "rec/s", "peer s", "rec/s", "speed-up", "plain s"
    );
    for row in rows(n, ours, peer) {
        let goal = goals
            .iter()
            .filter(|g| g.row == row.label)
            .map(goal_text)
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9}  {}",
            row.label,
            s(row.ours.map(|o| o.0)),
            per_s(row.ours),
            s(row.peer.map(|p| p.0)),
            per_s(row.peer),
            speedup(&row)
                .map(|x| format!("{x:.1}×"))
                .unwrap_or_else(|| "-".into()),
            s(row.plain),
            goal
        );
    }
    let _ = writeln!(
        out,
        "{:<22} {:>17} {:>17} {:>17} {:>17}",
        "disk MB, peak RSS MB",
        "server disk t/p",
        "device disk t/p",
        "client RSS t/p",
        "server RSS t/p"
    );
    for phase in Phase::ALL {
        let o = find(ours, phase);
        let p = peer_of(peer, PEER_VARIANT, phase);
        let pair = |a: String, b: String| format!("{a} / {b}");
        let _ = writeln!(
            out,
            "{:<22} {:>17} {:>17} {:>17} {:>17}",
            phase.letter(),
            pair(
                mb(o.and_then(|r| r.server_disk_bytes)),
                mb(p.and_then(|r| r.server_disk_bytes))
            ),
            pair(
                mb(o.and_then(|r| r.client_disk_bytes)),
                mb(p.and_then(|r| r.client_disk_bytes))
            ),
            pair(
                rss(o.and_then(|r| r.client_peak_rss_mb)),
                rss(p.and_then(|r| r.client_peak_rss_mb))
            ),
            pair(
                rss(o.and_then(|r| r.server_peak_rss_mb)),
                rss(p.and_then(|r| r.server_peak_rss_mb))
            ),
        );
    }
    let missed: Vec<&str> = goals
        .iter()
        .filter(|g| g.met == Some(false))
        .map(|g| g.name.as_str())
        .collect();
    let unknown = goals.iter().filter(|g| g.met.is_none()).count();
    if missed.is_empty() {
        let _ = writeln!(
            out,
            "goals: none missed ({unknown} not applicable or not measured)"
        );
    } else {
        let _ = writeln!(out, "goals missed: {}", missed.join(", "));
    }
    out
}

/// The line printed for one phase, in the peer's `key=value` format.
pub fn line(r: &PhaseResult) -> String {
    let mut out = format!(
        "phase={} system={} variant={} n={} seconds={:.3} records_per_s={:.0}",
        r.phase.letter(),
        r.system,
        r.variant,
        r.n,
        r.seconds,
        r.records_per_s()
    );
    if let Some(b) = r.server_disk_bytes {
        let _ = write!(out, " server_disk_bytes={b}");
    }
    if let Some(b) = r.client_disk_bytes {
        let _ = write!(out, " client_disk_bytes={b}");
    }
    if let Some(m) = r.client_peak_rss_mb {
        let _ = write!(out, " client_peak_rss_mb={m:.1}");
    }
    if let Some(m) = r.server_peak_rss_mb {
        let _ = write!(out, " server_peak_rss_mb={m:.1}");
    }
    for (k, v) in &r.extra {
        if v.fract() == 0.0 {
            let _ = write!(out, " {k}={v:.0}");
        } else {
            let _ = write!(out, " {k}={v:.4}");
        }
    }
    out
}

/// JSON lines for every figure of `r`.
pub fn json_lines(r: &PhaseResult, run: &str) -> Vec<String> {
    let mut figures: Vec<(String, f64)> = vec![
        ("seconds".into(), r.seconds),
        ("records".into(), r.records as f64),
        ("records_per_s".into(), r.records_per_s()),
    ];
    let opt = [
        ("server_disk_bytes", r.server_disk_bytes.map(|b| b as f64)),
        ("client_disk_bytes", r.client_disk_bytes.map(|b| b as f64)),
        ("client_peak_rss_mb", r.client_peak_rss_mb),
        ("server_peak_rss_mb", r.server_peak_rss_mb),
    ];
    figures.extend(
        opt.into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))),
    );
    figures.extend(r.extra.iter().map(|(k, v)| (k.clone(), *v)));
    figures
        .into_iter()
        .map(|(metric, value)| {
            json!({
                "run": run,
                "system": r.system,
                "variant": r.variant,
                "n": r.n,
                "phase": r.phase.letter(),
                "metric": metric,
                "value": value,
            })
            .to_string()
        })
        .collect()
}

/// JSON lines of the comparison of one N: each row's speed-up and each goal.
pub fn comparison_lines(
    n: u32,
    ours: &[PhaseResult],
    peer: &[PhaseResult],
    run: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows(n, ours, peer) {
        if let Some(x) = speedup(&row) {
            out.push(
                json!({
                    "run": run,
                    "system": "comparison",
                    "variant": format!("tsunagi/pouchdb-{PEER_VARIANT}"),
                    "n": n,
                    "phase": row.phase.letter(),
                    "metric": format!("speedup {}", row.label.trim()),
                    "value": x,
                })
                .to_string(),
            );
        }
    }
    for g in goals(n, ours, peer) {
        out.push(
            json!({
                "run": run,
                "system": "goal",
                "variant": "tsunagi",
                "n": n,
                "phase": g.phase.letter(),
                "metric": g.name,
                "value": g.value,
                "target": g.target,
                "met": g.met.map_or(Value::Null, Value::Bool),
            })
            .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn r(
        system: &str,
        variant: &str,
        phase: Phase,
        seconds: f64,
        extra: &[(&str, f64)],
    ) -> PhaseResult {
        PhaseResult {
            system: system.into(),
            variant: variant.into(),
            n: 100_000,
            phase,
            seconds,
            records: if phase == Phase::D { 200 } else { 100_000 },
            server_disk_bytes: Some(2_000_000),
            client_disk_bytes: None,
            client_peak_rss_mb: Some(12.5),
            server_peak_rss_mb: None,
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn speed_ups_and_goals() {
        let ours = vec![
            r("tsunagi", "sqlcipher", Phase::A, 10.0, &[]),
            r("tsunagi", "sqlcipher", Phase::B, 3.0, &[]),
            r(
                "tsunagi",
                "sqlcipher",
                Phase::C,
                4.0,
                &[("sync_s", 3.0), ("indexed_s", 1.0)],
            ),
            r(
                "tsunagi",
                "sqlcipher",
                Phase::D,
                0.1,
                &[("round_trip_s", 0.08), ("device2_pull_s", 0.03)],
            ),
        ];
        let peer = vec![
            r("pouchdb", "encrypted", Phase::B, 37.0, &[]),
            r("pouchdb", "encrypted", Phase::C, 43.0, &[]),
            r(
                "pouchdb",
                "encrypted",
                Phase::D,
                0.29,
                &[("sync_s", 0.11), ("peer_pull_s", 0.1)],
            ),
            r("pouchdb", "plain", Phase::B, 39.0, &[]),
        ];
        let g = goals(100_000, &ours, &peer);
        assert_eq!(g.len(), 4);
        assert_eq!(g[0].met, Some(true), "B 37/3 = 12.3×");
        assert_eq!(g[1].met, Some(true), "C 43/4 = 10.75×");
        assert_eq!(g[2].met, Some(true), "C 4 s ≤ 5 s");
        assert_eq!(g[3].met, Some(true), "80 ms");
        let g = goals(10_000, &ours, &[]);
        assert_eq!(g[0].met, None, "no peer, no speed-up");
        assert_eq!(g[2].met, None, "the 5 s goal is for 100k");
        let t = table(100_000, &ours, &peer);
        assert!(t.contains("12.3×"), "{t}");
        assert!(t.contains("goals: none missed"), "{t}");
        assert!(t.contains("2.0 / 2.0"), "{t}");
        let lines = comparison_lines(100_000, &ours, &peer, "x");
        assert!(lines.iter().any(|l| l.contains("\"met\":true")));
        let j = json_lines(&ours[2], "x");
        assert!(j.iter().any(|l| l.contains("\"metric\":\"indexed_s\"")));
        assert!(j.iter().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    }
}
