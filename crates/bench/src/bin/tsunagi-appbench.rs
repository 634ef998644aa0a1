//! `tsunagi-appbench`: what a worker waits for in the app — a new tablet's first sync while the
//! app is in use, then a cold start, a person page, a save and a search on the synced store —
//! measured through the app's front door on the shared workload, figures printed.
//!
//! Run inside `scripts/lib/with-keystore` (the app keeps its keys in the OS keystore):
//! `scripts/lib/with-keystore target/release/tsunagi-appbench --n 100000`.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use tsunagi_bench::appbench::{self, Options};

#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Workload records (contacts): 100,000 for the figures, smaller to try it.
    #[arg(long, default_value_t = 100_000)]
    n: u32,
    /// Every this-many-th person is the first worker's own (10: a tenth of the records).
    #[arg(long, default_value_t = 10)]
    own_every: usize,
    /// Also run the first sync with a whole pulled page per store transaction (the CLI's way),
    /// to compare how long the app's commands wait.
    #[arg(long)]
    compare_whole_pages: bool,
    /// Repetitions of the steady-state measurements (cold starts; ×10 pages, ×20 saves, ×4
    /// searches per term).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// The tsunagi-server binary (default: beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Scratch directory (default: a new temporary one, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server_bin = match args.server {
        Some(s) => s,
        None => std::env::current_exe()?
            .parent()
            .context("the benchmark binary has no directory")?
            .join("tsunagi-server"),
    };
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.unwrap_or_else(|| tmp.path().join("appbench"));
    let outcome = appbench::run(&Options {
        n: args.n,
        own_every: args.own_every.max(1),
        server_bin,
        dir,
        compare_whole_pages: args.compare_whole_pages,
        reps: args.reps,
    })?;
    print!("{}", appbench::report(&outcome));
    Ok(())
}
