//! Reading fields out of a JSON object with errors that name the field.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object being parsed, with the path used to name its fields in errors
/// (`event` for a single event, `[3].event` for the fourth of a batch).
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// Fails unless `value` is an object whose keys are all in `known`.
    pub(crate) fn new(value: &'a Value, path: String, known: &[&str]) -> Result<Self, ApiError> {
        let Some(object) = value.as_object() else {
            let name = if path.is_empty() {
                "body".to_owned()
            } else {
                path
            };
            return Err(ApiError::invalid(name, "must be a JSON object"));
        };
        let fields = Self { object, path };
        if let Some(unknown) = object.keys().find(|key| !known.contains(&key.as_str())) {
            let expected = known.join(", ");
            return Err(ApiError::invalid(
                fields.name(unknown),
                format!("unknown field; expected one of: {expected}"),
            ));
        }
        Ok(fields)
    }

    /// The field's name as errors show it.
    pub(crate) fn name(&self, key: &str) -> String {
        format!("{}{key}", self.path)
    }

    pub(crate) fn required(&self, key: &str) -> Result<&'a Value, ApiError> {
        self.object
            .get(key)
            .ok_or_else(|| ApiError::invalid(self.name(key), "is required"))
    }

    /// A string field that may be left out (but not be `null`).
    pub(crate) fn optional_str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.object.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(self.name(key), "must be a string")),
        }
    }

    /// A string field that may be left out (`None`) or be `null` (`Some(None)`).
    pub(crate) fn nullable_str(&self, key: &str) -> Result<Option<Option<&'a str>>, ApiError> {
        match self.object.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(_) => Err(ApiError::invalid(
                self.name(key),
                "must be a string or null",
            )),
        }
    }

    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.required(key)?;
        self.optional_str(key)?
            .ok_or_else(|| ApiError::invalid(self.name(key), "must be a string"))
    }

    pub(crate) fn optional_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.object.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(self.name(key), "must be true or false")),
        }
    }
}
