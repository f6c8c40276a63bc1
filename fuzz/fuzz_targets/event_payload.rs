//! Event payload decoding: the `DispatchEvent` argument array, then the renderer's dispatch of it to a
//! component with a handler for every event kind.
//!
//! Invariants: nothing panics; a dispatch either reaches the handler or is refused with a specific
//! `EventError` (unknown handler, wrong event, invalid arguments), never a failed renderer; the payload the
//! handler receives is what the event's data type decodes from those arguments; the render after it
//! succeeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maud::{html, Markup};
use serde_json::Value;
use tether::fuzzing::decode_event_arguments;
use tether_components::event::EventData;
use tether_components::testing::Harness;
use tether_components::{
    ChangeEvent, Component, EventError, EventKind, FocusEvent, KeyboardEvent, MouseEvent,
    RenderContext, SubmitEvent,
};

#[derive(Default)]
struct AllEvents {
    last: String,
}

impl Component for AllEvents {
    type Props = ();

    fn create(_: &()) -> Self {
        AllEvents::default()
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            form t-submit=(cx.on_submit(|s: &mut Self, e: SubmitEvent| s.last = format!("{e:?}"))) {
                button t-click=(cx.on_click(|s: &mut Self, e: MouseEvent| s.last = format!("{e:?}"))) { "b" }
                input t-input=(cx.on_input(|s: &mut Self, e: ChangeEvent| s.last = format!("{e:?}")))
                    t-keydown=(cx.on_keydown(|s: &mut Self, e: KeyboardEvent| s.last = format!("{e:?}")));
                select t-change=(cx.on_change(|s: &mut Self, e: ChangeEvent| s.last = format!("{e:?}"))) {}
                a t-focus=(cx.on_focus(|s: &mut Self, e: FocusEvent| s.last = format!("{e:?}"))) { "a" }
            }
            p id="last" { (self.last) }
        }
    }
}

fn expected(kind: EventKind, args: &Value) -> String {
    fn debug<T: EventData + std::fmt::Debug>(kind: EventKind, args: &Value) -> String {
        format!(
            "{:?}",
            T::decode(kind, args).expect("dispatch accepted these arguments")
        )
    }
    match kind {
        EventKind::Submit => debug::<SubmitEvent>(kind, args),
        EventKind::Input | EventKind::Change => debug::<ChangeEvent>(kind, args),
        EventKind::KeyDown => debug::<KeyboardEvent>(kind, args),
        EventKind::Focus => debug::<FocusEvent>(kind, args),
        _ => debug::<MouseEvent>(kind, args),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((handler, name, args)) = decode_event_arguments(text) else {
        return;
    };
    let mut harness = Harness::mount::<AllEvents>(());
    match harness.dispatch(handler, &name, args.clone()) {
        Ok(()) => {
            let kind = EventKind::from_name(&name).expect("a dispatched event has a known name");
            let shown = harness.dom().text(harness.find("#last"));
            assert_eq!(shown, expected(kind, &args), "handler saw another payload");
        }
        Err(EventError::Failed(e)) => panic!("a bad event finished the renderer: {e}"),
        Err(EventError::InvalidArgs { error, .. }) => {
            assert!(!error.field.is_empty() && !error.expected.is_empty())
        }
        Err(_) => {}
    }
});
