//! Write-lock holds by kind: how often each kind of write transaction (a sync slice, an index
//! batch, a checkpoint, a save…) held the store's write lock, the longest hold, and how many
//! held it past 100 ms — what a save waits for. Process-wide counters a benchmark prints
//! (`tsunagi-appbench`) to name the transaction that stalls the app; they cost one uncontended
//! mutex per write transaction.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One kind's figures.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct HoldStat {
    /// Transactions recorded.
    pub count: u64,
    /// Their total time, in ms.
    pub total_ms: f64,
    /// The longest, in ms.
    pub max_ms: f64,
    /// How many held the lock 100 ms or more.
    pub over_100ms: u64,
}

static HOLDS: Mutex<BTreeMap<&'static str, HoldStat>> = Mutex::new(BTreeMap::new());

/// Records one hold of kind `what` that started at `since`.
pub(crate) fn record(what: &'static str, since: Instant) {
    record_for(what, since.elapsed());
}

fn record_for(what: &'static str, took: Duration) {
    let ms = took.as_secs_f64() * 1e3;
    let mut holds = HOLDS.lock().unwrap_or_else(PoisonError::into_inner);
    let s = holds.entry(what).or_default();
    s.count += 1;
    s.total_ms += ms;
    s.max_ms = s.max_ms.max(ms);
    s.over_100ms += u64::from(ms >= 100.0);
}

/// The figures so far, by kind (of every store in this process).
pub fn write_holds() -> Vec<(&'static str, HoldStat)> {
    let holds = HOLDS.lock().unwrap_or_else(PoisonError::into_inner);
    holds.iter().map(|(k, v)| (*k, *v)).collect()
}

/// Starts the figures over (a benchmark, before the part it measures).
pub fn reset_write_holds() {
    HOLDS.lock().unwrap_or_else(PoisonError::into_inner).clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_counted_by_kind_with_their_longest() {
        record_for("test: a", Duration::from_millis(5));
        record_for("test: a", Duration::from_millis(150));
        record_for("test: b", Duration::from_millis(1));
        let all = write_holds();
        let a = all.iter().find(|(k, _)| *k == "test: a").unwrap().1;
        assert_eq!(a.count, 2);
        assert_eq!(a.over_100ms, 1);
        assert!((a.max_ms - 150.0).abs() < 1e-6);
        assert!((a.total_ms - 155.0).abs() < 1e-6);
        let b = all.iter().find(|(k, _)| *k == "test: b").unwrap().1;
        assert_eq!((b.count, b.over_100ms), (1, 0));
    }
}
