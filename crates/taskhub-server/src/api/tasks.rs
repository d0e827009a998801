//! The tasks API. Every change commits together with its event (`task_created`,
//! `task_updated`, `task_deleted` on topic `tasks/{id}`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use taskhub_core::{Task, TaskId, TaskStatus};
use taskhub_engine::{Applied, NewTask, TaskPatch};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, path};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::fields::Fields;
use super::health::Status;
use crate::auth::TaskhubCaller;
use crate::edge::body::JsonBody;
use crate::edge::idempotency::{self, RetryKey};
use crate::error::ApiError;
use crate::error::openapi::{
    DeleteErrors, ListErrors, PatchErrors, ReadErrors, StatusErrors, WriteErrors,
};
use crate::rate_limit::WriteAllowed;
use crate::state::AppState;

/// Longest title, in characters.
const MAX_TITLE_CHARS: usize = Task::MAX_TITLE_CHARS;
/// Longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = Task::MAX_DESCRIPTION_CHARS;

#[utoipa::path(post, path = "/tasks", tag = "tasks", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(RetryKey),
    request_body(content = NewTaskInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created, with its `task_created` event", body = Task), WriteErrors))]
pub(crate) async fn create(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    retry_key: RetryKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.check_task_write(None)?;
    let new_task = parse_new_task(&body)?;
    let idempotency = retry_key.for_json(&body);
    let created = state.tasks.create_task(new_task, idempotency).await?;
    Ok(idempotency::answer(created, |task| {
        let location = format!("/tasks/{}", task.id);
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(task),
        )
            .into_response()
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    status: Option<String>,
}

impl IntoParams for ListParams {
    fn into_params(_: impl Fn() -> Option<path::ParameterIn>) -> Vec<path::Parameter> {
        vec![status_param(
            "status",
            "Only tasks with this status.",
            false,
        )]
    }
}

#[utoipa::path(get, path = "/tasks", tag = "tasks", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "The tasks, oldest first", body = Vec<Task>), ListErrors))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: TaskhubCaller,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<Task>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadParameter {
        param: "query".into(),
        detail: e.body_text(),
    })?;
    let status = params
        .status
        .map(|s| TaskStatus::parse(&s))
        .transpose()
        .map_err(|e| ApiError::BadParameter {
            param: "status".into(),
            detail: format!("`status`: {e}"),
        })?;
    Ok(Json(state.tasks.list_tasks(status).await?))
}

#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(("id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = Task), ReadErrors))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: TaskhubCaller,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let task_id = task_id(&id)?;
    state
        .tasks
        .get_task(task_id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&id))
}

#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(("id" = String, Path, description = "The task's id"), RetryKey),
    request_body(content = TaskPatchInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated, with its `task_updated` event", body = Task), PatchErrors))]
pub(crate) async fn update(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    retry_key: RetryKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let task_id = task_id(&id)?;
    caller.check_task_write(Some(task_id))?;
    let patch = parse_task_patch(&body)?;
    let idempotency = retry_key.for_json(&body);
    let updated = state.tasks.update_task(task_id, patch, idempotency).await?;
    found(updated, &id, |task| Json(task).into_response())
}

#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(("id" = String, Path, description = "The task's id"), RetryKey),
    responses(
        (status = 204, description = "Deleted, with its `task_deleted` event"), DeleteErrors))]
pub(crate) async fn delete(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    retry_key: RetryKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task_id = task_id(&id)?;
    caller.check_task_write(Some(task_id))?;
    let deleted = state
        .tasks
        .delete_task(task_id, retry_key.for_body(&[]))
        .await?;
    found(deleted, &id, |_| StatusCode::NO_CONTENT.into_response())
}

/// The answer for a change of task `id`, or 404 when there was no such task (a retry of
/// a change that found none finds none again: ids are never reused).
fn found(
    changed: Applied<Option<Task>>,
    id: &str,
    respond: impl FnOnce(Task) -> Response,
) -> Result<Response, ApiError> {
    let task = changed.transpose().ok_or_else(|| not_found(id))?;
    Ok(idempotency::answer(task, respond))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetStatusParams {
    new_status: Option<String>,
}

impl IntoParams for SetStatusParams {
    fn into_params(_: impl Fn() -> Option<path::ParameterIn>) -> Vec<path::Parameter> {
        vec![status_param("new_status", "The new status.", true)]
    }
}

/// A query parameter holding a task status.
fn status_param(name: &str, description: &str, required: bool) -> path::Parameter {
    let required = if required {
        utoipa::openapi::Required::True
    } else {
        utoipa::openapi::Required::False
    };
    path::ParameterBuilder::new()
        .name(name)
        .parameter_in(path::ParameterIn::Query)
        .description(Some(description))
        .required(required)
        .schema(Some(TaskStatus::schema()))
        .build()
}

/// The seed's `PUT /tasks/status/{task_id}?new_status=X`, answering as the seed did, but
/// with 404 for a task that does not exist.
#[utoipa::path(put, path = "/tasks/status/{id}", tag = "tasks", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(("id" = String, Path, description = "The task's id"), SetStatusParams, RetryKey),
    responses(
        (status = 200, description = "Updated, with its `task_updated` event", body = Status), StatusErrors))]
pub(crate) async fn set_status(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    retry_key: RetryKey,
    Path(id): Path<String>,
    params: Result<Query<SetStatusParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid("new_status", e.body_text()))?;
    let new_status = params
        .new_status
        .ok_or_else(|| ApiError::invalid("new_status", "the query parameter is required"))?;
    let patch = TaskPatch {
        status: Some(status("new_status", &new_status)?),
        ..TaskPatch::default()
    };
    let task_id = task_id(&id)?;
    caller.check_task_write(Some(task_id))?;
    let updated = state
        .tasks
        .update_task(task_id, patch, retry_key.for_body(&[]))
        .await?;
    found(updated, &id, |_| {
        Json(json!({ "status": "updated" })).into_response()
    })
}

/// A `POST /tasks` body.
pub(crate) fn parse_new_task(body: &Value) -> Result<NewTask, ApiError> {
    let fields = Fields::new(body, String::new(), &["title", "description", "status"])?;
    Ok(NewTask {
        title: title(fields.required_str("title")?)?,
        description: fields
            .nullable_str("description")?
            .flatten()
            .map(description)
            .transpose()?,
        status: fields
            .optional_str("status")?
            .map(|s| status("status", s))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A `PATCH /tasks/{id}` body.
pub(crate) fn parse_task_patch(body: &Value) -> Result<TaskPatch, ApiError> {
    let fields = Fields::new(body, String::new(), &["title", "description", "status"])?;
    Ok(TaskPatch {
        title: fields.optional_str("title")?.map(title).transpose()?,
        description: fields
            .nullable_str("description")?
            .map(|d| d.map(description).transpose())
            .transpose()?,
        status: fields
            .optional_str("status")?
            .map(|s| status("status", s))
            .transpose()?,
    })
}

/// An id that is not one this store issues names no task: 404, like an unknown one.
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    raw.parse().map_err(|_| not_found(raw))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no task with id {id:?}"))
}

fn title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS {
        let detail =
            format!("must be 1 to {MAX_TITLE_CHARS} characters (not counting surrounding spaces)");
        return Err(ApiError::invalid("title", detail));
    }
    Ok(title.to_owned())
}

fn description(raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        let detail = format!("must be at most {MAX_DESCRIPTION_CHARS} characters");
        return Err(ApiError::invalid("description", detail));
    }
    Ok(raw.to_owned())
}

fn status(field: &str, raw: &str) -> Result<TaskStatus, ApiError> {
    TaskStatus::parse(raw).map_err(|e| ApiError::invalid(field, e))
}

/// `POST /tasks`, as the OpenAPI document describes it (the handler reads the body field
/// by field, to name the faulty field in errors).
pub(crate) struct NewTaskInput;

/// `PATCH /tasks/{id}`: the fields to change; a `null` description clears it.
pub(crate) struct TaskPatchInput;

impl PartialSchema for NewTaskInput {
    fn schema() -> RefOr<Schema> {
        task_body(true)
    }
}

impl ToSchema for NewTaskInput {}

impl PartialSchema for TaskPatchInput {
    fn schema() -> RefOr<Schema> {
        task_body(false)
    }
}

impl ToSchema for TaskPatchInput {}

/// A task body: every field optional in a patch; a new task needs its title.
fn task_body(new: bool) -> RefOr<Schema> {
    let title = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_TITLE_CHARS))
        .pattern(Some("\\S"))
        .description(Some(
            "Surrounding spaces are trimmed; what remains must not be empty.",
        ));
    let description = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX_DESCRIPTION_CHARS));
    let mut status = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(TaskStatus::PATTERN));
    if new {
        status = status.default(Some(TaskStatus::default().as_str().into()));
    }
    let mut body = ObjectBuilder::new()
        .property("title", title)
        .property("description", description)
        .property("status", status)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    if new {
        body = body.required("title");
    }
    body.into()
}
