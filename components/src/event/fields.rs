//! Reading `eventArgs` fields: a missing or `null` field takes its zero value, a field of the wrong JSON
//! type is an [`EventArgsError`] naming it.

use serde_json::{Map, Value};

use super::EventArgsError;

pub(super) fn object(args: &Value) -> Result<&Map<String, Value>, EventArgsError> {
    match args {
        Value::Object(map) => Ok(map),
        _ => Err(EventArgsError {
            field: "eventArgs",
            expected: "an object",
        }),
    }
}

pub(super) fn get_f64(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<f64, EventArgsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(0.0),
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(0.0)),
        Some(_) => Err(EventArgsError {
            field,
            expected: "a number",
        }),
    }
}

pub(super) fn get_bool(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<bool, EventArgsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(EventArgsError {
            field,
            expected: "a boolean",
        }),
    }
}

pub(super) fn get_string(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<String, EventArgsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(EventArgsError {
            field,
            expected: "a string",
        }),
    }
}
