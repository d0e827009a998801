//! Retry-safe writes: what a write carries so that a retry is answered, not applied
//! again ([`Idempotency`]), what an engine records with the key ([`Answer`]), and what it
//! hands back ([`Applied`]).
//!
//! An engine records a key in the same atomic step as the write it names (the SQLite
//! transaction, the Redis script, the PostgreSQL transaction), so there is no moment at
//! which the write is applied but its key is not, or the other way round.

use std::time::Duration;

use serde_json::{Value, json};
use taskhub_core::{EventId, IdempotencyKey, Task, TaskId, TaskStatus};

use crate::EngineError;

/// A write's idempotency key, and what is needed to honour it.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    /// What the request was; a retry must match it, or it is [`EngineError::KeyReused`].
    pub fingerprint: Fingerprint,
    /// How long the key is remembered after the write.
    pub ttl: Duration,
}

impl Idempotency {
    /// Whether a record made for `recorded` answers this request: the same request is
    /// answered from the record, another one with the same key is refused.
    pub fn check(&self, recorded: &str) -> Result<(), EngineError> {
        if recorded == self.fingerprint.as_str() {
            Ok(())
        } else {
            Err(EngineError::KeyReused)
        }
    }

    /// The time to live in whole seconds, at least one.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs().max(1)
    }
}

/// A digest of everything that makes a request the write it is (who sent it, where, and
/// its body), as 64 lowercase hex digits. The server computes it; engines only store and
/// compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        use std::fmt::Write;
        let mut hex = String::with_capacity(64);
        for byte in digest {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A write's result, and whether it was the first attempt's, recorded under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<T> {
    pub value: T,
    /// True when the key had been used for this request before: nothing was written now,
    /// and `value` is what the first attempt was answered.
    pub replayed: bool,
}

impl<T> Applied<T> {
    pub fn fresh(value: T) -> Self {
        Self {
            value,
            replayed: false,
        }
    }

    pub fn replayed(value: T) -> Self {
        Self {
            value,
            replayed: true,
        }
    }
}

impl<T> Applied<Option<T>> {
    /// The value, if there is one, still marked as it was.
    pub fn transpose(self) -> Option<Applied<T>> {
        let replayed = self.replayed;
        self.value.map(|value| Applied { value, replayed })
    }
}

/// What an engine records with a key: enough to answer a retry as the first attempt was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A publish: its events took the `count` ids from `first` on (a publish's ids are
    /// consecutive in every engine).
    Events { first: EventId, count: u64 },
    /// A task change: the task as it was answered (`None`: there was no such task).
    Task(Option<Task>),
}

impl Answer {
    /// The answer for a publish whose events got `ids`.
    pub fn events(ids: &[EventId]) -> Self {
        Self::Events {
            first: ids.first().copied().unwrap_or_default(),
            count: ids.len() as u64,
        }
    }

    /// The ids of a publish's answer; none for a task's.
    pub fn event_ids(&self) -> Result<Vec<EventId>, EngineError> {
        match self {
            Self::Events { first, count } => Ok((first.get()..first.get() + count)
                .map(EventId::new)
                .collect()),
            Self::Task(_) => Err(EngineError::KeyReused),
        }
    }

    /// The task of a task change's answer; [`EngineError::KeyReused`] for a publish's.
    pub fn into_task(self) -> Result<Option<Task>, EngineError> {
        match self {
            Self::Task(task) => Ok(task),
            Self::Events { .. } => Err(EngineError::KeyReused),
        }
    }

    /// The answer as an engine stores it (JSON).
    pub fn to_stored(&self) -> String {
        match self {
            Self::Events { first, count } => json!({ "events": [first.get(), count] }),
            Self::Task(task) => json!({ "task": task }),
        }
        .to_string()
    }

    /// An answer [`to_stored`](Self::to_stored) wrote.
    pub fn from_stored(stored: &str) -> Result<Self, EngineError> {
        let corrupt = || EngineError::Corrupt(format!("idempotency record {stored:?}"));
        let value: Value = serde_json::from_str(stored).map_err(|_| corrupt())?;
        if let Some([first, count]) = value["events"].as_array().map(Vec::as_slice) {
            let (first, count) = first.as_u64().zip(count.as_u64()).ok_or_else(corrupt)?;
            return Ok(Self::Events {
                first: EventId::new(first),
                count,
            });
        }
        match value.get("task") {
            Some(Value::Null) => Ok(Self::Task(None)),
            Some(task) => Ok(Self::Task(Some(stored_task(task).ok_or_else(corrupt)?))),
            None => Err(corrupt()),
        }
    }
}

fn stored_task(value: &Value) -> Option<Task> {
    let text = |name: &str| value[name].as_str().map(str::to_owned);
    Some(Task {
        id: text("id")?.parse::<TaskId>().ok()?,
        title: text("title")?,
        description: match &value["description"] {
            Value::Null => None,
            description => Some(description.as_str()?.to_owned()),
        },
        status: TaskStatus::parse(value["status"].as_str()?).ok()?,
        created_at: text("created_at")?,
        updated_at: text("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_through_their_stored_form() {
        let task = Task {
            id: TaskId::new(7),
            title: "a \"quoted\"\u{0} title".into(),
            description: None,
            status: TaskStatus::parse("in_progress").expect("valid"),
            created_at: "2026-12-03T12:00:00.000000Z".into(),
            updated_at: "2026-12-03T12:00:01.000000Z".into(),
        };
        let described = Task {
            description: Some("more".into()),
            ..task.clone()
        };
        for answer in [
            Answer::Events {
                first: EventId::new(41),
                count: 3,
            },
            Answer::Task(None),
            Answer::Task(Some(task)),
            Answer::Task(Some(described)),
        ] {
            assert_eq!(
                Answer::from_stored(&answer.to_stored()).expect("stored form"),
                answer
            );
        }
        assert!(matches!(
            Answer::from_stored("{\"task\":{\"id\":\"x\"}}"),
            Err(EngineError::Corrupt(_))
        ));
    }

    #[test]
    fn a_publishs_ids_are_consecutive_from_the_first() {
        let ids = [EventId::new(5), EventId::new(6), EventId::new(7)];
        assert_eq!(Answer::events(&ids).event_ids().expect("events"), ids);
    }

    #[test]
    fn only_the_same_request_is_answered_from_the_record() {
        let idempotency = Idempotency {
            key: IdempotencyKey::parse("k").expect("valid"),
            fingerprint: Fingerprint::from_digest(&[0xab; 32]),
            ttl: Duration::from_secs(60),
        };
        assert_eq!(idempotency.fingerprint.as_str(), "ab".repeat(32));
        assert!(idempotency.check(&"ab".repeat(32)).is_ok());
        assert!(matches!(
            idempotency.check(&"cd".repeat(32)),
            Err(EngineError::KeyReused)
        ));
    }
}
