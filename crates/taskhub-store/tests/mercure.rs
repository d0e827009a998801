//! The store's side of Mercure: resume points are located in the history (an update id
//! at its newest use), and what Mercure adds survives replay and restarts.

use std::sync::{Arc, Mutex};

use serde_json::value::to_raw_value;
use taskhub_core::mercure::{MercureFields, MercureTopic, ResumePoint, UpdateId};
use taskhub_core::{EventFrame, EventId, EventType};
use taskhub_engine::{EngineError, EventLog, NewEvent, Replay, Retention};
use taskhub_store::{DatabaseUrl, Store, StoreOptions};

const DATA: &str = "line one\nline two";

fn update(id: &str) -> NewEvent {
    NewEvent {
        event_type: EventType::parse("message").expect("valid"),
        topic: None,
        private: false,
        data: to_raw_value(DATA).expect("serialisable"),
        mercure: Some(MercureFields {
            id: UpdateId::parse(id).expect("valid"),
            topics: vec![MercureTopic::parse("https://example.com/a").expect("valid")],
            update_type: None,
            retry: Some(100),
            data: DATA.into(),
        }),
    }
}

fn native() -> NewEvent {
    NewEvent {
        event_type: EventType::parse("note").expect("valid"),
        topic: None,
        private: false,
        data: to_raw_value(&1).expect("serialisable"),
        mercure: None,
    }
}

fn database(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("t.db")
}

fn open(dir: &tempfile::TempDir, history_size: u64) -> (Store, Arc<Mutex<Vec<Arc<EventFrame>>>>) {
    let url: DatabaseUrl = format!("sqlite://{}", database(dir).display())
        .parse()
        .expect("url");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = Arc::clone(&seen);
        Box::new(move |frames| seen.lock().expect("lock").extend(frames))
    };
    let options = StoreOptions {
        retention: Retention {
            max_events: history_size,
            max_age: None,
        },
        readers: 2,
    };
    (Store::open(&url, options, sink).expect("opens"), seen)
}

#[tokio::test]
async fn update_ids_are_located_at_their_newest_use_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, seen) = open(&dir, 100);
    assert_eq!(
        store
            .publish(vec![native(), update("u1")], None)
            .await
            .expect("stored")
            .value,
        [EventId::new(1), EventId::new(2)]
    );
    assert_eq!(
        store
            .publish(vec![update("u2")], None)
            .await
            .expect("stored")
            .value,
        [EventId::new(3)]
    );
    // An id used again is accepted, as Mercure accepts it.
    assert_eq!(
        store
            .publish(vec![update("u1")], None)
            .await
            .expect("stored")
            .value,
        [EventId::new(4)]
    );
    // Answers come just before the frames reach the sink; settle waits for them.
    store.settle().await;
    let live = seen.lock().expect("lock").clone();
    assert_eq!(live.len(), 4);
    assert!(
        live[1]
            .mercure()
            .starts_with(b"id: u1\nretry: 100\ndata: line one\n")
    );

    let locate = |point| {
        let store = store.clone();
        async move { store.locate(point).await.expect("located") }
    };
    assert_eq!(locate(ResumePoint::Earliest).await, Some(EventId::ZERO));
    assert_eq!(
        locate(ResumePoint::parse("u1")).await,
        Some(EventId::new(4)),
        "the newest"
    );
    assert_eq!(
        locate(ResumePoint::parse("u2")).await,
        Some(EventId::new(3))
    );
    assert_eq!(
        locate(ResumePoint::parse("#1")).await,
        Some(EventId::new(1))
    );
    assert_eq!(
        locate(ResumePoint::parse("#4")).await,
        Some(EventId::new(4))
    );
    assert_eq!(
        locate(ResumePoint::parse("#5")).await,
        None,
        "not issued yet"
    );
    assert_eq!(locate(ResumePoint::parse("nope")).await, None);
    assert_eq!(locate(ResumePoint::Unknown).await, None);
    store.close().await;

    // Reopened: the fields come back with the replay; and a history of one event keeps
    // only the newest, so older resume points are gone.
    let (store, _) = open(&dir, 1);
    let Replay::Events(frames) = store.replay(EventId::ZERO, 10).await.expect("replay") else {
        panic!("the history starts at 0");
    };
    assert_eq!(frames[1].mercure(), live[1].mercure());
    assert_eq!(frames[1].mercure_fields(), live[1].mercure_fields());
    store.publish(vec![native()], None).await.expect("stored");
    assert_eq!(
        store.locate(ResumePoint::parse("u1")).await.expect("ok"),
        None
    );
    assert_eq!(
        store.locate(ResumePoint::Earliest).await.expect("ok"),
        Some(EventId::new(4))
    );
    assert_eq!(
        store.locate(ResumePoint::parse("#3")).await.expect("ok"),
        None
    );
    store.close().await;
}

#[tokio::test]
async fn a_mercure_row_whose_data_is_not_what_taskhub_wrote_fails_its_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = open(&dir, 100);
    store
        .publish(vec![update("u1")], None)
        .await
        .expect("stored");
    store.close().await;
    let conn = rusqlite::Connection::open(database(&dir)).expect("opens");
    conn.execute(
        "UPDATE events SET envelope = replace(envelope, '\"data\":\"', '\"data\":[\"') WHERE id = 1",
        [],
    )
    .expect("damaged");
    drop(conn);

    let (store, _) = open(&dir, 100);
    match store.replay(EventId::ZERO, 10).await {
        Err(EngineError::Corrupt(detail)) => assert!(detail.contains("event 1"), "{detail}"),
        other => panic!("a corrupt row must fail loudly, got {other:?}"),
    }
    store.close().await;
}
