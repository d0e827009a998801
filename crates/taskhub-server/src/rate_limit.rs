//! Per-address rate limits: `--connect-rate` on `/events/stream` and `--publish-rate` on
//! writes. A token bucket per client address: it refills at the rate and holds up to one
//! period's worth, so a client may burst that much and then keeps to the rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tokio::time::Instant;

use crate::client_addr::ClientAddr;
use crate::http::{ApiError, AppState};

/// Buckets kept before full ones (which equal no bucket) are swept out.
const SWEEP_AT: usize = 10_000;

#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Tokens added per second; zero turns the limit off.
    per_second: f64,
    /// Most tokens a bucket holds.
    capacity: f64,
    /// Buckets by address. A std mutex: held for one lookup and update, never across an
    /// await, so contention is a few nanoseconds per request.
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

impl RateLimiter {
    /// `amount` per `period`, with a burst of `amount`.
    pub(crate) fn new(amount: u32, period: Duration) -> Self {
        Self {
            per_second: f64::from(amount) / period.as_secs_f64(),
            capacity: f64::from(amount),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `addr`, or says how long until one is available.
    pub(crate) fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        if self.per_second == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= SWEEP_AT {
            let (per_second, capacity) = (self.per_second, self.capacity);
            buckets.retain(|_, b| b.refilled(now, per_second, capacity) < capacity);
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            tokens: self.capacity,
            refreshed: now,
        });
        bucket.tokens = bucket.refilled(now, self.per_second, self.capacity);
        bucket.refreshed = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

impl Bucket {
    fn refilled(&self, now: Instant, per_second: f64, capacity: f64) -> f64 {
        let elapsed = now.duration_since(self.refreshed).as_secs_f64();
        (self.tokens + elapsed * per_second).min(capacity)
    }
}

/// Proof that a stream connect was within `--connect-rate`; take it as the first
/// extractor of the handler.
#[derive(Debug)]
pub(crate) struct ConnectAllowed;

/// Proof that a write was within `--publish-rate`.
#[derive(Debug)]
pub(crate) struct WriteAllowed;

impl FromRequestParts<AppState> for ConnectAllowed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        state
            .limits
            .connects
            .check(addr)
            .map_err(|wait| ApiError::RateLimited {
                what: "stream connects",
                retry_after: wait,
            })?;
        Ok(Self)
    }
}

impl FromRequestParts<AppState> for WriteAllowed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        state
            .limits
            .writes
            .check(addr)
            .map_err(|wait| ApiError::RateLimited {
                what: "writes",
                retry_after: wait,
            })?;
        Ok(Self)
    }
}

/// The two limiters every request may meet.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) connects: RateLimiter,
    pub(crate) writes: RateLimiter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_to_capacity_then_keeps_to_the_rate() {
        let limiter = RateLimiter::new(3, Duration::from_secs(1));
        let client: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        for _ in 0..3 {
            assert!(limiter.check(client).is_ok());
        }
        let wait = limiter.check(client).expect_err("over the limit");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
        assert!(limiter.check(other).is_ok(), "addresses are independent");
        tokio::time::advance(Duration::from_millis(340)).await;
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_err());
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..3 {
            assert!(
                limiter.check(client).is_ok(),
                "refilled to capacity, not beyond"
            );
        }
        assert!(limiter.check(client).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(0, Duration::from_secs(1));
        for _ in 0..1000 {
            assert!(limiter.check([192, 0, 2, 1].into()).is_ok());
        }
    }
}
