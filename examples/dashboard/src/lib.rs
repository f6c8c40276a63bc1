//! Run alone with `cargo run -p dashboard`, or see it at `/circuits` in the showcase
//! (`cargo run --release -p showcase`).
//!
//! A live dashboard of the circuits connected to this server, read from the ready-made
//! [`CircuitTracker`] handler. The component waits on the tracker's count (a `tokio::sync::watch`) in a task
//! and updates itself through its [`Handle`](tether_components::Handle): open the page in a second tab and both tabs change.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::{CircuitHandle, CircuitHub, CircuitId, CircuitMetrics, CircuitTracker};
use tether_components::{Component, Context, RenderContext};

/// The name [`Dashboard`] is registered under.
pub const DASHBOARD: &str = "CircuitDashboard";

static TRACKER: OnceLock<Arc<CircuitTracker>> = OnceLock::new();
/// The circuit hub, for its counters: set by the first page request.
static HUB: OnceLock<CircuitHub> = OnceLock::new();

fn tracker() -> &'static Arc<CircuitTracker> {
    TRACKER.get_or_init(|| Arc::new(CircuitTracker::new()))
}

/// The connected circuits, live.
pub struct Dashboard {
    me: Option<CircuitId>,
    count: usize,
    circuits: Vec<CircuitId>,
    metrics: Option<CircuitMetrics>,
    updates: u64,
}

impl Dashboard {
    fn refresh(&mut self) {
        self.count = tracker().count();
        self.circuits = tracker().circuits();
        self.metrics = HUB.get().map(CircuitHub::metrics);
    }
}

impl Component for Dashboard {
    type Props = ();

    fn create(_: &()) -> Self {
        let mut dashboard = Dashboard {
            me: None,
            count: 0,
            circuits: Vec::new(),
            metrics: None,
            updates: 0,
        };
        dashboard.refresh();
        dashboard
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        // Only a live circuit watches; a prerender has no circuit and renders once.
        let Some(circuit) = cx.service::<CircuitHandle>() else {
            return;
        };
        self.me = Some(circuit.id());
        let handle = cx.handle();
        let mut changes = tracker().watch_count();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() && circuit.is_alive() {
                handle.update(|this: &mut Dashboard| {
                    this.refresh();
                    this.updates += 1;
                });
            }
        });
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            div.card {
                span.big #circuit-count { (self.count) }
                " connected " (if self.count == 1 { "circuit" } else { "circuits" })
                span.muted { " · " span #dashboard-updates { (self.updates) } " live updates" }
            }
            @if let Some(m) = &self.metrics {
                p #metrics.muted {
                    "Server counters: " (m.active) " active, " (m.connected) " connected, "
                    (m.disconnected) " disconnected (retained), " (m.ended) " ended, " (m.evicted) " evicted, "
                    (m.rejected_reconnects) " rejected reconnects."
                }
            }
            table #circuits {
                thead { tr { th { "Public circuit id" } th { "" } } }
                tbody {
                    @for id in &self.circuits {
                        tr t-key=(id) {
                            td { code { (id) } }
                            td { @if Some(*id) == self.me { strong { "this tab" } } }
                        }
                    }
                }
            }
        }
    }
}

async fn page(State(hub): State<CircuitHub>) -> Response {
    HUB.get_or_init(|| hub.clone());
    let mut page = hub.page();
    let dashboard = match page.root(DASHBOARD, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Circuits dashboard",
        html! {
            "The " code { "CircuitTracker" } " handler keeps the set of circuits with a browser connected. \
             Open this page in another tab, or close one, and watch the count change here; the counters come \
             from " code { "CircuitHub::metrics" } "."
        },
        dashboard,
        tether_scripts(&hub, "", "{}"),
    ))
}

/// Registers [`Dashboard`] and the shared [`CircuitTracker`]; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<Dashboard>(DASHBOARD);
    server.handlers(|handlers| handlers.shared_arc(tracker().clone()));
    Router::new().route("/", get(page))
}
