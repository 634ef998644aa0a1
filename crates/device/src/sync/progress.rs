//! How far a running sync is: the step, records done of records expected, and an estimate of
//! the time left from the pace so far. The sync writes it as it goes; the app reads it for the
//! progress bar while the sync runs on its own thread.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::api::{SyncPhase, SyncProgress};

/// The board a sync writes its progress on (shared with whoever shows it).
#[derive(Debug, Default)]
pub struct ProgressBoard {
    state: Mutex<Option<Track>>,
}

#[derive(Debug, Clone)]
struct Track {
    phase: SyncPhase,
    done: u64,
    total: u64,
    started: Instant,
    first_sync: bool,
    own_cases_ready: bool,
}

/// Below this much time in a step, there is no pace to speak of yet.
const MIN_PACE_SECONDS: f64 = 0.5;

impl ProgressBoard {
    fn with(&self, f: impl FnOnce(&mut Option<Track>)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A step begins, expecting `total` records (0: unknown).
    pub(crate) fn begin(&self, phase: SyncPhase, total: u64) {
        self.with(|t| {
            let (first_sync, own_cases_ready) = t
                .as_ref()
                .map_or((false, true), |t| (t.first_sync, t.own_cases_ready));
            *t = Some(Track {
                phase,
                done: 0,
                total,
                started: Instant::now(),
                first_sync,
                own_cases_ready,
            });
        });
    }

    /// Records done in the current step.
    pub(crate) fn advance(&self, done: u64) {
        self.with(|t| {
            if let Some(t) = t {
                t.done = done.min(t.total.max(done));
            }
        });
    }

    /// This round is the device's first: the worker's own cases come first, and the screen
    /// says when they are usable.
    pub(crate) fn first_sync(&self, own_cases_ready: bool) {
        self.with(|t| {
            if let Some(t) = t {
                t.first_sync = true;
                t.own_cases_ready = own_cases_ready;
            }
        });
    }

    /// The round ended.
    pub(crate) fn clear(&self) {
        self.with(|t| *t = None);
    }

    /// What the progress bar shows.
    pub fn view(&self) -> Option<SyncProgress> {
        let t = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let elapsed = t.started.elapsed().as_secs_f64();
        let eta_seconds =
            (t.done > 0 && t.total > t.done && elapsed >= MIN_PACE_SECONDS).then(|| {
                let left = (t.total - t.done) as f64 * elapsed / t.done as f64;
                left.ceil().min(f64::from(u32::MAX)) as u32
            });
        Some(SyncProgress {
            phase: t.phase,
            done: u32::try_from(t.done).unwrap_or(u32::MAX),
            total: u32::try_from(t.total).unwrap_or(u32::MAX),
            eta_seconds,
            first_sync: t.first_sync,
            own_cases_ready: t.own_cases_ready,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_comes_from_the_pace_and_only_once_there_is_one() {
        let b = ProgressBoard::default();
        assert!(b.view().is_none());
        b.begin(SyncPhase::Pull, 1000);
        let v = b.view().unwrap();
        assert_eq!((v.done, v.total, v.eta_seconds), (0, 1000, None));
        b.advance(250);
        // Too early for a pace.
        assert_eq!(b.view().unwrap().eta_seconds, None);
        // Half a second for 250 of 1000: about 1.5 s left.
        if let Some(t) = b.state.lock().unwrap().as_mut() {
            t.started -= std::time::Duration::from_millis(500);
        }
        let v = b.view().unwrap();
        assert_eq!(v.done, 250);
        assert!(matches!(v.eta_seconds, Some(2)), "{:?}", v.eta_seconds);
        b.first_sync(false);
        b.begin(SyncPhase::Snapshots, 10);
        let v = b.view().unwrap();
        assert!(
            v.first_sync && !v.own_cases_ready,
            "a new step keeps the round's flags"
        );
        b.advance(10);
        assert_eq!(b.view().unwrap().eta_seconds, None, "nothing left");
        b.clear();
        assert!(b.view().is_none());
    }
}
