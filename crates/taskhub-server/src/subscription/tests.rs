//! A subscription reading groups from a real hub, without a connection: which chunks it
//! queues, and what a subscriber further behind than its buffer is told.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use taskhub_core::{EventFrame, EventId, EventType, Filter, Topic};
use taskhub_engine::Retention;
use taskhub_store::{DatabaseUrl, Store, StoreOptions};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{Request, Resume, Settings, SlowClientPolicy, Subscription, View};
use crate::auth::Access;
use crate::backend::EventLog;
use crate::hub::Hub;

struct Fixture {
    hub: Hub,
    events: EventLog,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("t.db").display())
            .parse()
            .expect("a database URL");
        let options = StoreOptions {
            retention: Retention {
                max_events: 1_000,
                max_age: None,
            },
            readers: 1,
        };
        let store = Store::open(&url, options, Box::new(|_frames| {})).expect("a store");
        Self {
            hub: Hub::new(64, 4),
            events: EventLog::Sqlite(store),
            _dir: dir,
        }
    }

    /// A live subscription (its preamble already taken) whose ring end is taken now.
    async fn subscribe(&self, view: View, buffer: u64, policy: SlowClientPolicy) -> Subscription {
        let settings = Settings {
            retry: Duration::from_secs(1),
            keepalive: Duration::from_secs(3600),
            policy,
            buffer,
        };
        let permit = Arc::new(Semaphore::new(1))
            .try_acquire_owned()
            .expect("a permit");
        let request = Request {
            view,
            resume: Resume::Live,
            presence: None,
        };
        let mut subscription = Subscription::new(
            request,
            settings,
            self.events.clone(),
            self.hub.subscribe(),
            "test",
            CancellationToken::new(),
            permit,
        );
        subscription.next_chunk().await.expect("the preamble");
        subscription
    }
}

fn frame(id: u64, topic: &str) -> Arc<EventFrame> {
    let event_type = EventType::parse("note").expect("a valid type");
    let topic = Topic::parse(topic).expect("a valid topic");
    let envelope = format!("{{\"id\":\"{id}\",\"topic\":\"{topic}\"}}");
    Arc::new(EventFrame::new(
        EventId::new(id),
        event_type,
        Some(topic),
        false,
        &envelope,
    ))
}

fn native(topics: Option<&str>, typed: bool) -> View {
    View::Native {
        filter: Filter::parse(None, topics).expect("a valid filter"),
        access: Access::default(),
        typed,
    }
}

fn typed(frames: &[&Arc<EventFrame>]) -> Bytes {
    frames.iter().flat_map(|frame| frame.typed()).collect()
}

/// What follows `prefix` on each of the chunk's lines that start with it.
fn lines(chunk: &Bytes, prefix: &str) -> Vec<String> {
    String::from_utf8_lossy(chunk)
        .lines()
        .filter_map(|line| line.strip_prefix(prefix).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn consecutive_wanted_frames_of_a_group_leave_as_one_chunk() {
    let fixture = Fixture::new();
    let mut subscription = fixture
        .subscribe(native(Some("a/*"), true), 100, SlowClientPolicy::Disconnect)
        .await;
    let group = [
        frame(1, "a/1"),
        frame(2, "a/2"),
        frame(3, "b/1"),
        frame(4, "a/3"),
    ];
    fixture.hub.publish(group.to_vec());
    let first = subscription.next_chunk().await.expect("a chunk");
    assert_eq!(first, typed(&[&group[0], &group[1]]));
    let second = subscription.next_chunk().await.expect("a chunk");
    assert_eq!(second, typed(&[&group[3]]));
    assert_eq!(subscription.cursor, EventId::new(4));
}

#[tokio::test]
async fn an_untyped_stream_takes_each_frame_as_its_own_chunk() {
    let fixture = Fixture::new();
    let mut subscription = fixture
        .subscribe(native(None, false), 100, SlowClientPolicy::Disconnect)
        .await;
    fixture.hub.publish(vec![frame(1, "a/1"), frame(2, "a/2")]);
    for id in ["1", "2"] {
        let chunk = subscription.next_chunk().await.expect("a chunk");
        assert_eq!(lines(&chunk, "id: "), [id]);
        assert!(lines(&chunk, "event: ").is_empty());
    }
}

#[tokio::test]
async fn more_frames_behind_than_the_buffer_loses_the_oldest_group_and_says_so() {
    let fixture = Fixture::new();
    let mut subscription = fixture
        .subscribe(native(None, true), 8, SlowClientPolicy::DropOldest)
        .await;
    // Two ring items, far fewer than the ring holds; but behind the first wait 20
    // frames, more than the subscriber's buffer of 8.
    fixture
        .hub
        .publish((1..=5).map(|id| frame(id, "a/1")).collect());
    let newer: Vec<_> = (6..=25).map(|id| frame(id, "a/1")).collect();
    fixture.hub.publish(newer.clone());

    let gap = subscription.next_chunk().await.expect("the gap");
    assert_eq!(lines(&gap, "event: "), ["gap"]);
    let data = lines(&gap, "data: ").concat();
    assert!(
        data.contains("\"first_dropped_id\":\"1\"") && data.contains("\"last_dropped_id\":\"5\""),
        "{data}"
    );
    let rest = subscription.next_chunk().await.expect("the newer group");
    assert_eq!(rest, typed(&newer.iter().collect::<Vec<_>>()));
}

#[tokio::test]
async fn with_disconnect_more_frames_behind_than_the_buffer_ends_the_stream() {
    let fixture = Fixture::new();
    let mut subscription = fixture
        .subscribe(native(None, true), 8, SlowClientPolicy::Disconnect)
        .await;
    fixture
        .hub
        .publish((1..=5).map(|id| frame(id, "a/1")).collect());
    fixture
        .hub
        .publish((6..=25).map(|id| frame(id, "a/1")).collect());
    assert_eq!(subscription.next_chunk().await, None);
}

#[tokio::test]
async fn a_group_within_the_buffer_is_taken_whole() {
    let fixture = Fixture::new();
    let mut subscription = fixture
        .subscribe(native(None, true), 8, SlowClientPolicy::Disconnect)
        .await;
    // Larger than the buffer, but nothing waits behind it.
    let group: Vec<_> = (1..=50).map(|id| frame(id, "a/1")).collect();
    fixture.hub.publish(group.clone());
    let chunk = subscription.next_chunk().await.expect("the group");
    assert_eq!(chunk, typed(&group.iter().collect::<Vec<_>>()));
}
