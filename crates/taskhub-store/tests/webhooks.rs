//! The webhook ledger on SQLite: a target's state is created once, progress is refused
//! under an old generation (so a redelivery request is never overwritten), parked events
//! keep their envelopes, and all of it survives reopening the file.

use std::time::Duration;

use taskhub_core::{EventId, Timestamp};
use taskhub_engine::{
    Advanced, EventLog, ParkedEvent, Redelivery, Retention, WebhookAttempt, WebhookLedger,
    WebhookProgress,
};
use taskhub_store::{DatabaseUrl, Store, StoreOptions};

fn open(path: &std::path::Path) -> Store {
    let url: DatabaseUrl = format!("sqlite://{}", path.display()).parse().expect("url");
    let options = StoreOptions {
        retention: Retention {
            max_events: 1000,
            max_age: None,
        },
        readers: 2,
    };
    Store::open(&url, options, Box::new(|_frame| {})).expect("opens")
}

const TARGET: &str = "https://app.example.com/hooks";

fn progress(generation: u64) -> WebhookProgress {
    WebhookProgress {
        generation,
        cursor: None,
        attempt: None,
        park: None,
        unpark: None,
    }
}

#[tokio::test]
async fn progress_under_an_old_generation_is_refused_and_everything_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = open(&path);
    assert!(
        store
            .claim(TARGET, "me", Duration::from_secs(1))
            .await
            .expect("claim")
    );
    assert_eq!(store.inspect_webhook(TARGET).await.expect("read"), None);
    assert!(
        !store
            .redeliver(TARGET, Redelivery::After(EventId::new(1)), Timestamp::now())
            .await
            .expect("redeliver"),
        "no state yet"
    );
    let state = store
        .webhook_state(TARGET, EventId::new(5))
        .await
        .expect("created");
    assert_eq!((state.cursor, state.generation), (EventId::new(5), 0));
    // Created once: a second start elsewhere does not move it.
    let again = store
        .webhook_state(TARGET, EventId::new(9))
        .await
        .expect("found");
    assert_eq!(again.cursor, EventId::new(5));

    let attempt = WebhookAttempt {
        at: Timestamp::from_unix_millis(1_000),
        status: Some(500),
        error: Some("answered 500".into()),
    };
    let parked = ParkedEvent {
        id: EventId::new(6),
        envelope: r#"{"id":"6"}"#.into(),
        parked_at: attempt.at,
        last_status: Some(500),
        last_error: "answered 500".into(),
        requeued_at: None,
    };
    let written = store
        .advance(
            TARGET,
            "me",
            WebhookProgress {
                cursor: Some(EventId::new(6)),
                attempt: Some(attempt.clone()),
                park: Some(parked.clone()),
                ..progress(0)
            },
        )
        .await
        .expect("advance");
    assert_eq!(written, Advanced::Written);

    let asked = Timestamp::from_unix_millis(2_000);
    assert!(
        store
            .redeliver(TARGET, Redelivery::After(EventId::new(2)), asked)
            .await
            .expect("redeliver")
    );
    let stale = store
        .advance(
            TARGET,
            "me",
            WebhookProgress {
                cursor: Some(EventId::new(7)),
                ..progress(0)
            },
        )
        .await
        .expect("advance");
    assert_eq!(
        stale,
        Advanced::Stale,
        "the redelivery request is not overwritten"
    );
    assert!(
        store
            .redeliver(TARGET, Redelivery::Parked(EventId::new(6)), asked)
            .await
            .expect("requeue")
    );
    assert!(
        !store
            .redeliver(TARGET, Redelivery::Parked(EventId::new(99)), asked)
            .await
            .expect("requeue"),
        "not parked"
    );
    store.close().await;

    let store = open(&path);
    let state = store
        .inspect_webhook(TARGET)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(state.cursor, EventId::new(2));
    assert_eq!(state.generation, 2);
    assert_eq!(state.replayed_at, Some(asked));
    assert_eq!(state.last_status, Some(500));
    assert_eq!(state.last_error.as_deref(), Some("answered 500"));
    assert_eq!(
        state.parked,
        vec![ParkedEvent {
            requeued_at: Some(asked),
            ..parked
        }]
    );
    let unparked = store
        .advance(
            TARGET,
            "me",
            WebhookProgress {
                unpark: Some(EventId::new(6)),
                ..progress(2)
            },
        )
        .await
        .expect("advance");
    assert_eq!(unparked, Advanced::Written);
    let state = store
        .inspect_webhook(TARGET)
        .await
        .expect("read")
        .expect("kept");
    assert!(state.parked.is_empty());
    store.close().await;
}
