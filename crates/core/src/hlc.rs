//! Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): timestamps that
//! follow wall time but never go backwards and always order a change after every change its
//! author had seen.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

/// One HLC timestamp: milliseconds since the Unix epoch and a counter for events within the
/// same millisecond. Ordered by `(wall_ms, counter)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc {
    /// Physical part: the largest wall clock reading (ms since epoch) seen so far.
    pub wall_ms: u64,
    /// Logical part: events within the same `wall_ms`.
    pub counter: u32,
}

impl Hlc {
    /// The zero timestamp, before every real event.
    pub const ZERO: Hlc = Hlc {
        wall_ms: 0,
        counter: 0,
    };

    /// The timestamp for a new local event, given the current wall clock reading.
    /// Strictly greater than `self`, whatever the wall clock says (a clock set back does not
    /// reorder history).
    #[must_use]
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            self.bump()
        }
    }

    /// The clock after receiving `remote` (a change from another device): greater than both
    /// `self` and `remote`, so local changes made afterwards order after what was received.
    #[must_use]
    pub fn observe(self, remote: Hlc, now_ms: u64) -> Hlc {
        let wall = self.wall_ms.max(remote.wall_ms).max(now_ms);
        let counter = match (wall == self.wall_ms, wall == remote.wall_ms) {
            (true, true) => self.counter.max(remote.counter).saturating_add(1),
            (true, false) => self.counter.saturating_add(1),
            (false, true) => remote.counter.saturating_add(1),
            (false, false) => 0,
        };
        Hlc {
            wall_ms: wall,
            counter,
        }
    }

    fn bump(self) -> Hlc {
        match self.counter.checked_add(1) {
            Some(counter) => Hlc {
                wall_ms: self.wall_ms,
                counter,
            },
            // Four billion events in one millisecond cannot happen; moving the physical part
            // forward keeps the clock strictly monotonic even so.
            None => Hlc {
                wall_ms: self.wall_ms + 1,
                counter: 0,
            },
        }
    }

    /// Fixed-width text form `WWWWWWWWWWWW-CCCCCCCC` (hex) whose byte order is the time order:
    /// usable as a sortable SQL column.
    pub fn to_sortable(self) -> String {
        format!("{:012x}-{:08x}", self.wall_ms, self.counter)
    }

    /// Parses [`Hlc::to_sortable`]'s form.
    pub fn parse_sortable(s: &str) -> Result<Hlc, DomainError> {
        let bad = || DomainError::HlcMalformed {
            value: s.to_owned(),
        };
        let (w, c) = s.split_once('-').ok_or_else(bad)?;
        if w.len() != 12 || c.len() != 8 {
            return Err(bad());
        }
        Ok(Hlc {
            wall_ms: u64::from_str_radix(w, 16).map_err(|_| bad())?,
            counter: u32::from_str_radix(c, 16).map_err(|_| bad())?,
        })
    }
}

/// Serialized as its sortable text form ([`Hlc::to_sortable`]).
impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_sortable())
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hlc, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hlc::parse_sortable(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}.{})", self.wall_ms, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_follows_wall_clock_and_never_goes_back() {
        let a = Hlc::ZERO.tick(1_000);
        assert_eq!(
            a,
            Hlc {
                wall_ms: 1_000,
                counter: 0
            }
        );
        let b = a.tick(1_000);
        assert_eq!(
            b,
            Hlc {
                wall_ms: 1_000,
                counter: 1
            }
        );
        // The wall clock was set back: the HLC still moves forward.
        let c = b.tick(10);
        assert!(c > b);
        assert_eq!(c.wall_ms, 1_000);
    }

    #[test]
    fn observe_orders_after_both() {
        let local = Hlc {
            wall_ms: 500,
            counter: 3,
        };
        let remote = Hlc {
            wall_ms: 900,
            counter: 7,
        };
        let after = local.observe(remote, 100);
        assert!(after > local && after > remote);
        assert_eq!(
            after,
            Hlc {
                wall_ms: 900,
                counter: 8
            }
        );
        let same = Hlc {
            wall_ms: 900,
            counter: 2,
        }
        .observe(remote, 900);
        assert_eq!(
            same,
            Hlc {
                wall_ms: 900,
                counter: 8
            }
        );
        assert_eq!(
            local.observe(remote, 2_000),
            Hlc {
                wall_ms: 2_000,
                counter: 0
            }
        );
    }

    #[test]
    fn sortable_text_round_trips_and_sorts() {
        let a = Hlc {
            wall_ms: 0x18f_0000_0000,
            counter: 2,
        };
        let b = Hlc {
            wall_ms: 0x18f_0000_0001,
            counter: 0,
        };
        assert!(a.to_sortable() < b.to_sortable());
        assert_eq!(Hlc::parse_sortable(&a.to_sortable()), Ok(a));
        assert!(Hlc::parse_sortable("zz-1").is_err());
        assert!(Hlc::parse_sortable("").is_err());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"18f00000000-00000002\"".replace("18f", "018f"));
        assert_eq!(serde_json::from_str::<Hlc>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Hlc>("\"nope\"").is_err());
    }
}
