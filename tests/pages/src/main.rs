//! Test-only pages served with the real circuit hub, for the browser tests in `tests/browser/forms*.test.mjs`.
//! Run with `cargo run -p tether-test-pages`; listens on `$ADDR` (default 127.0.0.1:5000) and prints
//! `listening on http://HOST:PORT` once it accepts connections.
//!
//! Pages (each one root component):
//! - `/echo`: `#field` (a controlled `t-input` whose value is re-rendered from state) and `#upper`, the
//!   text upper-cased.
//! - `/strip`: the same, but the server strips digits from what it stores, so its value wins.
//! - `/rows`: keyed rows `li[data-id]`, each with an uncontrolled input; Ctrl+ArrowUp/Down in a row's input
//!   moves that row, `#reverse` and `#rotate` reorder all rows from the server.
//! - `/nav` (and any path under it): a root component for the navigation tests.
//! - `/remove`: a root component inside `#host`; the plain-JS button `#remove-root` removes `#host`.
//! - `/crash`: `#crash`, whose click handler panics (the circuit ends on an unhandled error); with `?own=1`
//!   the page brings its own hidden `#tether-error-ui`.
//!
//! Test endpoints: `/_test/locations` (the `LocationChanged` URIs the hub received, JSON array, in order),
//! `/_test/metrics` (`CircuitHub::metrics()` as JSON), `/_test/navigate?to=URI&replace=1` (sends
//! `T.Navigate` to every connected circuit; answers how many got it).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::{html, Markup, DOCTYPE};
use parking_lot::Mutex;
use serde::Deserialize;
use tether::circuit::{
    CircuitHandle, CircuitHandler, CircuitHandlers, CircuitHub, CircuitTracker, HandlerError,
    InboundActivity, Next,
};
use tether_components::{ChangeEvent, Component, ComponentRegistry, KeyboardEvent, RenderContext};

/// A controlled field echoed upper-cased.
struct Echo {
    text: String,
}

impl Component for Echo {
    type Props = ();

    fn create(_: &()) -> Self {
        Echo {
            text: String::new(),
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            input #field autocomplete="off" value=(self.text)
                t-input=(cx.on_input(|this: &mut Self, e: ChangeEvent| this.text = e.value));
            p { "Upper: " span #upper { (self.text.to_uppercase()) } }
        }
    }
}

/// A controlled field whose server strips digits: the server's value wins.
struct Strip {
    text: String,
}

impl Component for Strip {
    type Props = ();

    fn create(_: &()) -> Self {
        Strip {
            text: String::new(),
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            input #field autocomplete="off" value=(self.text)
                t-input=(cx.on_input(|this: &mut Self, e: ChangeEvent| {
                    this.text = e.value.chars().filter(|c| !c.is_ascii_digit()).collect();
                }));
            p { "Upper: " span #upper { (self.text.to_uppercase()) } }
        }
    }
}

/// Keyed rows the server reorders.
struct Rows {
    order: Vec<u32>,
}

impl Rows {
    fn shift(&mut self, id: u32, event: &KeyboardEvent) {
        if !event.modifiers.ctrl {
            return;
        }
        let Some(at) = self.order.iter().position(|&r| r == id) else {
            return;
        };
        match event.key.as_str() {
            "ArrowUp" if at > 0 => self.order.swap(at, at - 1),
            "ArrowDown" if at + 1 < self.order.len() => self.order.swap(at, at + 1),
            _ => {}
        }
    }
}

impl Component for Rows {
    type Props = ();

    fn create(_: &()) -> Self {
        Rows {
            order: (1..=5).collect(),
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            button #reverse t-click=(cx.on_click(|this: &mut Self, _| this.order.reverse())) { "Reverse" }
            button #rotate t-click=(cx.on_click(|this: &mut Self, _| this.order.rotate_left(1))) { "Rotate" }
            ul #rows {
                @for &id in &self.order {
                    li t-key=(id) data-id=(id) {
                        label { "Row " (id) " " }
                        input .text autocomplete="off"
                            t-keydown=(cx.on_keydown(move |this: &mut Self, e: KeyboardEvent| this.shift(id, &e)));
                    }
                }
            }
        }
    }
}

/// A plain component for the navigation and root-removal pages.
struct Clicks {
    count: u32,
}

impl Component for Clicks {
    type Props = ();

    fn create(_: &()) -> Self {
        Clicks { count: 0 }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            button #add t-click=(cx.on_click(|this: &mut Self, _| this.count += 1)) { "Add" }
            span #count { (self.count) }
        }
    }
}

/// A button whose handler panics: an unhandled error that ends the circuit (the error bar's test).
struct Crash;

impl Component for Crash {
    type Props = ();

    fn create(_: &()) -> Self {
        Crash
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            button #crash t-click=(cx.on_click(|_: &mut Self, _| panic!("the crash button was pressed"))) { "Crash" }
        }
    }
}

/// Records the URI of every `LocationChanged` the hub receives, in order.
#[derive(Default)]
struct LocationLog {
    uris: Mutex<Vec<String>>,
}

impl CircuitHandler for LocationLog {
    fn on_inbound(
        &self,
        _circuit: &CircuitHandle,
        activity: &InboundActivity<'_>,
        next: Next<'_>,
    ) -> Result<(), HandlerError> {
        if let InboundActivity::LocationChanged { uri } = activity {
            self.uris.lock().push((*uri).to_owned());
        }
        next.run()
    }
}

#[derive(Clone)]
struct App {
    hub: CircuitHub,
    tracker: Arc<CircuitTracker>,
    locations: Arc<LocationLog>,
}

/// A page with one root component `name` and `extra` after it.
fn page(app: &App, title: &str, name: &str, wrap_in_host: bool, extra: Markup) -> Response {
    let mut page = app.hub.page();
    let root = match page.root(name, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } }
            body {
                h1 { (title) }
                @if wrap_in_host { div #host { (root) } } @else { (root) }
                (extra)
                (page.boot_script())
            }
        }
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(body.into_string()),
    )
        .into_response()
}

async fn echo(State(app): State<App>) -> Response {
    page(&app, "Echo", "Echo", false, html! {})
}

async fn strip(State(app): State<App>) -> Response {
    page(&app, "Strip digits", "Strip", false, html! {})
}

async fn rows(State(app): State<App>) -> Response {
    page(&app, "Keyed rows", "Rows", false, html! {})
}

async fn nav(State(app): State<App>) -> Response {
    page(&app, "Navigation", "Clicks", false, html! {})
}

async fn remove(State(app): State<App>) -> Response {
    let extra = html! {
        button #remove-root onclick="document.getElementById('host').remove()" { "Remove the interactive part" }
    };
    page(&app, "Root removal", "Clicks", true, extra)
}

#[derive(Deserialize)]
struct CrashQuery {
    #[serde(default)]
    own: Option<String>,
}

/// `/crash`: the built-in error bar; `/crash?own=1`: the page's own `#tether-error-ui`.
async fn crash(State(app): State<App>, Query(query): Query<CrashQuery>) -> Response {
    let own = html! {
        div #tether-error-ui.own-bar hidden {
            "Something broke: " span.tether-error-message {} " "
            a.reload href="" { "Reload" } " " button.dismiss type="button" { "Hide" }
        }
    };
    page(
        &app,
        "Crash",
        "Crash",
        false,
        if query.own.is_some() {
            own
        } else {
            html! {}
        },
    )
}

async fn locations_seen(State(app): State<App>) -> Json<Vec<String>> {
    Json(app.locations.uris.lock().clone())
}

async fn metrics(State(app): State<App>) -> Json<serde_json::Value> {
    let m = app.hub.metrics();
    Json(serde_json::json!({
        "active": m.active,
        "connected": m.connected,
        "disconnected": m.disconnected,
        "ended": m.ended,
    }))
}

#[derive(Deserialize)]
struct NavigateQuery {
    to: String,
    #[serde(default)]
    replace: Option<String>,
}

async fn navigate(State(app): State<App>, Query(query): Query<NavigateQuery>) -> String {
    let replace = query.replace.as_deref() == Some("1");
    let sent = app
        .tracker
        .handles()
        .iter()
        .filter(|c| c.navigate(&query.to, replace))
        .count();
    format!("{sent}\n")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Logs go to stderr: stdout carries only the `listening on` line that test harnesses wait for.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut components = ComponentRegistry::new();
    components.register::<Echo>("Echo");
    components.register::<Strip>("Strip");
    components.register::<Rows>("Rows");
    components.register::<Clicks>("Clicks");
    components.register::<Crash>("Crash");

    let tracker = Arc::new(CircuitTracker::new());
    let locations = Arc::new(LocationLog::default());
    let handlers = CircuitHandlers::new()
        .shared_arc(tracker.clone())
        .shared_arc(locations.clone());
    let hub = CircuitHub::builder(components)
        .handlers(handlers)
        .build()
        .map_err(std::io::Error::other)?;
    let state = App {
        hub: hub.clone(),
        tracker,
        locations,
    };

    let app = Router::new()
        .route("/echo", get(echo))
        .route("/strip", get(strip))
        .route("/rows", get(rows))
        .route("/nav", get(nav))
        .route("/nav/{*rest}", get(nav))
        .route("/remove", get(remove))
        .route("/crash", get(crash))
        .route("/_test/locations", get(locations_seen))
        .route("/_test/metrics", get(metrics))
        .route("/_test/navigate", get(navigate))
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .with_state(state)
        .merge(hub.router());
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:5000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    tether::hub::serve(listener, app).await
}
