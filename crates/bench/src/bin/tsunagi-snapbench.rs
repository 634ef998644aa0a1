//! `tsunagi-snapbench`: the store's share of a fresh device's pull — opening snapshot payloads
//! and committing them into an empty SQLCipher store — with no network, server or keystore in
//! the way, so that a change to that path can be measured alone, in one process, interleaved.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use std::time::{Duration, Instant};
use tsunagi_bench::Prepared;
use tsunagi_bench::harness::captured_device;
use tsunagi_core::ids::EntityId;
use tsunagi_crypto::StoreKey;
use tsunagi_device::snapshot_payload;
use tsunagi_store::{Encryption, PageWrite, Store};

/// Seals one snapshot per case (the 500 persons) from a device holding N workload records,
/// then applies them into a fresh store `--reps` times in each mode, alternating which goes
/// first: `text` stores each new state from the JSON text it came in (what a device does),
/// `print` prints each state again before compressing it (what a device did before).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Workload records in the source device.
    #[arg(long, default_value_t = 20_000)]
    n: u32,
    /// Repetitions of each mode.
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// Only this mode (for counting instructions under callgrind).
    #[arg(long, value_enum)]
    only: Option<Mode>,
    /// Bytes of payload per committed page (a pull page is about 4 MiB).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    page_bytes: usize,
}

/// How a fresh store writes a snapshot's state that is new to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Compress the JSON text the state came in (what a device does).
    Text,
    /// Print the state again, then compress it (what a device did before).
    Print,
}

/// Time spent opening payloads and committing pages.
#[derive(Debug, Default, Clone, Copy)]
struct Times {
    decode: Duration,
    commit: Duration,
    close: Duration,
}

fn apply_all(
    payloads: &[(EntityId, Vec<u8>)],
    page_bytes: usize,
    mode: Mode,
) -> anyhow::Result<Times> {
    let dir = tempfile::tempdir()?;
    let key = StoreKey::generate()?;
    let mut store = Store::create(&dir.path().join("fresh.db"), Encryption::Key(&key))?;
    let mut t = Times::default();
    let mut seq = 0u64;
    let mut rest = payloads;
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take_while(|(_, p)| {
                bytes += p.len();
                bytes <= page_bytes
            })
            .count()
            .max(1);
        let (page, tail) = rest.split_at(n);
        rest = tail;
        let started = Instant::now();
        let mut write = PageWrite::default();
        for (case, plain) in page {
            seq += 1;
            let mut states = snapshot_payload::decode(plain).context("decode")?;
            if mode == Mode::Print {
                states.iter_mut().for_each(|s| s.json = None);
            }
            write.snapshots.push((*case, seq, states));
        }
        let decoded = Instant::now();
        store.commit_page(&write, "2026-11-22T00:00:00Z")?;
        t.decode += decoded - started;
        t.commit += decoded.elapsed();
    }
    let started = Instant::now();
    drop(store);
    t.close = started.elapsed();
    Ok(t)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let prepared = Prepared::new(args.n);
    let src = tempfile::tempdir()?;
    let t = Instant::now();
    let (device, persons) = captured_device(&prepared, src.path())?;
    eprintln!(
        "source: {} records in {:.1} s",
        args.n,
        t.elapsed().as_secs_f64()
    );
    let cases: Vec<EntityId> = persons.iter().map(|p| EntityId::from(*p)).collect();
    let t = Instant::now();
    let payloads = cases
        .iter()
        .map(|c| Ok((*c, device.snapshot_payload(*c)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The source's background thread is still indexing its notes and merging segments: closed
    // here, so that it does not compete with what is measured.
    drop(device);
    let bytes: usize = payloads.iter().map(|(_, p)| p.len()).sum();
    println!(
        "sealed {} snapshots in {:.3} s, payload_mb={:.1}",
        payloads.len(),
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    for rep in 0..args.reps {
        let order = if rep % 2 == 0 {
            [Mode::Text, Mode::Print]
        } else {
            [Mode::Print, Mode::Text]
        };
        for mode in order {
            if args.only.is_some_and(|m| m != mode) {
                continue;
            }
            let t = apply_all(&payloads, args.page_bytes, mode)?;
            let name = format!("{mode:?}").to_lowercase();
            println!(
                "{name:5} rep={rep} decode_s={:.3} commit_s={:.3} close_s={:.3} total_s={:.3}",
                t.decode.as_secs_f64(),
                t.commit.as_secs_f64(),
                t.close.as_secs_f64(),
                (t.decode + t.commit).as_secs_f64()
            );
        }
    }
    Ok(())
}
