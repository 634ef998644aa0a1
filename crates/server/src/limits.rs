//! Token buckets in memory by key: the per-key rate limit of authenticated requests (device id
//! or `admin`, checked after the signature so nobody can drain another key's bucket), and the
//! limits on attempts at the server's secrets by client address and in all (`crate::guard`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets are pruned when this many keys are tracked.
const PRUNE_AT: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` tokens per second, at most `burst` saved up.
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate: rate.max(0.0),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; false when none is left.
    pub fn allow(&self, key: &str) -> bool {
        self.allow_at(key, Instant::now())
    }

    /// Takes one token for `key`, or says how long until one is there.
    pub fn take(&self, key: &str) -> Result<(), std::time::Duration> {
        self.take_at(key, Instant::now())
    }

    /// Gives back a token taken by [`RateLimiter::take`] (an attempt that succeeded).
    pub fn refund(&self, key: &str) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = buckets.get_mut(key) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), std::time::Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let b = self.refill(&mut buckets, key, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.rate;
            Err(std::time::Duration::try_from_secs_f64(wait).unwrap_or(std::time::Duration::MAX))
        }
    }

    fn refill<'a>(
        &self,
        buckets: &'a mut HashMap<String, Bucket>,
        key: &str,
        now: Instant,
    ) -> &'a mut Bucket {
        if buckets.len() >= PRUNE_AT {
            let (rate, burst) = (self.rate, self.burst);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        b
    }

    fn allow_at(&self, key: &str, now: Instant) -> bool {
        self.take_at(key, now).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let l = RateLimiter::new(10.0, 3.0);
        let t0 = Instant::now();
        assert!((0..3).all(|_| l.allow_at("a", t0)));
        assert!(!l.allow_at("a", t0));
        assert!(l.allow_at("b", t0), "keys are independent");
        assert!(l.allow_at("a", t0 + Duration::from_millis(110)));
        assert!(!l.allow_at("a", t0 + Duration::from_millis(120)));
    }

    #[test]
    fn take_says_how_long_and_refund_gives_back() {
        let l = RateLimiter::new(0.5, 2.0);
        let t0 = Instant::now();
        assert!(l.take_at("a", t0).is_ok());
        assert!(l.take_at("a", t0).is_ok());
        let wait = l.take_at("a", t0).unwrap_err();
        assert_eq!(wait.as_secs(), 2, "one token at 0.5/s: {wait:?}");
        l.refund("a");
        assert!(l.take_at("a", t0).is_ok(), "a refunded token is usable");
        l.refund("a");
        l.refund("a");
        l.refund("a");
        assert!(l.take_at("a", t0).is_ok());
        assert!(l.take_at("a", t0).is_ok());
        assert!(
            l.take_at("a", t0).is_err(),
            "refunds never exceed the burst"
        );
    }
}
