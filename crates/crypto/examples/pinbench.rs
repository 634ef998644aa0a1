//! The PIN key derivation's cost per guess on this machine — Argon2id with the parameters a
//! device uses (`PinParams::recommended`), then HKDF with the keystore pepper — as the median of
//! N derivations, with the memory it takes, and what that means for someone guessing PINs
//! against a copied store *with* its keystore entry (the attempt counter does not slow them: it
//! is the app's, not theirs).
//!
//! `cargo run --release -p tsunagi-crypto --example pinbench -- [N] [M_KIB] [T]`

use std::time::{Duration, Instant};
use tsunagi_crypto::{PinParams, derive_pin_kek, random_array};

/// Peak resident memory of this process in KiB (Linux), if reported.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn arg(i: usize) -> Option<u32> {
    std::env::args().nth(i).and_then(|a| a.parse().ok())
}

fn main() -> Result<(), tsunagi_crypto::CryptoError> {
    let n = arg(1).unwrap_or(15).max(1);
    let mut params = PinParams::recommended()?;
    if let Some(m) = arg(2) {
        params.m_cost = m;
    }
    if let Some(t) = arg(3) {
        params.t_cost = t;
    }
    let pepper: [u8; 32] = random_array()?;
    let before = peak_kib();
    let mut times: Vec<Duration> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let pin = format!("{:06}", 100_000 + i);
        let t = Instant::now();
        let kek = derive_pin_kek(pin.as_bytes(), &pepper, &params)?;
        times.push(t.elapsed());
        drop(kek);
    }
    let after = peak_kib();
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "Argon2id m={} MiB t={} p={}: median {:.0} ms per guess over {} derivations (min {:.0} ms, max {:.0} ms)",
        params.m_cost / 1024,
        params.t_cost,
        params.p_cost,
        median * 1e3,
        times.len(),
        ms(times[0]),
        ms(times[times.len() - 1]),
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "memory: peak RSS {} MiB ({} MiB before the first derivation)",
            a / 1024,
            b / 1024
        );
    }
    let six = 1e6 * median;
    let eight = 1e8 * median;
    println!(
        "every six-digit PIN (10^6): {:.0} core-hours = {:.1} core-days; every eight-digit PIN (10^8): {:.0} core-days = {:.1} core-years",
        six / 3600.0,
        six / 86400.0,
        eight / 86400.0,
        eight / 86400.0 / 365.0
    );
    Ok(())
}
