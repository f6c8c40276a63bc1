//! The showcase as a library: [`showcase`] installs every example into one [`Server`] (one circuit hub,
//! one component registry), each under its own path, with the index at `/`. `src/main.rs` runs it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::{CircuitHub, PageRequest};

/// Every example: its path, its title and one line about it.
pub const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "/counter",
        "Counter",
        "The smallest component: a number and a button.",
    ),
    (
        "/todo",
        "Todo",
        "A keyed list: add, edit, toggle, remove, reorder, with form validation.",
    ),
    (
        "/chat",
        "Chat",
        "Server components sharing a broadcast channel: two tabs talk live.",
    ),
    (
        "/circuits",
        "Circuits dashboard",
        "The live count and list of connected circuits (CircuitTracker).",
    ),
    (
        "/idle",
        "Idle circuits",
        "IdleCircuitHandler with a short timeout; the page shows when it was marked idle.",
    ),
    (
        "/reconnect-ui",
        "Custom reconnect UI",
        "Your own components-reconnect-modal with attempt and countdown slots.",
    ),
    (
        "/auto-reload",
        "Auto-reload",
        "A custom reconnectionHandler that retries a few times, then reloads.",
    ),
    (
        "/interop",
        "JS interop",
        "The server calls a browser function; the browser calls a server function.",
    ),
    (
        "/notes-app/notes",
        "Notes",
        "A multi-page app in one circuit: router, layouts, live links, a validated form, signed-in users.",
    ),
    (
        "/large-input",
        "Large input",
        "Text far over the 32 KB message limit, sent in chunks.",
    ),
];

async fn index() -> Response {
    tether::circuit::page_response(layout(
        "Showcase",
        html! {
            "Tether keeps each tab's UI state on the server: the page is prerendered, then a hub connection \
             carries events up and render batches down. Every example below is also a crate of its own \
             under " code { "examples/" } "."
        },
        html! {
            ul.examples {
                @for (path, title, line) in EXAMPLES {
                    li { a href=(path) { (title) } " — " span.muted { (line) } }
                }
            }
        },
        html! {},
    ).into_string())
}

async fn counter_page(State(hub): State<CircuitHub>, request: PageRequest) -> Response {
    let mut page = hub.page();
    let props = counter::CounterProps::from_request(&request);
    let counter = match page.root(counter::COUNTER, &props) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Counter",
        html! {
            "A component is plain Rust state and a maud " code { "render" } ". The click runs on the server; \
             the browser gets a one-edit render batch. " code { "?start=N" } " starts at N."
        },
        counter,
        tether_scripts(&hub, "", "{}"),
    ))
}

/// Every example installed into one server, plus the index at `/`.
pub fn showcase() -> Server {
    let mut server = Server::new();
    counter::register(server.components());
    server.mount(
        "/counter",
        axum::Router::new().route("/", get(counter_page)),
    );
    let routes = todo::install(&mut server);
    server.mount("/todo", routes);
    let routes = chat::install(&mut server);
    server.mount("/chat", routes);
    let routes = dashboard::install(&mut server);
    server.mount("/circuits", routes);
    let routes = idle::install(&mut server);
    server.mount("/idle", routes);
    let routes = reconnect_ui::install(&mut server);
    server.mount("/reconnect-ui", routes);
    let routes = auto_reload::install(&mut server);
    server.mount("/auto-reload", routes);
    let routes = interop::install(&mut server);
    server.mount("/interop", routes);
    let routes = notes::install(&mut server, "/notes-app");
    server.mount("/notes-app", routes);
    let routes = large_input::install(&mut server);
    server.mount("/large-input", routes);
    server.route("/", get(index));
    server
}
