//! Run alone with `cargo run -p interop`, or see it at `/interop` in the showcase
//! (`cargo run --release -p showcase`).
//!
//! Calls in both directions. Server to browser: a button's handler calls the browser function
//! `interopDemo.describe` (registered with `Tether.registerFunction`) through the circuit and shows its answer.
//! Browser to server: the page calls the server function `interop.reverse` with `Tether.invokeServer`, which
//! answers and also bumps a counter in the page's component.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::{json, Value};
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::{CircuitHandle, CircuitHub, CircuitId};
use tether_components::{Component, Context, Handle, RenderContext};

/// The name [`InteropDemo`] is registered under.
pub const INTEROP_DEMO: &str = "InteropDemo";

static PAGES: LazyLock<Mutex<HashMap<CircuitId, Handle<InteropDemo>>>> =
    LazyLock::new(Default::default);

/// The page's component: asks the browser, and counts the browser's calls to the server.
pub struct InteropDemo {
    circuit: Option<CircuitHandle>,
    handle: Option<Handle<InteropDemo>>,
    answer: Option<Result<Value, String>>,
    server_calls: u32,
}

impl InteropDemo {
    fn ask_browser(&mut self) {
        let (Some(circuit), Some(handle)) = (self.circuit.clone(), self.handle.clone()) else {
            return;
        };
        self.answer = None;
        handle.spawn(
            async move {
                circuit
                    .call_browser("interopDemo.describe", vec![json!("Hello from the server")])
                    .await
                    .map_err(|e| e.to_string())
            },
            |this: &mut InteropDemo, answer| this.answer = Some(answer),
        );
    }
}

impl Component for InteropDemo {
    type Props = ();

    fn create(_: &()) -> Self {
        InteropDemo {
            circuit: None,
            handle: None,
            answer: None,
            server_calls: 0,
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        if let Some(circuit) = cx.service::<CircuitHandle>() {
            PAGES.lock().unwrap().insert(circuit.id(), cx.handle());
            self.circuit = Some(circuit);
            self.handle = Some(cx.handle());
        }
    }

    fn dispose(&mut self) {
        if let Some(circuit) = &self.circuit {
            PAGES.lock().unwrap().remove(&circuit.id());
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            div.card {
                h2 { "Server → browser" }
                button #ask-browser t-click=(cx.on_click(|this: &mut Self, _| this.ask_browser())) { "Ask the browser" }
                @match &self.answer {
                    None => p.muted { "The server calls " code { "interopDemo.describe" } " and shows what it returns." },
                    Some(Ok(value)) => p #browser-answer.ok { "The browser answered: " code { (value) } },
                    Some(Err(error)) => p #browser-answer.error { "The call failed: " (error) },
                }
            }
            p.muted { "Server functions called from this tab: " span #server-calls { (self.server_calls) } }
        }
    }
}

const PAGE_SCRIPT: &str = r#"
Tether.registerFunction('interopDemo.describe', (greeting) => ({
  greeting,
  reply: 'Hello from the browser',
  language: navigator.language,
  viewport: innerWidth + 'x' + innerHeight,
}));
document.getElementById('call-server').addEventListener('click', async () => {
  const out = document.getElementById('server-answer');
  try {
    out.textContent = 'The server answered: ' + await Tether.invokeServer('interop.reverse', document.getElementById('to-reverse').value);
    out.className = 'ok';
  } catch (error) {
    out.textContent = 'The server call failed: ' + error.message;
    out.className = 'error';
  }
});
"#;

async fn page(State(hub): State<CircuitHub>) -> Response {
    let mut page = hub.page();
    let demo = match page.root(INTEROP_DEMO, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "JS interop",
        html! {
            "A component calls a browser function with " code { "CircuitHandle::call_browser" }
            " and awaits its result; page JavaScript calls a server function with "
            code { "Tether.invokeServer" } "."
        },
        html! {
            (demo)
            div.card {
                h2 { "Browser → server" }
                div.row {
                    input #to-reverse type="text" value="stressed" aria-label="Text to reverse";
                    button #call-server type="button" { "Reverse on the server" }
                }
                p #server-answer.muted { "Calls the server function " code { "interop.reverse" } "." }
            }
        },
        tether_scripts(&hub, PAGE_SCRIPT, "{}"),
    ))
}

/// Registers [`InteropDemo`] and the server function `interop.reverse`; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<InteropDemo>(INTEROP_DEMO);
    server.server_function("interop.reverse", |circuit, args| async move {
        let Some(Value::String(text)) = args.first() else {
            return Err("interop.reverse takes one string".to_owned());
        };
        if let Some(page) = PAGES.lock().unwrap().get(&circuit.id()) {
            page.update(|this: &mut InteropDemo| this.server_calls += 1);
        }
        Ok(Value::String(text.chars().rev().collect()))
    });
    Router::new().route("/", get(page))
}
