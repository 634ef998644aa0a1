//! `tsunagi-syncbench`: phases A–D of the shared sync workload on Tsunagi (server child process,
//! two enrolled devices) and then on the PouchDB peer, one table per N, JSON lines to `--out`.

use anyhow::{Context, bail};
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use tsunagi_bench::syncbench::peer::{self, PeerOptions};
use tsunagi_bench::syncbench::server::ServerProcess;
use tsunagi_bench::syncbench::{PhaseResult, report, tsunagi};

/// Measures sync (capture, push, fresh-device pull, incremental) on Tsunagi and on the PouchDB
/// peer in one invocation, one after the other. Run inside `scripts/lib/with-keystore` (the
/// devices' keys go to the OS keystore).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Records (workload records 0..N); repeat for several sizes (`--n 10000 --n 100000`).
    #[arg(long, default_values_t = [10_000u32])]
    n: Vec<u32>,
    /// Append every figure as a JSON line to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The PouchDB peer's directory (holding run.sh); default
    /// `../shared/bench/peers/pouchdb` relative to the repository root.
    #[arg(long)]
    peer_dir: Option<PathBuf>,
    /// The peer's VARIANTS (space-separated); Tsunagi is compared with `encrypted`.
    #[arg(long, default_value = "encrypted plain")]
    peer_variants: String,
    /// Do not run the peer (Tsunagi figures only).
    #[arg(long)]
    no_peer: bool,
    /// Reuse the peer's node_modules (SKIP_INSTALL=1) also on the first run.
    #[arg(long)]
    peer_skip_install: bool,
    /// The tsunagi-server binary (default: beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Keep the server's default per-key rate limit (by default it is lifted, as the peer has
    /// none and the benchmark measures throughput).
    #[arg(long)]
    keep_rate_limit: bool,
    /// Work directory (server data, admin state, devices; `DIR/n<N>/`, must not exist yet);
    /// default a temporary directory, removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Records read back on device 2 after the pull.
    #[arg(long, default_value_t = 50)]
    samples: u32,
    /// The server's RUST_LOG (its log goes to stderr).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// How long phase C waits for the background full-text indexer before failing, seconds.
    #[arg(long, default_value_t = 3600)]
    index_timeout_s: u64,
    /// Rounds of phase D (each 100 new records and 100 corrections; at most N / 100); D's
    /// figures are the median round's, with the first and the slowest beside them.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    d_rounds: u32,
}

fn repo_root() -> PathBuf {
    // crates/bench → the repository (or worktree) root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server_bin = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("tsunagi-server"),
    };
    let peer_dir = args
        .peer_dir
        .clone()
        .unwrap_or_else(|| repo_root().join("../shared/bench/peers/pouchdb"));
    let variants: Vec<String> = args
        .peer_variants
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let tsunagi_bench::report::RunStart {
        run_id,
        cores,
        loadavg,
        mut out,
    } = tsunagi_bench::report::RunStart::new(args.out.as_deref())?;
    println!(
        "# tsunagi-syncbench run={run_id} n={:?} cores={cores} loadavg={} server={} rate_limit={} peer={} variants={:?}",
        args.n,
        loadavg,
        server_bin.display(),
        if args.keep_rate_limit {
            "default"
        } else {
            "lifted"
        },
        if args.no_peer {
            "none".into()
        } else {
            peer_dir.display().to_string()
        },
        variants.join(" "),
    );
    let temp;
    let root = match &args.dir {
        Some(d) => {
            if d.exists() {
                bail!("{} exists already", d.display());
            }
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("tsunagi-syncbench-")
                .tempdir()?;
            temp.path().to_owned()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut write = |lines: Vec<String>| -> anyhow::Result<()> {
        if let Some(f) = out.as_mut() {
            for l in lines {
                writeln!(f, "{l}").context("writing the results file")?;
            }
        }
        Ok(())
    };
    let mut tables = Vec::new();
    let mut peer_failed = false;
    let mut failures: Vec<anyhow::Error> = Vec::new();
    for (k, &n) in args.n.iter().enumerate() {
        let dir = root.join(format!("n{n}"));
        let data = dir.join("server");
        std::fs::create_dir_all(&data)?;
        // Tsunagi first.
        let server =
            ServerProcess::start(&server_bin, &data, !args.keep_rate_limit, &args.server_log)?;
        let opts = tsunagi::Options {
            samples: args.samples,
            index_timeout: std::time::Duration::from_secs(args.index_timeout_s),
            d_rounds: args.d_rounds,
            ..tsunagi::Options::new(n, &dir.join("devices"))
        };
        let mut ours: Vec<PhaseResult> = Vec::new();
        let outcome = rt.block_on(tsunagi::run(&opts, server.info(), &mut |r| {
            println!("tsunagi: {}", report::line(r));
            ours.push(r.clone());
        }));
        server.stop()?;
        if args.dir.is_none() {
            // Free the disk before the peer runs (at 100k both devices hold over a GB each).
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        for r in &ours {
            write(report::json_lines(r, &run_id))?;
        }
        // A failed run still shows what it measured, next to the peer, and fails at the end.
        let mut note = None;
        let results = match outcome {
            Ok(o) => {
                for c in &o.checks {
                    println!("tsunagi: check ok: {c}");
                }
                o.results
            }
            Err(e) => {
                let e = e.context(format!("the Tsunagi run failed at N={n}"));
                println!("tsunagi: FAILED: {e:#}");
                note = Some(format!("Tsunagi FAILED: {e:#}\n"));
                failures.push(e);
                ours
            }
        };
        // Then the peer.
        let mut theirs = Vec::new();
        if !args.no_peer {
            let popts = PeerOptions {
                dir: peer_dir.clone(),
                variants: variants.clone(),
                skip_install: args.peer_skip_install || k > 0,
            };
            match peer::run(&popts, n) {
                Ok(rs) => theirs = rs,
                Err(e) => {
                    eprintln!("peer run failed: {e:#}");
                    peer_failed = true;
                }
            }
            for r in &theirs {
                write(report::json_lines(r, &run_id))?;
            }
        }
        write(report::comparison_lines(n, &results, &theirs, &run_id))?;
        let mut t = report::table(n, &results, &theirs);
        t.push_str(note.as_deref().unwrap_or_default());
        println!();
        print!("{t}");
        println!();
        tables.push(t);
    }
    if args.n.len() > 1 {
        println!("# all tables");
        for t in tables {
            print!("{t}");
            println!();
        }
    }
    if let Some(e) = failures.into_iter().next() {
        return Err(e);
    }
    if peer_failed {
        bail!("the peer run failed (Tsunagi's figures are above)");
    }
    Ok(())
}
