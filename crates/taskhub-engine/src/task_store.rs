//! [`TaskStore`]: what an engine that keeps the tasks does for the server.

use std::future::Future;

use taskhub_core::{Task, TaskId, TaskStatus};

use crate::{Applied, EngineError, Idempotency, NewTask, TaskPatch};

/// The tasks. Every change is recorded in the event log as the event [`task_event`]
/// builds (`task_created`, `task_updated`, `task_deleted`), exactly once: in the same
/// transaction as the change, or through an outbox relayed after it.
///
/// A change with an [`Idempotency`] key is applied at most once while the key lives, as
/// [`EventLog::publish`](crate::EventLog::publish) promises for events: the key is
/// recorded in the change's transaction with the task as answered.
///
/// [`task_event`]: crate::task_event
pub trait TaskStore: Send + Sync {
    /// Creates a task and records `task_created`.
    fn create_task(
        &self,
        task: NewTask,
        idempotency: Option<Idempotency>,
    ) -> impl Future<Output = Result<Applied<Task>, EngineError>> + Send;

    /// Applies a patch ([`TaskPatch::apply`]) and records `task_updated`; `None` when there
    /// is no such task.
    fn update_task(
        &self,
        id: TaskId,
        patch: TaskPatch,
        idempotency: Option<Idempotency>,
    ) -> impl Future<Output = Result<Applied<Option<Task>>, EngineError>> + Send;

    /// Deletes a task and records `task_deleted`; `None` when there is no such task.
    fn delete_task(
        &self,
        id: TaskId,
        idempotency: Option<Idempotency>,
    ) -> impl Future<Output = Result<Applied<Option<Task>>, EngineError>> + Send;

    fn get_task(
        &self,
        id: TaskId,
    ) -> impl Future<Output = Result<Option<Task>, EngineError>> + Send;

    /// Every task, or those with `status`, in id order.
    fn list_tasks(
        &self,
        status: Option<TaskStatus>,
    ) -> impl Future<Output = Result<Vec<Task>, EngineError>> + Send;

    /// Whether a task change could commit now (for `/readyz`): proved, as
    /// [`EventLog::ping`](crate::EventLog::ping) is, by a write that commits, apart from
    /// any change and recording no event.
    fn ping(&self) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Stops what the store runs in the background and releases it.
    fn close(&self) -> impl Future<Output = ()> + Send;
}
