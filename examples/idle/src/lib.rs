//! Run alone with `cargo run -p idle`, or see it at `/idle` in the showcase (`cargo run --release -p showcase`).
//!
//! The ready-made [`IdleCircuitHandler`] with a short timeout (`SHOWCASE_IDLE_MS`, default 10,000 ms).
//! When it reports this page's circuit idle, its callback finds the page's component by circuit id and
//! updates it through its [`Handle`], so the page shows when the server marked it idle.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::{CircuitHandle, CircuitHub, CircuitId, IdleCircuitHandler, IdleOptions};
use tether_components::{Component, Context, Handle, RenderContext};
use tokio::time::Instant;

/// The name [`IdleStatus`] is registered under.
pub const IDLE_STATUS: &str = "IdleStatus";

/// The idle timeout: `SHOWCASE_IDLE_MS`, default 10 s.
pub fn idle_timeout() -> Duration {
    let ms = std::env::var("SHOWCASE_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    Duration::from_millis(ms)
}

/// The live idle pages, by circuit: how the idle callback finds the component to update.
static PAGES: LazyLock<Mutex<HashMap<CircuitId, Handle<IdleStatus>>>> =
    LazyLock::new(Default::default);

/// Shows the timeout, a button that counts as activity, and every time the server marked the page idle.
pub struct IdleStatus {
    circuit: Option<CircuitId>,
    started: Instant,
    clicks: u32,
    marks: Vec<Duration>,
}

impl Component for IdleStatus {
    type Props = ();

    fn create(_: &()) -> Self {
        IdleStatus {
            circuit: None,
            started: Instant::now(),
            clicks: 0,
            marks: Vec::new(),
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        if let Some(circuit) = cx.service::<CircuitHandle>() {
            self.circuit = Some(circuit.id());
            PAGES.lock().unwrap().insert(circuit.id(), cx.handle());
        }
    }

    fn dispose(&mut self) {
        if let Some(id) = self.circuit {
            PAGES.lock().unwrap().remove(&id);
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            p { "Timeout: " strong { (idle_timeout().as_millis()) " ms" } " without any message from this tab." }
            div.row {
                button #activity t-click=(cx.on_click(|this: &mut Self, _| this.clicks += 1)) { "Do something" }
                span.muted { "clicked " span #activity-count { (self.clicks) } " times" }
            }
            @if self.marks.is_empty() {
                p #idle-state.muted { "Not idle yet. Wait without clicking." }
            } @else {
                p #idle-state.ok {
                    "The server marked this circuit idle "
                    span #idle-marks { (self.marks.len()) } " time(s)."
                }
                ul #idle-times {
                    @for mark in &self.marks {
                        li { "at " (format!("{:.1}", mark.as_secs_f64())) " s after the page started" }
                    }
                }
                p.muted { "Showing the mark is a render the browser acknowledges, which is activity: the clock starts again." }
            }
        }
    }
}

async fn page(State(hub): State<CircuitHub>) -> Response {
    let mut page = hub.page();
    let status = match page.root(IDLE_STATUS, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Idle circuits",
        html! {
            code { "IdleCircuitHandler" } " notices circuits with no inbound activity (events, acknowledgements, \
             calls) for its timeout, logs the circuit id and calls the application. It can also end them \
             (" code { "close_idle" } "); here it only tells the page."
        },
        status,
        tether_scripts(&hub, "", "{}"),
    ))
}

/// Registers [`IdleStatus`] and the [`IdleCircuitHandler`]; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<IdleStatus>(IDLE_STATUS);
    let idle = IdleCircuitHandler::new(IdleOptions::default().timeout(idle_timeout()), |circuit| {
        if let Some(page) = PAGES.lock().unwrap().get(&circuit.id()) {
            page.update(|this: &mut IdleStatus| this.marks.push(this.started.elapsed()));
        }
    });
    server.handlers(|handlers| handlers.shared(idle));
    Router::new().route("/", get(page))
}
