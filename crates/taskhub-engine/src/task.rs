//! Task changes as the tasks API hands them to an engine, and the event each one records,
//! written once for every engine.

use serde_json::json;
use serde_json::value::to_raw_value;
use taskhub_core::{EventType, Task, TaskStatus, Timestamp, Topic};

use crate::NewEvent;

/// `POST /tasks`, validated.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
}

/// `PATCH /tasks/{id}`, validated: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub status: Option<TaskStatus>,
}

impl TaskPatch {
    /// Changes `task` as the patch says and stamps it updated at `now` (even when the patch
    /// changes nothing: a `PATCH` is a change the task's event records).
    pub fn apply(self, task: &mut Task, now: Timestamp) {
        if let Some(title) = self.title {
            task.title = title;
        }
        if let Some(description) = self.description {
            task.description = description;
        }
        if let Some(status) = self.status {
            task.status = status;
        }
        task.updated_at = now.to_string();
    }
}

/// The event a task change records: topic `tasks/{id}`, data with the seed's `task_id` and
/// `status` fields plus the whole task.
pub fn task_event(event_type: EventType, task: &Task) -> NewEvent {
    let data = json!({
        "task_id": task.id.to_string(),
        "status": task.status.as_str(),
        "task": task,
    });
    NewEvent {
        event_type,
        topic: Some(Topic::for_task(task.id)),
        private: false,
        data: to_raw_value(&data).expect("a JSON value built from strings always serialises"),
        mercure: None,
    }
}

#[cfg(test)]
mod tests {
    use taskhub_core::TaskId;

    use super::*;

    fn task() -> Task {
        Task {
            id: TaskId::new(42),
            title: "write the contract".into(),
            description: Some("for every engine".into()),
            status: TaskStatus::default(),
            created_at: "2026-11-24T12:00:00.000Z".into(),
            updated_at: "2026-11-24T12:00:00.000Z".into(),
        }
    }

    const LATER: Timestamp = Timestamp::from_unix_millis(1_795_521_600_123);

    #[test]
    fn an_empty_patch_changes_only_the_update_time() {
        let mut patched = task();
        TaskPatch::default().apply(&mut patched, LATER);
        assert_eq!(
            patched,
            Task {
                updated_at: "2026-11-24T12:00:00.123Z".into(),
                ..task()
            }
        );
    }

    #[test]
    fn a_patch_sets_what_it_names_and_can_clear_the_description() {
        let done = TaskStatus::parse("done").expect("valid");
        let mut patched = task();
        TaskPatch {
            title: Some("renamed".into()),
            description: Some(None),
            status: Some(done.clone()),
        }
        .apply(&mut patched, LATER);
        assert_eq!(
            (
                patched.title.as_str(),
                &patched.description,
                &patched.status
            ),
            ("renamed", &None, &done)
        );
        assert_eq!(patched.created_at, task().created_at);

        let mut described = task();
        TaskPatch {
            description: Some(Some("new words".into())),
            ..TaskPatch::default()
        }
        .apply(&mut described, LATER);
        assert_eq!(described.description.as_deref(), Some("new words"));
        assert_eq!(described.title, task().title);
    }

    #[test]
    fn a_task_event_carries_the_seed_fields_and_the_task() {
        let event = task_event(EventType::task_updated(), &task());
        assert_eq!(event.event_type, EventType::task_updated());
        assert_eq!(event.topic.as_ref().map(Topic::as_str), Some("tasks/42"));
        assert!(!event.private && event.mercure.is_none());
        let data: serde_json::Value = serde_json::from_str(event.data.get()).expect("JSON");
        assert_eq!(data["task_id"], "42");
        assert_eq!(data["status"], "todo");
        assert_eq!(data["task"]["title"], "write the contract");
    }
}
