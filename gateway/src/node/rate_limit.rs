//! Per-identity rate limits on the signed endpoints: a token bucket per (request kind, signer).
//! A request is charged only after its signature verified and its signer is one the endpoint
//! accepts, so nobody can spend another identity's tokens, and the buckets are bounded by the
//! registry's size. Limits are per node (each node charges the requests it verifies).
//!
//! The rates are sized for the heaviest honest use measured here: the demo and `hdg bench
//! cluster` ingest a few hundred files in a burst and run tens of queries a second at small n.

use std::collections::HashMap;
use std::sync::Mutex;

use super::signed::Kind;

/// How many requests of one kind a signer may make at once, and how fast the allowance refills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Requests per second, sustained.
    pub per_second: u32,
}

/// The rate of each kind of request.
pub fn rate_of(kind: Kind) -> Rate {
    match kind {
        Kind::Ingest => Rate {
            burst: 600,
            per_second: 100,
        },
        Kind::Query => Rate {
            burst: 120,
            per_second: 20,
        },
        Kind::Consent
        | Kind::Audit
        | Kind::Access
        | Kind::Registry
        | Kind::Erase
        | Kind::Budget
        | Kind::Enrolment => Rate {
            burst: 60,
            per_second: 5,
        },
    }
}

/// One signer's allowance for one kind: tokens in thousandths, and when it was last topped up.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    milli_tokens: u64,
    at_ms: i64,
}

impl Bucket {
    fn full(rate: Rate, now_ms: i64) -> Bucket {
        Bucket {
            milli_tokens: u64::from(rate.burst) * 1000,
            at_ms: now_ms,
        }
    }

    /// Tops up for the time since the last call, then takes one token: `Err` with the
    /// milliseconds until one is there.
    fn take(&mut self, rate: Rate, now_ms: i64) -> Result<(), u64> {
        let elapsed = u64::try_from(now_ms.saturating_sub(self.at_ms)).unwrap_or(0);
        let cap = u64::from(rate.burst) * 1000;
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(u64::from(rate.per_second)))
            .min(cap);
        self.at_ms = self.at_ms.max(now_ms);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            return Ok(());
        }
        let missing = 1000 - self.milli_tokens;
        Err(missing.div_ceil(u64::from(rate.per_second.max(1))))
    }
}

/// The buckets of every signer this node charged.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(u8, [u8; 32]), Bucket>>,
}

impl RateLimiter {
    /// Charges one request of `kind` by `signer` at `now_ms`: `Err` with the milliseconds until
    /// the signer may make another.
    pub fn charge(&self, kind: Kind, signer: &[u8; 32], now_ms: i64) -> Result<(), u64> {
        let rate = rate_of(kind);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets
            .entry((kind as u8, *signer))
            .or_insert_with(|| Bucket::full(rate, now_ms))
            .take(rate, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate_and_each_signer_and_kind_has_its_own() {
        let limiter = RateLimiter::default();
        let rate = rate_of(Kind::Audit);
        for _ in 0..rate.burst {
            limiter.charge(Kind::Audit, &[1; 32], 0).unwrap();
        }
        let wait = limiter.charge(Kind::Audit, &[1; 32], 0).unwrap_err();
        assert_eq!(wait, 1000 / u64::from(rate.per_second));
        // Others are not affected.
        limiter.charge(Kind::Audit, &[2; 32], 0).unwrap();
        limiter.charge(Kind::Consent, &[1; 32], 0).unwrap();
        // After the wait there is one token again, and only one.
        limiter.charge(Kind::Audit, &[1; 32], wait as i64).unwrap();
        assert!(limiter.charge(Kind::Audit, &[1; 32], wait as i64).is_err());
    }

    #[test]
    fn the_allowance_never_exceeds_the_burst_and_time_going_back_is_harmless() {
        let rate = rate_of(Kind::Query);
        let mut b = Bucket::full(rate, 0);
        // A day idle tops up to the burst, no more.
        for _ in 0..rate.burst {
            b.take(rate, 86_400_000).unwrap();
        }
        assert!(b.take(rate, 86_400_000).is_err());
        // A clock that steps back neither refills nor panics.
        assert!(b.take(rate, 0).is_err());
        assert!(b.take(rate, i64::MIN).is_err());
        assert!(b.take(rate, i64::MAX).is_ok());
    }
}
