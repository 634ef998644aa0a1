//! `tsunagi-bench`: runs the shared workload on SQLCipher and plain SQLite and prints the figures.

use anyhow::Context;
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use tsunagi_bench::report;
use tsunagi_bench::{Options, Variant, run};

/// Measures the device store on the shared visit-record workload, SQLCipher and plain SQLite
/// in one run, one after the other.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Contacts to write (workload records 0..N).
    #[arg(long, default_value_t = 100_000)]
    n: u32,
    /// Directory for the stores (`DIR/<variant>/store.db`, must not exist yet); default a
    /// temporary directory per variant, removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Append every figure as a JSON line to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Persons whose timeline and page are opened.
    #[arg(long, default_value_t = 200)]
    timeline_samples: usize,
    /// Caseload loads.
    #[arg(long, default_value_t = 50)]
    caseload_runs: usize,
    /// Runs per search term.
    #[arg(long, default_value_t = 20)]
    search_runs: usize,
    /// Only the SQLCipher variant (no baseline, no ratios).
    #[arg(long)]
    sqlcipher_only: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let opts = Options {
        n: args.n,
        timeline_samples: args.timeline_samples,
        caseload_runs: args.caseload_runs,
        search_runs: args.search_runs,
        dir: args.dir.clone(),
    };
    let variants: &[Variant] = if args.sqlcipher_only {
        &[Variant::Sqlcipher]
    } else {
        &[Variant::Sqlcipher, Variant::Plain]
    };
    let report::RunStart {
        run_id,
        cores,
        loadavg,
        mut out,
    } = report::RunStart::new(args.out.as_deref())?;
    println!(
        "# tsunagi-bench n={} order=sequential ({}) cores={cores} loadavg={} dir={}",
        args.n,
        variants
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(" then "),
        loadavg,
        args.dir.as_ref().map_or_else(
            || std::env::temp_dir().display().to_string(),
            |d| d.display().to_string()
        ),
    );
    let mut write_err = None;
    let results = run(&opts, variants, &mut |v, m| {
        println!("{}", report::line(v, m));
        if let Some(f) = out.as_mut()
            && let Err(e) = writeln!(f, "{}", report::json_line(v, args.n, m, &run_id))
        {
            write_err.get_or_insert(e);
        }
    })?;
    if let Some(e) = write_err {
        return Err(e).context("writing the results file");
    }
    println!();
    print!("{}", report::summary(&results));
    Ok(())
}
