//! The counter example as a library: the [`Counter`] component, [`register`] to add it to a
//! [`ComponentRegistry`], and [`routes`] with its page at `/`. `src/main.rs` runs it alone
//! (`cargo run -p counter`); the showcase mounts the same component at `/counter`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::{Deserialize, Serialize};
use tether::circuit::{CircuitHub, PageRequest};
use tether_components::{Component, ComponentRegistry, Persistence, RenderContext};

/// The name the counter is registered under.
pub const COUNTER: &str = "Counter";

/// The counter's props: where it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterProps {
    /// The first number shown.
    pub start: i64,
}

impl CounterProps {
    /// Props from the page request: `?start=N`, else 0.
    pub fn from_request(request: &PageRequest) -> Self {
        let start = request
            .query("start")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        CounterProps { start }
    }
}

/// A number (`#count`) and a button (`#increment`) that adds one. Its count is persisted: it survives a
/// server restart or an eviction and comes back when the tab resumes (docs/persistence.md).
#[derive(Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

impl Component for Counter {
    type Props = CounterProps;

    fn create(props: &CounterProps) -> Self {
        Counter { count: props.start }
    }

    fn persistence() -> Option<Persistence<Self>> {
        Persistence::serde()
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            p { "Count: " span #count { (self.count) } }
            button #increment t-click=(cx.on_click(|counter, _| counter.count += 1)) { "Add one" }
        }
    }
}

/// Registers [`Counter`] under [`COUNTER`].
pub fn register(components: &mut ComponentRegistry) {
    components.register::<Counter>(COUNTER);
}

/// The counter page: [`Counter`] prerendered with [`CounterProps::from_request`], and the boot script.
pub async fn page(State(hub): State<CircuitHub>, request: PageRequest) -> Response {
    let mut page = hub.page();
    let counter = match page.root(COUNTER, &CounterProps::from_request(&request)) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    // `/?pause_hidden_ms=N`: the page starts the boot script itself, asking it to pause the circuit once
    // the tab has been hidden N ms (it resumes when shown again); see docs/persistence.md.
    let pause_hidden_ms: Option<u64> = request
        .query("pause_hidden_ms")
        .and_then(|v| v.parse().ok());
    let script = match pause_hidden_ms {
        None => page.boot_script(),
        Some(ms) => PreEscaped(format!(
            "<script src=\"{}\" autostart=\"false\"></script>\
             <script>Tether.start({{ pauseWhenHiddenMs: {ms} }});</script>",
            hub.boot_script_url()
        )),
    };
    // `respond` sends `Cache-Control: no-store`: the page's descriptors are single-use, so back/forward
    // must not show a cached copy.
    page.respond(html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Tether counter" } }
            body {
                h1 { "Counter" }
                (counter)
                (script)
            }
        }
    })
}

/// The counter page at `/` (`/?start=N` starts at N), to serve with the circuit hub as state.
pub fn routes() -> Router<CircuitHub> {
    Router::new().route("/", get(page))
}
