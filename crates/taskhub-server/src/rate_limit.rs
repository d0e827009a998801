//! Per-address rate limits: `--connect-rate` on stream connects and `--publish-rate` on
//! writes. A token bucket per client: it refills at the rate and holds up to one period's
//! worth, so a client may burst that much and then keeps to the rate.
//!
//! A client is an IPv4 address or an IPv6 /64 (one subscriber's allocation, so rotating
//! addresses inside it buys nothing). A bucket that has refilled to capacity is the same
//! as no bucket, so full ones are swept out; a sweep runs only when the table has doubled
//! since the last one, which keeps its cost per request constant however many clients are
//! refilling at once.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use tokio::time::Instant;

use crate::client_addr::{ClientAddr, TrustedProxies};
use crate::error::ApiError;

/// Buckets the table holds before its first sweep.
const FIRST_SWEEP_AT: usize = 10_000;

#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Tokens added per second; zero turns the limit off.
    per_second: f64,
    /// Most tokens a bucket holds.
    capacity: f64,
    /// A std mutex: held for one lookup and update (and, rarely, a sweep), never across
    /// an await.
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<ClientKey, Bucket>,
    /// The size at which the next new client triggers a sweep.
    sweep_at: usize,
}

/// Who a bucket belongs to: an IPv4 address, or the /64 network of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4([u8; 4]),
    V6Network([u8; 8]),
}

impl From<IpAddr> for ClientKey {
    fn from(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut network = [0; 8];
                network.copy_from_slice(&v6.octets()[..8]);
                Self::V6Network(network)
            }
        }
    }
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
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                sweep_at: FIRST_SWEEP_AT,
            }),
        }
    }

    /// Takes a token for `addr`, or says how long until one is available.
    pub(crate) fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        if self.per_second == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        // A panic while the lock was held (there is no code that can panic there) would
        // leave at worst one bucket's two numbers half-updated: keep limiting with them
        // rather than let every client through, or refuse every client.
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let key = ClientKey::from(addr);
        if !table.buckets.contains_key(&key) && table.buckets.len() >= table.sweep_at {
            self.sweep(&mut table, now);
        }
        let bucket = table.buckets.entry(key).or_insert(Bucket {
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

    /// Drops the buckets that have refilled, and puts the next sweep off until the table
    /// has doubled: sweeping a table of still-refilling clients on every new client would
    /// cost a full scan per request.
    fn sweep(&self, table: &mut Table, now: Instant) {
        let (per_second, capacity) = (self.per_second, self.capacity);
        table
            .buckets
            .retain(|_, bucket| bucket.refilled(now, per_second, capacity) < capacity);
        table.sweep_at = (table.buckets.len() * 2).max(FIRST_SWEEP_AT);
    }
}

impl Bucket {
    fn refilled(&self, now: Instant, per_second: f64, capacity: f64) -> f64 {
        let elapsed = now.duration_since(self.refreshed).as_secs_f64();
        (self.tokens + elapsed * per_second).min(capacity)
    }
}

/// The two limiters every request may meet.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) connects: RateLimiter,
    pub(crate) writes: RateLimiter,
}

impl Limits {
    /// `connects` per minute and `writes` per second, per client; 0 turns one off.
    pub(crate) fn new(connects: u32, writes: u32) -> Self {
        Self {
            connects: RateLimiter::new(connects, Duration::from_secs(60)),
            writes: RateLimiter::new(writes, Duration::from_secs(1)),
        }
    }
}

/// Proof that a request was within its limit; take it as the handler's first extractor.
#[derive(Debug)]
pub(crate) struct Allowed<Kind>(PhantomData<Kind>);

/// Proof that a stream connect was within `--connect-rate`.
pub(crate) type ConnectAllowed = Allowed<Connects>;

/// Proof that a write was within `--publish-rate`.
pub(crate) type WriteAllowed = Allowed<Writes>;

/// A kind of request with a limit of its own.
pub(crate) trait Limited {
    /// What a 429 says was limited.
    const WHAT: &'static str;
    fn limiter(limits: &Limits) -> &RateLimiter;
}

#[derive(Debug)]
pub(crate) struct Connects;

#[derive(Debug)]
pub(crate) struct Writes;

impl Limited for Connects {
    const WHAT: &'static str = "stream connects";
    fn limiter(limits: &Limits) -> &RateLimiter {
        &limits.connects
    }
}

impl Limited for Writes {
    const WHAT: &'static str = "writes";
    fn limiter(limits: &Limits) -> &RateLimiter {
        &limits.writes
    }
}

impl<S, Kind> FromRequestParts<S> for Allowed<Kind>
where
    Kind: Limited,
    Arc<Limits>: FromRef<S>,
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Ok(ClientAddr(addr)) = ClientAddr::from_request_parts(parts, state).await;
        let limits = Arc::<Limits>::from_ref(state);
        Kind::limiter(&limits)
            .check(addr)
            .map_err(|retry_after| ApiError::RateLimited {
                what: Kind::WHAT,
                retry_after,
            })?;
        Ok(Self(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

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

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_client_is_its_slash_64() {
        let limiter = RateLimiter::new(2, Duration::from_secs(1));
        let address = |text: &str| text.parse::<IpAddr>().expect("an address");
        assert!(limiter.check(address("2001:db8:1:2::1")).is_ok());
        assert!(limiter.check(address("2001:db8:1:2:ffff::9")).is_ok());
        assert!(
            limiter.check(address("2001:db8:1:2:abcd::7")).is_err(),
            "another address of the same /64 shares the bucket"
        );
        assert!(
            limiter.check(address("2001:db8:1:3::1")).is_ok(),
            "the next /64 is another client"
        );
        assert!(limiter.check(address("::ffff:192.0.2.1")).is_ok());
        assert!(limiter.check(address("192.0.2.1")).is_ok());
        assert!(
            limiter.check(address("192.0.2.1")).is_err(),
            "an IPv4-mapped address is its IPv4 address"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_only_when_the_table_has_doubled() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        let client = |n: u32| IpAddr::from(Ipv4Addr::from(0x0a00_0000 + n));
        // Every client has spent its token, so none refills for a minute.
        for n in 0..=FIRST_SWEEP_AT as u32 {
            assert!(limiter.check(client(n)).is_ok());
        }
        let sweep_at = |limiter: &RateLimiter| limiter.table.lock().expect("unpoisoned").sweep_at;
        assert_eq!(
            sweep_at(&limiter),
            2 * FIRST_SWEEP_AT,
            "one sweep found nothing to drop and put the next off"
        );
        assert!(limiter.check(client(0)).is_err(), "still limited");
        // A minute later every bucket is full again: the next sweep drops them all.
        tokio::time::advance(Duration::from_secs(61)).await;
        for n in 0..FIRST_SWEEP_AT as u32 {
            assert!(limiter.check(client(100_000 + n)).is_ok());
        }
        assert_eq!(
            limiter.table.lock().expect("unpoisoned").buckets.len(),
            FIRST_SWEEP_AT,
            "the first 10,001 clients' buckets were dropped, the new ones kept"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_poisoned_table_still_limits() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        let client: IpAddr = [192, 0, 2, 1].into();
        assert!(limiter.check(client).is_ok());
        let poisoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _held = limiter.table.lock();
            panic!("a panic while the table is locked");
        }));
        assert!(poisoned.is_err() && limiter.table.is_poisoned());
        assert!(limiter.check(client).is_err(), "not let through");
        assert!(
            limiter.check([192, 0, 2, 2].into()).is_ok(),
            "not refused either"
        );
    }
}
