//! The log read as history: stamps (and the migration that stamps older events), finding
//! a time, a topic's newest event, and trimming by count and by age in bounded steps.

use std::time::Duration;

use serde_json::value::to_raw_value;
use taskhub_core::{EventId, EventType, Timestamp, Topic};
use taskhub_engine::{EventLog, IdRange, NewEvent, Order, Retention};
use taskhub_store::{DatabaseUrl, Store, StoreOptions};

fn event(topic: &str, private: bool) -> NewEvent {
    NewEvent {
        event_type: EventType::parse("note").expect("valid"),
        topic: Some(Topic::parse(topic).expect("valid")),
        private,
        data: to_raw_value(&1).expect("serialisable"),
        mercure: None,
    }
}

fn open(path: &std::path::Path, max_age: Option<Duration>) -> Store {
    open_keeping(path, 1_000_000, max_age)
}

fn open_keeping(path: &std::path::Path, max_events: u64, max_age: Option<Duration>) -> Store {
    let url: DatabaseUrl = format!("sqlite://{}", path.display()).parse().expect("url");
    let options = StoreOptions {
        retention: Retention {
            max_events,
            max_age,
        },
        readers: 2,
    };
    Store::open(&url, options, Box::new(|_frames| {})).expect("opens")
}

/// The ids the log holds, oldest first.
async fn kept(store: &Store) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut after = EventId::ZERO;
    loop {
        let page = store
            .read(
                IdRange {
                    after,
                    before: None,
                },
                Order::Ascending,
                1000,
            )
            .await
            .expect("read");
        let Some(last) = page.last() else {
            return ids;
        };
        after = last.id();
        ids.extend(page.iter().map(|frame| frame.id().get()));
    }
}

#[tokio::test]
async fn the_count_trim_keeps_the_newest_and_a_smaller_size_is_reached_in_bounded_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open_keeping(&path, 2_000, None);
    for _ in 0..25 {
        let batch = (0..100).map(|_| event("a/1", false)).collect();
        store.publish(batch, None).await.expect("stored");
    }
    assert_eq!(kept(&store).await, (501..=2_500).collect::<Vec<_>>());
    EventLog::close(&store).await;

    // Restarted keeping 100: each group deletes at most `TRIM_STEP` more than it adds.
    let store = open_keeping(&path, 100, None);
    store
        .publish(vec![event("a/1", false)], None)
        .await
        .expect("stored");
    let step = Retention::TRIM_STEP as u64 + 1;
    assert_eq!(kept(&store).await, (501 + step..=2_501).collect::<Vec<_>>());
    for _ in 0..4 {
        store
            .publish(vec![event("a/1", false)], None)
            .await
            .expect("stored");
    }
    assert_eq!(kept(&store).await, (2_406..=2_505).collect::<Vec<_>>());
}

fn stamps(path: &std::path::Path) -> Vec<(Option<i64>, String)> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut statement = conn
        .prepare("SELECT at, json_extract(envelope, '$.timestamp') FROM events ORDER BY id")
        .expect("query");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("rows")
        .map(|row| row.expect("row"))
        .collect()
}

#[tokio::test]
async fn events_from_before_stamps_are_stamped_from_their_envelopes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open(&path, None);
    for topic in ["a/1", "a/2", "a/1"] {
        store
            .publish(vec![event(topic, false)], None)
            .await
            .expect("stored");
    }
    EventLog::close(&store).await;
    // Back to the schema before stamps: no `at` column, no topic index (and none of the
    // later migrations' tables).
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(
        "DROP INDEX events_by_topic; ALTER TABLE events DROP COLUMN at; \
         DROP TABLE webhook_cursors; DROP TABLE webhook_parked; PRAGMA user_version = 4;",
    )
    .expect("downgraded");
    drop(conn);

    let store = open(&path, None);
    for (at, envelope_time) in stamps(&path) {
        let at = Timestamp::from_unix_millis(at.expect("stamped by the migration"));
        assert_eq!(at.to_string(), envelope_time);
    }
    let latest = store
        .latest(&Topic::parse("a/1").expect("valid"), false)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(latest.id(), EventId::new(3));
    let from_the_start = store
        .position_at(Timestamp::from_unix_millis(0))
        .await
        .expect("read");
    assert_eq!(from_the_start, EventId::ZERO);
    EventLog::close(&store).await;
}

#[tokio::test]
async fn a_time_is_found_by_binary_search_and_private_events_stay_out_of_public_latest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open(&path, None);
    let mut times = Vec::new();
    for round in 0..20 {
        let events = (0..50)
            .map(|i| event(&format!("t/{i}"), round % 2 == 1))
            .collect();
        store.publish(events, None).await.expect("stored");
        times.push(Timestamp::now());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let all = store
        .read(IdRange::ALL, Order::Ascending, 2_000)
        .await
        .expect("read");
    assert_eq!(all.len(), 1_000);
    let stamps = stamps(&path);
    for at in times {
        let position = store.position_at(at).await.expect("found");
        let expected = stamps
            .iter()
            .take_while(|(stamp, _)| stamp.expect("stamped") < at.unix_millis())
            .count();
        assert_eq!(position, EventId::new(expected as u64), "at {at}");
    }
    let future = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 60_000);
    assert_eq!(
        store.position_at(future).await.expect("found"),
        EventId::new(1_000)
    );

    let topic = Topic::parse("t/7").expect("valid");
    let newest = store
        .latest(&topic, true)
        .await
        .expect("read")
        .expect("found");
    let public = store
        .latest(&topic, false)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (newest.id(), newest.is_private()),
        (EventId::new(958), true)
    );
    assert_eq!(
        (public.id(), public.is_private()),
        (EventId::new(908), false)
    );
    let descending = store
        .read(
            IdRange {
                after: EventId::new(10),
                before: Some(EventId::new(14)),
            },
            Order::Descending,
            10,
        )
        .await
        .expect("read");
    let ids: Vec<u64> = descending.iter().map(|f| f.id().get()).collect();
    assert_eq!(ids, [13, 12, 11]);
    EventLog::close(&store).await;
}

#[tokio::test]
async fn expired_events_are_trimmed_in_steps_while_publishes_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open(&path, Some(Duration::from_secs(1)));
    // Many trimming steps' worth.
    const { assert!(6_000 > Retention::TRIM_STEP * 3) };
    for _ in 0..6 {
        let events = (0..1_000)
            .map(|i| event(&format!("t/{i}"), false))
            .collect();
        store.publish(events, None).await.expect("stored");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let published = store
            .publish(vec![event("live", false)], None)
            .await
            .expect("stored");
        let oldest = store
            .read(IdRange::ALL, Order::Ascending, 1)
            .await
            .expect("read");
        if oldest[0].id() > EventId::new(6_000) {
            assert!(published.value[0] > EventId::new(6_000));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never trimmed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    EventLog::close(&store).await;
}
