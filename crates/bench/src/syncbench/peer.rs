//! The PouchDB peer: runs `shared/bench/peers/pouchdb/run.sh N` and parses its `phase=… key=…`
//! lines into [`PhaseResult`]s.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Phase, PhaseResult, d_records};

/// How to run the peer.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// The directory holding `run.sh`.
    pub dir: PathBuf,
    /// `VARIANTS` (e.g. `encrypted`, `plain`).
    pub variants: Vec<String>,
    /// `SKIP_INSTALL=1`: reuse `node_modules` instead of `npm ci`.
    pub skip_install: bool,
}

/// Parses one output line of `bench.js`; `None` for anything that is not a phase line.
pub fn parse_line(line: &str) -> Option<PhaseResult> {
    let line = line.trim();
    if !line.starts_with("phase=") {
        return None;
    }
    let mut phase = None;
    let mut variant = None;
    let mut nums: BTreeMap<String, f64> = BTreeMap::new();
    for kv in line.split_whitespace() {
        let (k, v) = kv.split_once('=')?;
        match k {
            "phase" => phase = Phase::parse(v),
            "variant" => variant = Some(v.to_owned()),
            _ => {
                // NaN is what the peer prints for an unreadable VmHWM: leave it out.
                if let Ok(x) = v.parse::<f64>()
                    && x.is_finite()
                {
                    nums.insert(k.to_owned(), x);
                }
            }
        }
    }
    let phase = phase?;
    let n = nums.remove("n")? as u32;
    let seconds = nums.remove("seconds")?;
    let take_u = |nums: &mut BTreeMap<String, f64>, k: &str| nums.remove(k).map(|v| v as u64);
    let server_disk_bytes = take_u(&mut nums, "server_disk_bytes");
    let client_disk_bytes = take_u(&mut nums, "client_disk_bytes");
    let client_peak_rss_mb = nums.remove("client_peak_rss_mb");
    let server_peak_rss_mb = nums.remove("server_peak_rss_mb");
    let records = match phase {
        Phase::D => d_records(n),
        _ => u64::from(n),
    };
    Some(PhaseResult {
        system: "pouchdb".into(),
        variant: variant?,
        n,
        phase,
        seconds,
        records,
        server_disk_bytes,
        client_disk_bytes,
        client_peak_rss_mb,
        server_peak_rss_mb,
        // docs_per_s stays as the peer rounded it; write_s, sync_s, peer_pull_s in D.
        extra: nums,
    })
}

/// Runs the peer for `n` records, echoing its output lines (prefixed `peer: `) as they come;
/// its stderr (npm, checks) passes through. Fails if `run.sh` fails or prints no phase line.
pub fn run(opts: &PeerOptions, n: u32) -> anyhow::Result<Vec<PhaseResult>> {
    let script = opts.dir.join("run.sh");
    if !script.is_file() {
        bail!("no PouchDB peer at {} (see --peer-dir)", script.display());
    }
    let mut cmd = Command::new(&script);
    cmd.arg(n.to_string())
        .env("VARIANTS", opts.variants.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if opts.skip_install {
        cmd.env("SKIP_INSTALL", "1");
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", script.display()))?;
    let stdout = child.stdout.take().context("peer stdout")?;
    let mut results = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading the peer's output")?;
        println!("peer: {line}");
        if let Some(r) = parse_line(&line) {
            results.push(r);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{} {n} failed: {status}", script.display());
    }
    if results.is_empty() {
        bail!("{} {n} printed no phase line", script.display());
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_readme_line() {
        let r = parse_line(
            "phase=B variant=encrypted n=10000 seconds=4.857 docs_per_s=2059 \
             server_disk_bytes=35034086 client_disk_bytes=35200995 client_peak_rss_mb=188.9 \
             server_peak_rss_mb=168",
        )
        .unwrap();
        assert_eq!(r.phase, Phase::B);
        assert_eq!(r.variant, "encrypted");
        assert_eq!((r.n, r.records), (10_000, 10_000));
        assert_eq!(r.seconds, 4.857);
        assert_eq!(r.server_disk_bytes, Some(35_034_086));
        assert_eq!(r.client_disk_bytes, Some(35_200_995));
        assert_eq!(r.client_peak_rss_mb, Some(188.9));
        assert_eq!(r.server_peak_rss_mb, Some(168.0));
        assert_eq!(r.get("docs_per_s"), Some(2059.0));
        assert!((r.records_per_s() - 2058.9).abs() < 0.1);
    }

    #[test]
    fn parses_phase_d_extras_and_skips_other_lines() {
        let r = parse_line(
            "phase=D variant=plain n=10000 seconds=0.197 docs_per_s=1015 server_disk_bytes=1 \
             client_disk_bytes=2 client_peak_rss_mb=NaN server_peak_rss_mb=185 write_s=0.08 \
             sync_s=0.117 peer_pull_s=0.1",
        )
        .unwrap();
        assert_eq!(r.records, 200);
        assert_eq!(r.client_peak_rss_mb, None);
        assert_eq!(r.get("write_s"), Some(0.08));
        assert_eq!(r.get("sync_s"), Some(0.117));
        assert_eq!(r.get("peer_pull_s"), Some(0.1));
        assert!(parse_line("# checks ok (plain, n=10000)").is_none());
        assert!(parse_line("phase=Q variant=plain n=1 seconds=1").is_none());
        assert!(parse_line("phase=A variant=plain seconds=1").is_none());
    }
}
