//! An in-process test server: the circuit hub with the test components and their pages, on a real socket;
//! and a started circuit ([`Session`]) as the browser would hold it.

use std::net::SocketAddr;

use serde_json::{json, Value};

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use maud::html;
use tether::circuit::{CircuitHub, CircuitHubBuilder, PageRequest, PROTOCOL_VERSION};

use super::components::*;
use super::{attach_html, attribute_of, batch, descriptors, http, text_of, text_update, HubClient};

async fn counter_page(
    State(hub): State<CircuitHub>,
    request: PageRequest,
) -> axum::response::Response {
    let start = request
        .query("start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut page = hub.page();
    match page.root("Counter", &CounterProps { start }) {
        Ok(counter) => {
            Html(html! { body { (counter) (page.boot_script()) } }.into_string()).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn note_page(
    State(hub): State<CircuitHub>,
    request: PageRequest,
) -> axum::response::Response {
    let size: usize = request
        .query("size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut page = hub.page();
    let counter = page.root("Counter", &CounterProps { start: 0 });
    let note = page.root(
        "Note",
        &NoteProps {
            text: "x".repeat(size),
        },
    );
    match (counter, note) {
        (Ok(counter), Ok(note)) => {
            Html(html! { body { (counter) (note) } }.into_string()).into_response()
        }
        (Err(e), _) | (_, Err(e)) => e.into_response(),
    }
}

async fn journal_page(State(hub): State<CircuitHub>) -> axum::response::Response {
    let mut page = hub.page();
    match page.root("Journal", &JournalProps {}) {
        Ok(root) => Html(html! { body { (root) } }.into_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn fragile_page(State(hub): State<CircuitHub>) -> axum::response::Response {
    let mut page = hub.page();
    match page.root("Fragile", &FragileProps {}) {
        Ok(root) => Html(html! { body { (root) } }.into_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn loader_page(State(hub): State<CircuitHub>) -> axum::response::Response {
    let mut page = hub.page();
    match page.root("Loader", &LoaderProps { delay_ms: 20 }) {
        Ok(loader) => Html(html! { body { (loader) } }.into_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Echoes what [`PageRequest`] saw, one `name=value` per line.
async fn params_page(request: PageRequest) -> String {
    format!(
        "id={:?}\nsort={:?}\npage={:?}\nmissing={:?}\nlanguage={:?}\ntheme={:?}\nsession={:?}\npath={}\n",
        request.param("id"),
        request.query("sort"),
        request.query("page"),
        request.query("missing"),
        request.header("accept-language"),
        request.cookie("theme"),
        request.cookie("session"),
        request.uri().path(),
    )
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: CircuitHub,
}

/// Serves `builder`'s hub with the pages `/counter?start=N` and `/note?size=N` (a counter and a note).
pub async fn serve(builder: CircuitHubBuilder) -> TestServer {
    let pages = Router::new()
        .route("/counter", get(counter_page))
        .route("/note", get(note_page))
        .route("/params/{id}", get(params_page))
        .route("/loader", get(loader_page))
        .route("/fragile", get(fragile_page))
        .route("/journal", get(journal_page));
    serve_pages(builder, pages).await
}

/// Serves `builder`'s hub and a test file's own `pages` (handlers get the hub as their state) on a
/// loopback port.
pub async fn serve_pages(builder: CircuitHubBuilder, pages: Router<CircuitHub>) -> TestServer {
    let hub = builder.build().expect("valid circuit hub");
    let app = pages.with_state(hub.clone()).merge(hub.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, app));
    TestServer { addr, hub }
}

/// A started circuit as the browser would hold it.
pub struct Session {
    pub client: HubClient,
    pub secret: String,
    /// The handler id of `#increment`, from the attach batch.
    pub increment: u64,
    /// The handler id of `#boom`.
    pub boom: u64,
    /// The id of the last batch received.
    pub last_batch: u64,
}

impl TestServer {
    /// Fetches a page and returns its descriptors.
    pub async fn page_descriptors(&self, path: &str) -> Vec<String> {
        let page = http(self.addr, "GET", path, &[], "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        descriptors(&page.body)
    }

    /// Connects a hub client and invokes `StartCircuit` for `descriptors` on page `path` (after the
    /// base URI, `""` for the base itself); the client and the answer (the secret, or the error text).
    pub async fn start_circuit(
        &self,
        path: &str,
        descriptors: &[String],
    ) -> (HubClient, Result<Value, String>) {
        let mut client = HubClient::connect(self.addr, self.hub.path()).await;
        let base = format!("http://{}/", self.addr);
        let answer = client
            .invoke(
                "StartCircuit",
                json!([PROTOCOL_VERSION, base, format!("{base}{path}"), descriptors]),
            )
            .await;
        (client, answer)
    }

    /// [`TestServer::start_circuit`] on the base URI, which must succeed; the client and the first
    /// batch (the attach batch, not acked).
    pub async fn attach(&self, descriptors: &[String]) -> (HubClient, Value) {
        let (mut client, answer) = self.start_circuit("", descriptors).await;
        answer.expect("the circuit starts");
        let (_, first) = batch(&client.expect("T.Batch").await);
        (client, first)
    }

    /// Sends the disconnect beacon the boot script sends when the page goes away (the browser ends the
    /// circuit); the response status.
    pub async fn end_by_beacon(&self, secret: &str) -> u16 {
        let body = format!("secret={secret}");
        let content_type = [("Content-Type", "application/x-www-form-urlencoded")];
        http(
            self.addr,
            "POST",
            "/_tether/disconnect",
            &content_type,
            &body,
        )
        .await
        .status
    }

    /// Loads `/counter?start=N`, connects, starts the circuit and reads the attach batch (not acked).
    pub async fn start_counter(&self, start: i64) -> Session {
        let descriptors = self
            .page_descriptors(&format!("/counter?start={start}"))
            .await;
        let (mut client, secret) = self.start_circuit("counter", &descriptors).await;
        let secret = secret.expect("the circuit starts");
        let (id, batch) = batch(&client.expect("T.Batch").await);
        assert_eq!(id, 1);
        let html = attach_html(&batch);
        assert_eq!(
            text_of(&html, "count").as_deref(),
            Some(start.to_string().as_str())
        );
        let handler = |name| {
            attribute_of(&html, name, "t-click")
                .and_then(|v| v.parse().ok())
                .expect("handler id")
        };
        Session {
            client,
            secret: secret.as_str().expect("secret string").to_owned(),
            increment: handler("increment"),
            boom: handler("boom"),
            last_batch: 1,
        }
    }
}

impl Session {
    /// Acknowledges batch `id`.
    pub async fn ack(&mut self, id: u64) {
        self.client
            .send("OnRenderCompleted", json!([id, null]))
            .await;
    }

    /// Clicks `#increment` and returns the next batch (id, new count text).
    pub async fn click(&mut self) -> (u64, String) {
        self.client
            .send("DispatchEvent", json!([self.increment, "click", {}]))
            .await;
        self.next_count().await
    }

    /// The next batch, which must update the count: (id, new count text).
    pub async fn next_count(&mut self) -> (u64, String) {
        let (id, batch) = batch(&self.client.expect("T.Batch").await);
        self.last_batch = id;
        (id, text_update(&batch).expect("a text update"))
    }
}
