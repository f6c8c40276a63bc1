//! Event dispatch: typed data, stale and forged handler ids, flags, and value recording for inputs.

mod support;

use maud::{html, Markup};
use serde_json::json;
use support::*;
use tether_components::testing::Harness;
use tether_components::{
    Component, EventError, EventKind, FocusEvent, KeyboardEvent, MouseEvent, RenderContext,
};

#[test]
fn click_updates_text_with_one_edit() {
    let mut h = Harness::mount::<Counter>(5);
    assert_eq!(
        h.html(),
        r#"<p id="count">Count: 5</p><button id="increment" t-click="1">+1</button>"#
    );
    h.click("#increment");
    assert_eq!(h.last_batch(), Some(r#"[[8,3,"Count: 6"]]"#));
    h.click("#increment");
    assert!(h.html().contains("Count: 7"));
    // The handler id is stable: no attribute churn across renders.
    assert_eq!(h.dom().attribute(h.find("button"), "t-click"), Some("1"));
}

#[test]
fn stale_and_unknown_handlers_run_nothing() {
    let mut h = Harness::mount::<KeyedList>(rows(&[1, 2]));
    let stale: u64 = h
        .dom()
        .attribute(h.find("li[data-k=2] button"), "t-click")
        .unwrap()
        .parse()
        .unwrap();
    let handlers = h.renderer().handler_count();
    h.click("li[data-k=2] button");
    // The removed row's handler id is gone.
    assert_eq!(h.renderer().handler_count(), handlers - 1);
    let before = h.html();
    let err = h.dispatch(stale, "click", json!({})).unwrap_err();
    assert_eq!(err, EventError::UnknownHandler { handler_id: stale });
    assert_eq!(
        err.to_string(),
        format!("event handler {stale} is not in the latest render (stale or unknown)")
    );
    assert!(matches!(
        h.dispatch(999, "click", json!({})),
        Err(EventError::UnknownHandler { handler_id: 999 })
    ));
    assert!(matches!(
        h.dispatch(u64::MAX, "click", json!({})),
        Err(EventError::UnknownHandler { .. })
    ));
    assert_eq!(h.html(), before);
}

#[test]
fn wrong_event_and_bad_args_are_rejected() {
    let mut h = Harness::mount::<Form>(());
    let input: u64 = h
        .dom()
        .attribute(h.find("#name"), "t-input")
        .unwrap()
        .parse()
        .unwrap();
    assert!(matches!(
        h.dispatch(input, "click", json!({})),
        Err(EventError::WrongEvent {
            bound: EventKind::Input,
            ..
        })
    ));
    let err = h.dispatch(input, "input", json!({"value": 3})).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("event for handler {input}: event argument `value` must be a string")
    );
    assert_eq!(h.dom().value(h.find("#name")).as_deref(), Some(""));
}

struct Everything {
    log: Vec<String>,
    shown: String,
}

impl Component for Everything {
    type Props = ();

    fn create(_: &()) -> Self {
        Everything {
            log: Vec::new(),
            shown: String::new(),
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            div #outer t-click=(cx.on_click(|this: &mut Self, _| this.log.push("outer".into()))) {
                button #inner t-click=(cx.on_click(|this: &mut Self, e: MouseEvent| this.log.push(format!("inner {} {}", e.client_x, e.modifiers.shift)))) { "in" }
                button #stop t-click=(cx.on_click(|this: &mut Self, _| this.log.push("stop".into())).stop_propagation()) { "stop" }
            }
            input #key t-keydown=(cx.on_keydown(|this: &mut Self, e: KeyboardEvent| this.log.push(format!("key {}", e.key))))
                t-focus=(cx.on_focus(|this: &mut Self, _: FocusEvent| this.log.push("focus".into())))
                t-blur=(cx.on_blur(|this: &mut Self, _: FocusEvent| this.log.push("blur".into())));
            input #upper value=(self.shown) t-input=(cx.on_input(|this: &mut Self, e| this.shown = e.value.to_uppercase()));
            p #log { (self.log.join(",")) }
        }
    }
}

#[test]
fn typed_event_data_bubbling_and_flags() {
    let mut h = Harness::mount::<Everything>(());
    assert_eq!(h.dom().attribute(h.find("#stop"), "t-click"), Some("3:s"));
    h.fire("#inner", "click", json!({"clientX": 7, "shiftKey": true}));
    h.click("#stop");
    h.keydown("#key", "Enter");
    h.fire("#key", "focus", json!({}));
    h.fire("#key", "blur", json!({}));
    assert_eq!(
        h.dom().text(h.find("#log")),
        "inner 7 true,outer,stop,key Enter,focus,blur"
    );
}

#[test]
fn typed_value_is_recorded_so_an_equal_render_sends_nothing() {
    let mut h = Harness::mount::<Form>(());
    h.input("#name", "Ann");
    // The server state now equals what the browser shows: nothing to send.
    assert_eq!(h.batches().len(), 1, "{:?}", h.last_batch());
    h.check("#agree", true);
    assert_eq!(h.batches().len(), 1, "{:?}", h.last_batch());
    assert!(h.dom().checked(h.find("#agree")));
    h.submit("form", json!({"name": "Ann"}));
    assert_eq!(h.dom().text(h.find("#result")), "Hello, Ann");

    // A handler that transforms the value makes the server send it back as a property.
    let mut h = Harness::mount::<Everything>(());
    h.input("#upper", "abc");
    assert!(
        h.last_batch().unwrap().contains(r#"[9,"#)
            && h.last_batch().unwrap().contains(r#""value","ABC"]"#)
    );
    assert_eq!(h.dom().value(h.find("#upper")).as_deref(), Some("ABC"));
}

#[test]
fn binding_changes_keep_ids_and_dispose_dropped_ones() {
    let mut h = Harness::mount::<Toggle>(());
    assert_eq!(h.dom().attribute(h.find("#link"), "t-dblclick"), Some("2"));
    h.click("#link");
    assert_eq!(
        h.last_batch(),
        Some(r#"[[6,2,"t-click","1:p"],[7,2,"t-dblclick"],[8,3,"on"]]"#)
    );
    h.click("#link");
    assert_eq!(h.dom().attribute(h.find("#link"), "t-click"), Some("1"));
    assert_eq!(h.dom().attribute(h.find("#link"), "t-dblclick"), Some("3"));
    assert_eq!(h.renderer().handler_count(), 2);
}
