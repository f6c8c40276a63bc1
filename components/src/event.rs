//! Typed event data, decoded from the `eventArgs` JSON of `DispatchEvent` (docs/protocol.md section 7).
//!
//! Every event name the client may bind is an [`EventKind`]; each kind decodes into one payload type. Missing
//! optional fields take their zero value (the browser omits nothing, but hand-written test input may), while a
//! field of the wrong JSON type is an [`EventArgsError`], so malformed client input is always answered.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// The events a `t-<event>` attribute may bind, in the protocol's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `click`
    Click,
    /// `dblclick`
    DblClick,
    /// `mousedown`
    MouseDown,
    /// `mouseup`
    MouseUp,
    /// `mouseenter`
    MouseEnter,
    /// `mouseleave`
    MouseLeave,
    /// `mousemove`
    MouseMove,
    /// `contextmenu`
    ContextMenu,
    /// `input`
    Input,
    /// `change`
    Change,
    /// `submit`
    Submit,
    /// `keydown`
    KeyDown,
    /// `keyup`
    KeyUp,
    /// `keypress`
    KeyPress,
    /// `focus`
    Focus,
    /// `blur`
    Blur,
    /// `scroll` of the bound element (reported throttled; see [`ScrollEvent`])
    Scroll,
    /// `upload`: files chosen in a file input or dropped on a drop zone, reported by the upload module
    /// (see [`crate::upload`])
    Upload,
}

impl EventKind {
    /// The DOM event name (`click`, `input`, …), also the suffix of the `t-` attribute.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Click => "click",
            EventKind::DblClick => "dblclick",
            EventKind::MouseDown => "mousedown",
            EventKind::MouseUp => "mouseup",
            EventKind::MouseEnter => "mouseenter",
            EventKind::MouseLeave => "mouseleave",
            EventKind::MouseMove => "mousemove",
            EventKind::ContextMenu => "contextmenu",
            EventKind::Input => "input",
            EventKind::Change => "change",
            EventKind::Submit => "submit",
            EventKind::KeyDown => "keydown",
            EventKind::KeyUp => "keyup",
            EventKind::KeyPress => "keypress",
            EventKind::Focus => "focus",
            EventKind::Blur => "blur",
            EventKind::Scroll => "scroll",
            EventKind::Upload => "upload",
        }
    }

    /// The kind for a DOM event name, if it is one the protocol binds.
    pub fn from_name(name: &str) -> Option<EventKind> {
        Some(match name {
            "click" => EventKind::Click,
            "dblclick" => EventKind::DblClick,
            "mousedown" => EventKind::MouseDown,
            "mouseup" => EventKind::MouseUp,
            "mouseenter" => EventKind::MouseEnter,
            "mouseleave" => EventKind::MouseLeave,
            "mousemove" => EventKind::MouseMove,
            "contextmenu" => EventKind::ContextMenu,
            "input" => EventKind::Input,
            "change" => EventKind::Change,
            "submit" => EventKind::Submit,
            "keydown" => EventKind::KeyDown,
            "keyup" => EventKind::KeyUp,
            "keypress" => EventKind::KeyPress,
            "focus" => EventKind::Focus,
            "blur" => EventKind::Blur,
            "scroll" => EventKind::Scroll,
            "upload" => EventKind::Upload,
            _ => return None,
        })
    }

    /// The `t-<event>` attribute name.
    pub fn attribute(self) -> &'static str {
        match self {
            EventKind::Click => "t-click",
            EventKind::DblClick => "t-dblclick",
            EventKind::MouseDown => "t-mousedown",
            EventKind::MouseUp => "t-mouseup",
            EventKind::MouseEnter => "t-mouseenter",
            EventKind::MouseLeave => "t-mouseleave",
            EventKind::MouseMove => "t-mousemove",
            EventKind::ContextMenu => "t-contextmenu",
            EventKind::Input => "t-input",
            EventKind::Change => "t-change",
            EventKind::Submit => "t-submit",
            EventKind::KeyDown => "t-keydown",
            EventKind::KeyUp => "t-keyup",
            EventKind::KeyPress => "t-keypress",
            EventKind::Focus => "t-focus",
            EventKind::Blur => "t-blur",
            EventKind::Scroll => "t-scroll",
            EventKind::Upload => "t-upload",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `eventArgs` that do not have the shape docs/protocol.md section 7 gives for the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventArgsError {
    /// Which field (or `eventArgs` itself) was wrong.
    pub field: &'static str,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for EventArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event argument `{}` must be {}",
            self.field, self.expected
        )
    }
}

impl std::error::Error for EventArgsError {}

/// An event's arguments on their way to a handler: the client's JSON, and for `input` and `change` the
/// [`ChangeEvent`] the renderer already decoded to record the field's value. A handler that takes a
/// `ChangeEvent` gets that one rather than decoding the JSON again.
pub(crate) struct EventInput<'a> {
    pub(crate) args: &'a Value,
    pub(crate) change: Option<ChangeEvent>,
}

impl EventInput<'_> {
    /// The handler's event data: the decoded change when it is what the handler takes, else from the JSON.
    pub(crate) fn decode<E: EventData>(&mut self, kind: EventKind) -> Result<E, EventArgsError> {
        let decoded = (&mut self.change as &mut dyn std::any::Any)
            .downcast_mut::<Option<E>>()
            .and_then(Option::take);
        match decoded {
            Some(data) => Ok(data),
            None => E::decode(kind, self.args),
        }
    }
}

/// Event data a handler can receive: decoded from the JSON `eventArgs` of its event kind.
pub trait EventData: Sized + 'static {
    /// Decodes the payload. `kind` is the bound event (one payload type serves several kinds).
    fn decode(kind: EventKind, args: &Value) -> Result<Self, EventArgsError>;
}

fn object(args: &Value) -> Result<&serde_json::Map<String, Value>, EventArgsError> {
    match args {
        Value::Object(map) => Ok(map),
        _ => Err(EventArgsError {
            field: "eventArgs",
            expected: "an object",
        }),
    }
}

fn get_f64(
    map: &serde_json::Map<String, Value>,
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

fn get_bool(
    map: &serde_json::Map<String, Value>,
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

fn get_string(
    map: &serde_json::Map<String, Value>,
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

/// The raw JSON arguments, for handlers that want them undecoded.
impl EventData for Value {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        Ok(args.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL_KINDS: [EventKind; 18] = [
        EventKind::Click,
        EventKind::DblClick,
        EventKind::MouseDown,
        EventKind::MouseUp,
        EventKind::MouseEnter,
        EventKind::MouseLeave,
        EventKind::MouseMove,
        EventKind::ContextMenu,
        EventKind::Input,
        EventKind::Change,
        EventKind::Submit,
        EventKind::KeyDown,
        EventKind::KeyUp,
        EventKind::KeyPress,
        EventKind::Focus,
        EventKind::Blur,
        EventKind::Scroll,
        EventKind::Upload,
    ];

    #[test]
    fn names_round_trip() {
        for kind in ALL_KINDS {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.attribute(), format!("t-{}", kind.name()));
        }
        assert_eq!(EventKind::from_name("wheel"), None);
    }

    #[test]
    fn a_change_decoded_for_recording_is_not_decoded_again() {
        let args = json!({"value": "from the JSON"});
        let decoded = ChangeEvent::decode(EventKind::Input, &json!({"value": "decoded"})).unwrap();
        let mut event = EventInput {
            args: &args,
            change: Some(decoded),
        };
        let change: ChangeEvent = event.decode(EventKind::Input).unwrap();
        assert_eq!(change.value, "decoded");
        // Taken once; other event types decode from the JSON.
        let again: ChangeEvent = event.decode(EventKind::Input).unwrap();
        assert_eq!(again.value, "from the JSON");
    }

    #[test]
    fn decodes_protocol_shapes() {
        let m = MouseEvent::decode(
            EventKind::Click,
            &json!({"clientX": 3, "clientY": 4.5, "button": 2, "detail": 1, "shiftKey": true}),
        )
        .unwrap();
        assert_eq!((m.client_x, m.client_y, m.button), (3.0, 4.5, 2));
        assert!(m.modifiers.shift && !m.modifiers.ctrl);
        let k = KeyboardEvent::decode(
            EventKind::KeyDown,
            &json!({"key": "Enter", "code": "Enter"}),
        )
        .unwrap();
        assert_eq!(k.key, "Enter");
        let c = ChangeEvent::decode(EventKind::Change, &json!({"value": "on", "checked": true}))
            .unwrap();
        assert_eq!(c.checked, Some(true));
        let s = SubmitEvent::decode(
            EventKind::Submit,
            &json!({"fields": {"name": "Ann", "tags": ["a", "b"]}}),
        )
        .unwrap();
        assert_eq!(s.field("name"), Some("Ann"));
        assert_eq!(s.field("tags"), Some("a"));
        let scroll = ScrollEvent::decode(
            EventKind::Scroll,
            &json!({"scrollTop": 120.5, "clientHeight": 400, "scrollHeight": 9000, "measured": [20, 480]}),
        )
        .unwrap();
        assert_eq!(scroll.scroll_top, 120.5);
        assert_eq!(scroll.measured, Some((20, 480.0)));
        assert!(ScrollEvent::decode(EventKind::Scroll, &json!({"measured": [1]})).is_err());
    }

    #[test]
    fn rejects_wrong_types() {
        let e = ChangeEvent::decode(EventKind::Input, &json!({"value": 5})).unwrap_err();
        assert_eq!(e.to_string(), "event argument `value` must be a string");
        assert!(MouseEvent::decode(EventKind::Click, &json!([1])).is_err());
        assert!(SubmitEvent::decode(EventKind::Submit, &json!({"fields": {"a": 1}})).is_err());
    }
}
