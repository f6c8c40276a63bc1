//! The payload types handlers receive, one per group of event kinds, each decoding itself from the
//! client's `eventArgs` through the field readers in `fields`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::fields::{get_bool, get_f64, get_string, object};
use super::{EventArgsError, EventData, EventKind};

/// Modifier keys held during a mouse or keyboard event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Alt (Option) key.
    pub alt: bool,
    /// Control key.
    pub ctrl: bool,
    /// Shift key.
    pub shift: bool,
    /// Meta (Command / Windows) key.
    pub meta: bool,
}

impl Modifiers {
    fn decode(map: &serde_json::Map<String, Value>) -> Result<Self, EventArgsError> {
        Ok(Modifiers {
            alt: get_bool(map, "altKey")?,
            ctrl: get_bool(map, "ctrlKey")?,
            shift: get_bool(map, "shiftKey")?,
            meta: get_bool(map, "metaKey")?,
        })
    }
}

/// click, dblclick, mousedown, mouseup, mouseenter, mouseleave, mousemove, contextmenu.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MouseEvent {
    /// Pointer position in the viewport.
    pub client_x: f64,
    /// Pointer position in the viewport.
    pub client_y: f64,
    /// Pointer position relative to the target element.
    pub offset_x: f64,
    /// Pointer position relative to the target element.
    pub offset_y: f64,
    /// The button that changed (0 main, 1 middle, 2 secondary).
    pub button: i64,
    /// Bit mask of the buttons held.
    pub buttons: i64,
    /// Click count.
    pub detail: i64,
    /// Modifier keys.
    pub modifiers: Modifiers,
}

impl EventData for MouseEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        let map = object(args)?;
        Ok(MouseEvent {
            client_x: get_f64(map, "clientX")?,
            client_y: get_f64(map, "clientY")?,
            offset_x: get_f64(map, "offsetX")?,
            offset_y: get_f64(map, "offsetY")?,
            button: get_f64(map, "button")? as i64,
            buttons: get_f64(map, "buttons")? as i64,
            detail: get_f64(map, "detail")? as i64,
            modifiers: Modifiers::decode(map)?,
        })
    }
}

/// keydown, keyup, keypress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyboardEvent {
    /// The key value (`"Enter"`, `"a"`).
    pub key: String,
    /// The physical key code (`"KeyA"`).
    pub code: String,
    /// Whether the key is auto-repeating.
    pub repeat: bool,
    /// Key location (0 standard, 1 left, 2 right, 3 numpad).
    pub location: i64,
    /// Modifier keys.
    pub modifiers: Modifiers,
}

impl EventData for KeyboardEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        let map = object(args)?;
        Ok(KeyboardEvent {
            key: get_string(map, "key")?,
            code: get_string(map, "code")?,
            repeat: get_bool(map, "repeat")?,
            location: get_f64(map, "location")? as i64,
            modifiers: Modifiers::decode(map)?,
        })
    }
}

/// input and change: the element's value after the user's edit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeEvent {
    /// The value (`value` property) of the element.
    pub value: String,
    /// For checkboxes and radios, the `checked` state.
    pub checked: Option<bool>,
    /// For `select multiple`, the selected values.
    pub values: Option<Vec<String>>,
}

impl EventData for ChangeEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        let map = object(args)?;
        let checked = match map.get("checked") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(EventArgsError {
                    field: "checked",
                    expected: "a boolean",
                })
            }
        };
        let values = match map.get("values") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or(EventArgsError {
                            field: "values",
                            expected: "an array of strings",
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(EventArgsError {
                    field: "values",
                    expected: "an array of strings",
                })
            }
        };
        Ok(ChangeEvent {
            value: get_string(map, "value")?,
            checked,
            values,
        })
    }
}

/// One submitted form field: a single value, or several for repeated names and `select multiple`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// One value.
    One(String),
    /// Several values, in document order.
    Many(Vec<String>),
}

impl FieldValue {
    /// The first value.
    pub fn first(&self) -> Option<&str> {
        match self {
            FieldValue::One(v) => Some(v),
            FieldValue::Many(v) => v.first().map(String::as_str),
        }
    }
}

/// submit: the form's fields (files are not sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitEvent {
    /// Fields by name.
    pub fields: BTreeMap<String, FieldValue>,
}

impl SubmitEvent {
    /// The first value of a field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(FieldValue::first)
    }
}

impl EventData for SubmitEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        let map = object(args)?;
        let bad = EventArgsError {
            field: "fields",
            expected: "an object of strings or string arrays",
        };
        let mut fields = BTreeMap::new();
        match map.get("fields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(entries)) => {
                for (name, value) in entries {
                    let value = match value {
                        Value::String(s) => FieldValue::One(s.clone()),
                        Value::Array(items) => FieldValue::Many(
                            items
                                .iter()
                                .map(|v| v.as_str().map(str::to_owned).ok_or(bad.clone()))
                                .collect::<Result<_, _>>()?,
                        ),
                        _ => return Err(bad),
                    };
                    fields.insert(name.clone(), value);
                }
            }
            Some(_) => return Err(bad),
        }
        Ok(SubmitEvent { fields })
    }
}

/// focus and blur (no data).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FocusEvent;

impl EventData for FocusEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        match args {
            Value::Object(_) | Value::Null => Ok(FocusEvent),
            _ => Err(EventArgsError {
                field: "eventArgs",
                expected: "an object",
            }),
        }
    }
}

/// scroll: where the bound element is scrolled to and how much of it is visible (pixels).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScrollEvent {
    /// `scrollTop`: how far the content is scrolled up out of view.
    pub scroll_top: f64,
    /// `clientHeight`: the height of the visible part.
    pub client_height: f64,
    /// `scrollHeight`: the height of all the content.
    pub scroll_height: f64,
    /// When the element has a `t-measure` attribute: the children between its first and last child (the
    /// rows between a virtualized list's two spacers), as their count and their summed height.
    pub measured: Option<(u32, f64)>,
}

impl EventData for ScrollEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        let map = object(args)?;
        let measured = match map.get("measured") {
            None | Some(Value::Null) => None,
            Some(Value::Array(pair)) => match pair.as_slice() {
                [Value::Number(count), Value::Number(height)] => Some((
                    count.as_u64().unwrap_or(0).min(u32::MAX as u64) as u32,
                    height.as_f64().unwrap_or(0.0),
                )),
                _ => {
                    return Err(EventArgsError {
                        field: "measured",
                        expected: "[row count, summed height]",
                    })
                }
            },
            Some(_) => {
                return Err(EventArgsError {
                    field: "measured",
                    expected: "[row count, summed height]",
                })
            }
        };
        Ok(ScrollEvent {
            scroll_top: get_f64(map, "scrollTop")?,
            client_height: get_f64(map, "clientHeight")?,
            scroll_height: get_f64(map, "scrollHeight")?,
            measured,
        })
    }
}
