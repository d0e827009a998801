//! Single-flight calls: concurrent requests for one key share one call's outcome instead
//! of each making their own. The auth hook uses it so that a page opening its stream and
//! its first fetches at once, with a session cookie not yet cached, costs the
//! application one question, not one per request.
//!
//! - The first asker of a key (the leader) makes the call; the others wait for its
//!   outcome, success or failure alike: what one flight learned, all its waiters learn.
//!   Nothing is kept once the flight ends; caching is the caller's business.
//! - A leader that is cancelled (its client went away) ends its flight without an
//!   outcome: its waiters wake up and one of them makes the call anew, so none waits
//!   for an answer that will never come.
//! - Bounded: at most `max` keys in flight at once. An entry lives exactly as long as
//!   its leader's call, and is removed when it ends however it ends (a drop guard).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use tokio::sync::watch;

/// The calls in flight, by key.
#[derive(Debug)]
pub(crate) struct Flights<K, V> {
    /// Each flight's outcome, `None` until it lands. A std mutex: held to look up,
    /// insert or remove an entry, never across the call.
    in_flight: Mutex<HashMap<K, watch::Receiver<Option<V>>>>,
    max: usize,
}

/// The flight could not start: `max` keys are in flight already.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// What an asker of a key does.
enum Turn<'a, K: Eq + Hash, V> {
    /// Makes the call and lands the flight.
    Lead(Leader<'a, K, V>),
    /// Waits for another asker's call.
    Wait(watch::Receiver<Option<V>>),
}

/// The leader's hold on its flight: dropping it (the call done, or cancelled) removes
/// the flight before its waiters are woken.
struct Leader<'a, K: Eq + Hash, V> {
    flights: &'a Flights<K, V>,
    key: K,
    outcome: watch::Sender<Option<V>>,
}

impl<K: Eq + Hash, V> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        self.flights.lock().remove(&self.key);
        // The sender drops after this: waiters of a flight that never landed see it
        // closed, and find it gone from the map when they look again.
    }
}

impl<K: Eq + Hash, V> Flights<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, watch::Receiver<Option<V>>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many keys are in flight.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    /// No flight yet; at most `max` at once.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn turn(&self, key: &K) -> Result<Turn<'_, K, V>, Full> {
        let mut in_flight = self.lock();
        if let Some(outcome) = in_flight.get(key) {
            return Ok(Turn::Wait(outcome.clone()));
        }
        if in_flight.len() >= self.max {
            return Err(Full);
        }
        let (outcome, receiver) = watch::channel(None);
        in_flight.insert(key.clone(), receiver);
        Ok(Turn::Lead(Leader {
            flights: self,
            key: key.clone(),
            outcome,
        }))
    }

    /// The outcome of `call` for `key`: made here, or shared with the asker already
    /// making it. `joined` runs each time this asker waits for another's call instead.
    pub(crate) async fn run<F, Fut>(
        &self,
        key: K,
        call: F,
        mut joined: impl FnMut(),
    ) -> Result<V, Full>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        loop {
            match self.turn(&key)? {
                Turn::Lead(leader) => {
                    let outcome = call().await;
                    // Sent before the guard removes the flight: a waiter always finds
                    // either the outcome or no flight.
                    leader.outcome.send_replace(Some(outcome.clone()));
                    drop(leader);
                    return Ok(outcome);
                }
                Turn::Wait(mut receiver) => {
                    joined();
                    if let Ok(landed) = receiver.wait_for(Option::is_some).await
                        && let Some(outcome) = landed.clone()
                    {
                        return Ok(outcome);
                    }
                    // The leader was cancelled: ask again, maybe as the leader now.
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn concurrent_askers_share_one_call_and_its_failure() {
        let flights = Arc::new(Flights::<u8, Result<u32, String>>::new(16));
        let calls = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Notify::new());
        let waiting = Arc::new(AtomicUsize::new(0));
        let mut askers = Vec::new();
        for _ in 0..10 {
            let (flights, calls, release, waiting) = (
                Arc::clone(&flights),
                Arc::clone(&calls),
                Arc::clone(&release),
                Arc::clone(&waiting),
            );
            askers.push(tokio::spawn(async move {
                flights
                    .run(
                        1,
                        || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            release.notified().await;
                            Err::<u32, _>("down".to_owned())
                        },
                        || {
                            waiting.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                    .await
            }));
        }
        while waiting.load(Ordering::SeqCst) < 9 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        for asker in askers {
            assert_eq!(asker.await.expect("ran"), Ok(Err("down".to_owned())));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(flights.len(), 0, "nothing kept once the flight ends");
        // The failure was that flight's only: the next asker calls again.
        let again = flights.run(1, || async { Ok(7) }, || {}).await;
        assert_eq!(again, Ok(Ok(7)));
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_the_call_to_a_waiter() {
        let flights = Arc::new(Flights::<u8, u32>::new(16));
        let leader = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move { flights.run(1, std::future::pending::<u32>, || {}).await })
        };
        while flights.len() == 0 {
            tokio::task::yield_now().await;
        }
        let joined = Arc::new(Notify::new());
        let waiter = {
            let (flights, joined) = (Arc::clone(&flights), Arc::clone(&joined));
            tokio::spawn(async move {
                flights
                    .run(1, || async { 42 }, move || joined.notify_one())
                    .await
            })
        };
        joined.notified().await;
        leader.abort();
        let outcome = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter is not left hanging")
            .expect("ran");
        assert_eq!(outcome, Ok(42));
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn at_most_max_keys_are_in_flight() {
        let flights = Arc::new(Flights::<u8, u32>::new(2));
        let mut leaders = Vec::new();
        for key in 0..2 {
            let flights = Arc::clone(&flights);
            leaders.push(tokio::spawn(async move {
                flights.run(key, std::future::pending::<u32>, || {}).await
            }));
        }
        while flights.len() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(flights.run(9, || async { 1 }, || {}).await, Err(Full));
        for leader in leaders {
            leader.abort();
            let _ = leader.await;
        }
        assert_eq!(flights.len(), 0, "cancelled leaders leave nothing behind");
        assert_eq!(flights.run(9, || async { 1 }, || {}).await, Ok(1));
    }
}
