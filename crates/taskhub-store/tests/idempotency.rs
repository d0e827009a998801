//! Retry-safe writes in the SQLite engine: a key is recorded in the transaction of the
//! write it names, so a retry is answered and never applied twice, concurrent attempts
//! included, across a restart, and until the key expires.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::to_raw_value;
use taskhub_core::{EventFrame, EventId, EventType, IdempotencyKey, TaskStatus};
use taskhub_engine::{
    EngineError, EventLog, Fingerprint, Idempotency, NewEvent, NewTask, Retention, TaskPatch,
    TaskStore,
};
use taskhub_store::{DatabaseUrl, Store, StoreOptions};

fn event(n: u32) -> NewEvent {
    NewEvent {
        event_type: EventType::parse("note").expect("valid"),
        topic: None,
        private: false,
        data: to_raw_value(&n).expect("serialisable"),
        mercure: None,
    }
}

fn keyed(key: &str, request: u8, ttl: Duration) -> Option<Idempotency> {
    Some(Idempotency {
        key: IdempotencyKey::parse(key).expect("valid"),
        fingerprint: Fingerprint::from_digest(&[request; 32]),
        ttl,
    })
}

const DAY: Duration = Duration::from_secs(24 * 3600);

type Seen = Arc<Mutex<Vec<Arc<EventFrame>>>>;

fn open(dir: &tempfile::TempDir) -> (Store, Seen) {
    let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("t.db").display())
        .parse()
        .expect("url");
    let seen: Seen = Arc::default();
    let sink = {
        let seen = Arc::clone(&seen);
        Box::new(move |frames| seen.lock().expect("lock").extend(frames))
    };
    let options = StoreOptions {
        retention: Retention {
            max_events: 1000,
            max_age: None,
        },
        readers: 2,
    };
    (Store::open(&url, options, sink).expect("opens"), seen)
}

async fn frames(store: &Store, seen: &Seen) -> usize {
    store.settle().await;
    seen.lock().expect("lock").len()
}

#[tokio::test]
async fn a_retry_with_the_key_gets_the_first_ids_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, seen) = open(&dir);
    let first = store
        .publish(vec![event(1), event(2)], keyed("k1", 1, DAY))
        .await
        .expect("stored");
    assert!(!first.replayed);
    assert_eq!(first.value, [EventId::new(1), EventId::new(2)]);
    let retry = store
        .publish(vec![event(1), event(2)], keyed("k1", 1, DAY))
        .await
        .expect("answered");
    assert!(retry.replayed);
    assert_eq!(retry.value, first.value);
    assert_eq!(frames(&store, &seen).await, 2);
    // Without a key, the same events are simply published again.
    let unkeyed = store.publish(vec![event(1)], None).await.expect("stored");
    assert_eq!(unkeyed.value, [EventId::new(3)]);
}

#[tokio::test]
async fn the_key_on_another_request_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, seen) = open(&dir);
    store
        .publish(vec![event(1)], keyed("k", 1, DAY))
        .await
        .expect("stored");
    let reused = store.publish(vec![event(9)], keyed("k", 2, DAY)).await;
    assert!(matches!(reused, Err(EngineError::KeyReused)), "{reused:?}");
    let task = |title: &str| NewTask {
        title: title.into(),
        description: None,
        status: TaskStatus::default(),
    };
    // Task changes have keys of their own: "k" is free there, once.
    store
        .create_task(task("one"), keyed("k", 3, DAY))
        .await
        .expect("created");
    let reused = store.create_task(task("two"), keyed("k", 4, DAY)).await;
    assert!(matches!(reused, Err(EngineError::KeyReused)), "{reused:?}");
    assert_eq!(frames(&store, &seen).await, 2);
    assert_eq!(store.list_tasks(None).await.expect("listed").len(), 1);
}

#[tokio::test]
async fn concurrent_attempts_with_one_key_append_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, seen) = open(&dir);
    let attempts: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .publish(vec![event(7)], keyed("same", 1, DAY))
                    .await
                    .expect("answered")
            })
        })
        .collect();
    let mut fresh = 0;
    for attempt in attempts {
        let applied = attempt.await.expect("joined");
        assert_eq!(applied.value, [EventId::new(1)]);
        fresh += usize::from(!applied.replayed);
    }
    assert_eq!(fresh, 1);
    assert_eq!(frames(&store, &seen).await, 1);
}

#[tokio::test]
async fn a_key_outlives_a_restart_and_lapses_after_its_ttl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let second = Duration::from_secs(1);
    {
        let (store, _) = open(&dir);
        store
            .publish(vec![event(1)], keyed("long", 1, DAY))
            .await
            .expect("stored");
        store
            .publish(vec![event(2)], keyed("short", 2, second))
            .await
            .expect("stored");
        EventLog::close(&store).await;
    }
    let (store, _) = open(&dir);
    let retry = store
        .publish(vec![event(1)], keyed("long", 1, DAY))
        .await
        .expect("answered");
    assert!(retry.replayed);
    assert_eq!(retry.value, [EventId::new(1)]);
    // Expiry is checked in whole seconds: two of them pass the one-second TTL.
    tokio::time::sleep(2 * second).await;
    let after = store
        .publish(vec![event(2)], keyed("short", 2, second))
        .await
        .expect("stored");
    assert!(!after.replayed, "an expired key is a new write");
    assert_eq!(after.value, [EventId::new(3)]);
}

#[tokio::test]
async fn task_changes_with_a_key_apply_once_and_answer_the_task_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, seen) = open(&dir);
    let new = || NewTask {
        title: "write the note".into(),
        description: Some("twice?".into()),
        status: TaskStatus::default(),
    };
    let created = store
        .create_task(new(), keyed("c", 1, DAY))
        .await
        .expect("created");
    let again = store
        .create_task(new(), keyed("c", 1, DAY))
        .await
        .expect("answered");
    assert!(again.replayed);
    assert_eq!(again.value, created.value);
    let id = created.value.id;
    let patch = || TaskPatch {
        status: Some(TaskStatus::parse("done").expect("valid")),
        ..TaskPatch::default()
    };
    let updated = store
        .update_task(id, patch(), keyed("u", 2, DAY))
        .await
        .expect("updated");
    // Another change in between: the retry still answers the task as the update left it.
    store
        .update_task(
            id,
            TaskPatch {
                title: Some("renamed".into()),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .expect("renamed");
    let retried = store
        .update_task(id, patch(), keyed("u", 2, DAY))
        .await
        .expect("answered");
    assert!(retried.replayed);
    assert_eq!(retried.value, updated.value);
    let deleted = store
        .delete_task(id, keyed("d", 3, DAY))
        .await
        .expect("deleted");
    let retried = store
        .delete_task(id, keyed("d", 3, DAY))
        .await
        .expect("answered");
    assert!(retried.replayed);
    assert_eq!(retried.value, deleted.value);
    // Created, updated, renamed, deleted: four events, none twice.
    assert_eq!(frames(&store, &seen).await, 4);
}
