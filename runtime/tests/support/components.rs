//! The test components the circuit hub serves: a counter, a note, a loader, a component that fails on
//! demand and a journal of events.

use std::time::Duration;

use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use tether_components::{Component, ComponentRegistry, RenderContext};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterProps {
    pub start: i64,
}

/// `#count` shows the number; `#increment` adds one; `#boom` panics. Persisted (when the hub has a store).
#[derive(Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

impl Component for Counter {
    type Props = CounterProps;

    fn create(props: &CounterProps) -> Self {
        Counter { count: props.start }
    }

    fn persistence() -> Option<tether_components::Persistence<Self>> {
        tether_components::Persistence::serde()
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            p { "Count: " span #count { (self.count) } }
            button #increment t-click=(cx.on_click(|c, _| c.count += 1)) { "Add one" }
            button #boom t-click=(cx.on_click(|_, _| panic!("the boom button"))) { "Boom" }
        }
    }
}

/// A component whose props can be made large (to exceed the hub message limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteProps {
    pub text: String,
}

pub struct Note {
    text: String,
}

impl Component for Note {
    type Props = NoteProps;

    fn create(props: &NoteProps) -> Self {
        Note {
            text: props.text.clone(),
        }
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { p #note { (self.text.len()) } }
    }
}

/// Shows `loading` until async work started in `init` finishes, then `loaded after N ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderProps {
    pub delay_ms: u64,
}

pub struct Loader {
    status: String,
}

impl Component for Loader {
    type Props = LoaderProps;

    fn create(_props: &LoaderProps) -> Self {
        Loader {
            status: "loading".into(),
        }
    }

    fn init(&mut self, cx: &mut tether_components::Context<'_, Self>) {
        let delay = cx.props().delay_ms;
        cx.spawn(
            tokio::time::sleep(Duration::from_millis(delay)),
            move |loader, ()| {
                loader.status = format!("loaded after {delay} ms");
            },
        );
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { p #status { (self.status) } }
    }
}

/// When set, creating a `Fragile` panics (so a page can be prerendered and its circuit then fail to start).
pub static FRAGILE_FAILS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FragileProps {}

pub struct Fragile;

impl Component for Fragile {
    type Props = FragileProps;

    fn create(_props: &FragileProps) -> Self {
        if FRAGILE_FAILS.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("fragile component refused to start");
        }
        Fragile
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { p { "fragile" } }
    }
}

/// `#text` records what is typed; `#commit` appends it to `#log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalProps {}

pub struct Journal {
    text: String,
    log: String,
}

impl Component for Journal {
    type Props = JournalProps;

    fn create(_props: &JournalProps) -> Self {
        Journal {
            text: String::new(),
            log: String::new(),
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            input #text t-input=(cx.on_input(|j, e| j.text = e.value));
            button #commit t-click=(cx.on_click(|j, _| { let text = j.text.clone(); j.log.push_str(&text); })) { "Commit" }
            p #log { (self.log.len()) }
        }
    }
}

pub fn components() -> ComponentRegistry {
    let mut components = ComponentRegistry::new();
    components.register::<Journal>("Journal");
    components.register::<Fragile>("Fragile");
    components.register::<Loader>("Loader");
    components.register::<Counter>("Counter");
    components.register::<Note>("Note");
    components
}
