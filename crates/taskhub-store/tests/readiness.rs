//! The readiness probe (`ping`) commits a write: it fails while a write cannot commit,
//! recovers by itself when one can, and never refuses a publish itself.

use serde_json::value::to_raw_value;
use taskhub_core::{EventId, EventType};
use taskhub_engine::{EngineError, EventLog, NewEvent, Replay, Retention, TaskStore};
use taskhub_store::{DatabaseUrl, Store, StoreOptions};

fn note() -> NewEvent {
    NewEvent {
        event_type: EventType::parse("note").expect("valid"),
        topic: None,
        private: false,
        data: to_raw_value(&1).expect("serialisable"),
        mercure: None,
    }
}

fn open(path: &std::path::Path) -> Store {
    let url: DatabaseUrl = format!("sqlite://{}", path.display()).parse().expect("url");
    let options = StoreOptions {
        retention: Retention {
            max_events: 100,
            max_age: None,
        },
        readers: 1,
    };
    Store::open(&url, options, Box::new(|_frames| {})).expect("opens")
}

/// Runs SQL on the file from a connection of its own, as another process would.
fn meddle(path: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(sql).expect("meddled");
}

#[tokio::test]
async fn the_ping_fails_while_its_write_fails_and_recovers_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open(&path);
    EventLog::ping(&store).await.expect("ready");

    // The write the probe commits fails, as a full or read-only disk would make it.
    meddle(
        &path,
        "CREATE TRIGGER refuse BEFORE UPDATE ON heartbeat \
         BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END",
    );
    for ping in [EventLog::ping(&store).await, TaskStore::ping(&store).await] {
        match ping {
            Err(EngineError::Unavailable(why)) => {
                assert!(why.contains("simulated write failure"), "{why}");
            }
            other => panic!("a failed write must fail the ping: {other:?}"),
        }
    }
    // The probe only reports: a publish queued with it still commits.
    let (published, _) = tokio::join!(store.publish(vec![note()], None), EventLog::ping(&store));
    assert_eq!(published.expect("stored").value, [EventId::new(1)]);

    meddle(&path, "DROP TRIGGER refuse");
    EventLog::ping(&store)
        .await
        .expect("ready again, untouched");
    EventLog::close(&store).await;
}

#[tokio::test]
async fn a_database_from_before_the_heartbeat_is_migrated_and_keeps_its_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open(&path);
    store
        .publish(vec![note(), note()], None)
        .await
        .expect("stored");
    EventLog::close(&store).await;
    drop(store);
    // As the schema before the heartbeat left it (so before the stamps of migration 5 and
    // the webhook tables of migration 6).
    meddle(
        &path,
        "DROP TABLE heartbeat; DROP INDEX events_by_topic; ALTER TABLE events DROP COLUMN at; \
         DROP TABLE webhook_cursors; DROP TABLE webhook_parked; PRAGMA user_version = 3",
    );

    let store = open(&path);
    EventLog::ping(&store).await.expect("migrated and ready");
    assert_eq!(
        store
            .publish(vec![note()], None)
            .await
            .expect("stored")
            .value,
        [EventId::new(3)]
    );
    let Replay::Events(kept) = store.replay(EventId::ZERO, 10).await.expect("read") else {
        panic!("the history is there");
    };
    let ids: Vec<u64> = kept.iter().map(|frame| frame.id().get()).collect();
    assert_eq!(ids, [1, 2, 3]);
    EventLog::close(&store).await;
}
