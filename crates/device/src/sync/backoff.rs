//! Background sync: `Backoff` (exponential with jitter after failures, a steady interval
//! after success), `Device::sync_loop`, which runs rounds on its schedule, and `SyncRound`,
//! how a tool reports each round.

use serde::Serialize;
use tsunagi_crypto::random_array;
use tsunagi_store::keys::Keystore;

use super::SyncReport;
use crate::api::ApiError;
use crate::{Device, DeviceError};

/// One round of [`Device::sync_loop`] as a tool reports it (`tsunagi-device sync --watch`
/// prints one per line): what the round did or why it failed, and the wait before the next.
#[derive(Debug, Clone, Serialize)]
pub struct SyncRound {
    /// The round succeeded.
    pub ok: bool,
    /// What it did, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<SyncReport>,
    /// Why it failed (the server unreachable: code `unreachable`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Seconds until the next round.
    pub next_in_s: f64,
}

impl SyncRound {
    /// The report of a round's outcome, with the wait before the next.
    pub fn new(result: &Result<SyncReport, DeviceError>, wait: std::time::Duration) -> SyncRound {
        let (report, error) = match result {
            Ok(r) => (Some(r.clone()), None),
            Err(e) => (None, Some(ApiError::from_ref(e))),
        };
        SyncRound {
            ok: report.is_some(),
            report,
            error,
            next_in_s: wait.as_secs_f64(),
        }
    }
}

/// When to try again: exponential backoff with jitter after failures, a steady interval after
/// success. Pure (the caller sleeps), so the app and the CLI share it and it is tested.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Wait after a success.
    pub interval: std::time::Duration,
    /// First wait after a failure.
    pub base: std::time::Duration,
    /// Longest wait.
    pub max: std::time::Duration,
    failures: u32,
}

impl Backoff {
    /// A schedule.
    pub fn new(
        interval: std::time::Duration,
        base: std::time::Duration,
        max: std::time::Duration,
    ) -> Backoff {
        Backoff {
            interval,
            base,
            max,
            failures: 0,
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The wait after a round: `interval` after a success; after the n-th failure in a row,
    /// `min(max, base · 2^(n-1))` scaled by a jitter factor in [0.5, 1.5) (from `jitter`, a
    /// uniform draw in [0, 1)), so devices that lost the network together do not return
    /// together.
    pub fn next(&mut self, success: bool, jitter: f64) -> std::time::Duration {
        if success {
            self.failures = 0;
            return self.interval;
        }
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(20);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.max);
        raw.mul_f64(0.5 + jitter.clamp(0.0, 1.0))
    }
}

impl Device {
    /// Background sync: a round now, then again after the backoff's wait, until `rounds`
    /// rounds ran (None: until `stop` says so). Each round's outcome is recorded for the
    /// status; `on_round` sees each result (the CLI prints it).
    pub async fn sync_loop<K: Keystore>(
        &mut self,
        keystore: &K,
        backoff: &mut Backoff,
        rounds: Option<u64>,
        stop: impl Fn() -> bool,
        mut on_round: impl FnMut(&Result<SyncReport, DeviceError>, std::time::Duration),
    ) {
        let mut n = 0u64;
        loop {
            let result = self.sync(keystore).await;
            let jitter = random_array::<8>()
                .map(|b| (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
                .unwrap_or(0.5);
            let wait = backoff.next(result.is_ok(), jitter);
            on_round(&result, wait);
            n += 1;
            if rounds.is_some_and(|r| n >= r) || stop() {
                return;
            }
            tokio::time::sleep(wait).await;
            if stop() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_resets_on_success() {
        let mut b = Backoff::new(
            Duration::from_secs(30),
            Duration::from_secs(2),
            Duration::from_secs(300),
        );
        assert_eq!(b.next(false, 0.5), Duration::from_secs(2));
        assert_eq!(b.next(false, 0.5), Duration::from_secs(4));
        assert_eq!(b.next(false, 0.5), Duration::from_secs(8));
        assert_eq!(b.failures(), 3);
        // Jitter spans half to one and a half times.
        let mut c = b.clone();
        assert_eq!(c.next(false, 0.0), Duration::from_secs(8));
        let mut d = b.clone();
        assert!(d.next(false, 0.999) > Duration::from_secs(23));
        for _ in 0..30 {
            b.next(false, 0.5);
        }
        assert_eq!(b.next(false, 0.5), Duration::from_secs(300));
        assert_eq!(b.next(true, 0.9), Duration::from_secs(30));
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next(false, 0.5), Duration::from_secs(2));
    }
}
