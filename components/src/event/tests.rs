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
    let c =
        ChangeEvent::decode(EventKind::Change, &json!({"value": "on", "checked": true})).unwrap();
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
