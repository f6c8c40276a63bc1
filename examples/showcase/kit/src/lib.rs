//! What the Tether examples share (not an example itself): the page [`layout`], the showcase assets, and
//! [`Server`], which runs one example alone or all of them on one circuit hub.
//!
//! Ownership: a [`Server`] collects the component types, services, circuit handlers, server functions and
//! page routes of the examples installed into it, then builds one [`CircuitHub`] and one axum router from
//! them. Components reach their circuit through the runtime's services (`cx.service::<CircuitHandle>()`),
//! and pages answer with `PageRender::respond` (`Cache-Control: no-store`).

use std::future::Future;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use tether::circuit::{CircuitHandle, CircuitHandlers, CircuitHub, CircuitHubBuilder};
use tether_components::ComponentRegistry;

/// The showcase stylesheet, served at [`STYLESHEET_PATH`].
pub const STYLESHEET: &str = include_str!("../../../../assets/showcase.css");
/// Where [`STYLESHEET`] is served.
pub const STYLESHEET_PATH: &str = "/assets/showcase.css";
/// The demo helper script (`showcase.dropConnection()`), served at [`DEMO_SCRIPT_PATH`].
pub const DEMO_SCRIPT: &str = include_str!("../../../../assets/showcase-demo.js");
/// Where [`DEMO_SCRIPT`] is served.
pub const DEMO_SCRIPT_PATH: &str = "/assets/showcase-demo.js";

/// One page of an example: a title, a one-paragraph explanation, the content (prerendered roots and any
/// plain markup) and the script tags (the boot script last). Links the stylesheet and the way back to the
/// index.
pub fn layout(title: &str, intro: Markup, content: Markup, scripts: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tether" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                header.site {
                    a.brand href="/" { "Tether" }
                    span.crumb { (title) }
                }
                main {
                    h1 { (title) }
                    div.intro { (intro) }
                    (content)
                }
                (scripts)
            }
        }
    }
}

/// The page's scripts: the boot script with `autostart="false"`, then `page_script` (it may use the
/// `Tether` API), then `Tether.start(options)`, where `options` is a JavaScript expression (`"{}"` for the
/// defaults). When the circuit is connected, `<html>` gets `data-circuit="open"` (`"failed"` if it could not
/// start): a signal for styles and tests.
pub fn tether_scripts(hub: &CircuitHub, page_script: &str, options: &str) -> Markup {
    let start = format!(
        "Tether.start({options}).then(\
         () => {{ document.documentElement.dataset.circuit = 'open'; }},\
         () => {{ document.documentElement.dataset.circuit = 'failed'; }});"
    );
    html! {
        script src=(hub.boot_script_url()) autostart="false" {}
        @if !page_script.is_empty() { (inline_script(page_script)) }
        (inline_script(&start))
    }
}

/// The demo helper script tag. Load it before the boot script: it watches the page's WebSockets so that
/// `showcase.dropConnection({ offlineMs })` can cut them (a simulated network failure).
pub fn demo_script() -> Markup {
    html! { script src=(DEMO_SCRIPT_PATH) {} }
}

/// Inline script text (trusted, written by the example).
pub fn inline_script(code: &str) -> Markup {
    html! { script { (PreEscaped(code)) } }
}

fn assets() -> Router<CircuitHub> {
    Router::new()
        .route(
            STYLESHEET_PATH,
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    STYLESHEET,
                )
            }),
        )
        .route(
            DEMO_SCRIPT_PATH,
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    DEMO_SCRIPT,
                )
            }),
        )
}

type HubStep = Box<dyn FnOnce(CircuitHubBuilder) -> CircuitHubBuilder>;

/// Collects what the installed examples need and serves them from one circuit hub.
pub struct Server {
    components: ComponentRegistry,
    handlers: CircuitHandlers,
    hub_steps: Vec<HubStep>,
    routes: Router<CircuitHub>,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// An empty server with the showcase assets.
    pub fn new() -> Self {
        Server {
            components: ComponentRegistry::new(),
            handlers: CircuitHandlers::new(),
            hub_steps: Vec::new(),
            routes: assets(),
        }
    }

    /// The component registry, to register root component types.
    pub fn components(&mut self) -> &mut ComponentRegistry {
        &mut self.components
    }

    /// Adds circuit handlers: `add` gets the list so far and returns it with its own.
    pub fn handlers(&mut self, add: impl FnOnce(CircuitHandlers) -> CircuitHandlers) {
        let handlers = std::mem::replace(&mut self.handlers, CircuitHandlers::new());
        self.handlers = add(handlers);
    }

    /// Provides `value` to every component of every circuit (and prerender) as a service: components
    /// read it with `cx.service::<T>()`.
    pub fn service<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.hub_steps.push(Box::new(move |hub| hub.service(value)));
    }

    /// Configures the circuit hub builder further (auth, options): `step` gets the builder and returns it.
    pub fn configure(
        &mut self,
        step: impl FnOnce(CircuitHubBuilder) -> CircuitHubBuilder + 'static,
    ) {
        self.hub_steps.push(Box::new(step));
    }

    /// Registers a server function (`Tether.invokeServer(name, ...args)`).
    pub fn server_function<F, Fut>(&mut self, name: &'static str, function: F)
    where
        F: Fn(CircuitHandle, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        self.hub_steps
            .push(Box::new(move |hub| hub.server_function(name, function)));
    }

    /// Serves `routes` (written relative to the example's root, `/`) under `path` (`/` when alone).
    pub fn mount(&mut self, path: &str, routes: Router<CircuitHub>) {
        let all = std::mem::take(&mut self.routes);
        self.routes = if path == "/" {
            all.merge(routes)
        } else {
            // `/todo/` would resolve the hub (`_tether`, relative) under `/todo/`: send it to `/todo`.
            let canonical = path.to_owned();
            all.nest(path, routes).route(
                &format!("{path}/"),
                get(move || async move { axum::response::Redirect::permanent(&canonical) }),
            )
        };
    }

    /// Serves a route at an absolute path (the showcase index).
    pub fn route(&mut self, path: &str, route: axum::routing::MethodRouter<CircuitHub>) {
        let all = std::mem::take(&mut self.routes);
        self.routes = all.route(path, route);
    }

    /// Builds the circuit hub and the router. Must run inside a Tokio runtime.
    pub fn build(self) -> Result<(CircuitHub, Router), tether::circuit::CircuitHubError> {
        let mut builder = CircuitHub::builder(self.components).handlers(self.handlers);
        for step in self.hub_steps {
            builder = step(builder);
        }
        let hub = builder.build()?;
        let app = self.routes.with_state(hub.clone()).merge(hub.router());
        Ok((hub, app))
    }

    /// Serves on `$ADDR` (default `127.0.0.1:5000`, port 0 picks a free one), printing
    /// `listening on http://HOST:PORT` once bound. Logs go to stderr (`RUST_LOG`, default `info`).
    pub async fn run(self) -> std::io::Result<()> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init();
        let (hub, app) = self.build().map_err(std::io::Error::other)?;
        let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:5000".to_owned());
        let listener = tether::hub::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        // SIGTERM / Ctrl-C: with a circuit store configured, live circuits are persisted for their tabs.
        tether::circuit::serve_until_signal(listener, app, hub).await
    }
}
