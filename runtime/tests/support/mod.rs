//! A small test client for the circuit hub: the JSON hub protocol over a real WebSocket
//! (tokio-tungstenite), plus a raw HTTP/1.1 request helper for pages and the disconnect beacon.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const RS: char = '\u{1e}';

/// How long a test waits for something the server must send before failing (never a sleep: a bound).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole response.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .expect("a complete response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// The descriptors of a prerendered page, in page order.
pub fn descriptors(page: &str) -> Vec<String> {
    page.match_indices("<!--t:r:")
        .map(|(at, _)| {
            let start = at + "<!--t:r:".len();
            let end = start + page[start..].find("-->").expect("a closed marker");
            page[start..end].to_owned()
        })
        .collect()
}

/// A message the server sent: an invocation of a client target.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub target: String,
    pub arguments: Vec<Value>,
}

/// A hub connection speaking the JSON protocol over WebSockets (no negotiate).
pub struct HubClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    queued: VecDeque<Value>,
    next_id: u64,
    pub closed: Option<Value>,
}

impl HubClient {
    /// Connects to `ws://addr{path}` and completes the handshake.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        Self::connect_with_cookie(addr, path, None).await
    }

    /// [`HubClient::connect`] with a `Cookie` header on the upgrade request (a signed-in browser).
    pub async fn connect_with_cookie(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("a valid WebSocket URL");
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().expect("a valid cookie header"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        let mut client = Self {
            ws,
            queued: VecDeque::new(),
            next_id: 0,
            closed: None,
        };
        client
            .write(json!({"protocol": "json", "version": 1}))
            .await;
        let handshake = client.read().await.expect("handshake answer");
        assert_eq!(handshake, json!({}), "handshake refused");
        client
    }

    async fn write(&mut self, message: Value) {
        let mut text = message.to_string();
        text.push(RS);
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next message from the server, or `None` when the socket closed.
    async fn read(&mut self) -> Option<Value> {
        loop {
            if let Some(message) = self.queued.pop_front() {
                return Some(message);
            }
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("server message in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    for part in text.as_str().split(RS).filter(|p| !p.is_empty()) {
                        self.queued
                            .push_back(serde_json::from_str(part).expect("JSON hub message"));
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends an invocation without an id (no answer).
    pub async fn send(&mut self, target: &str, arguments: Value) {
        self.write(json!({"type": 1, "target": target, "arguments": arguments}))
            .await;
    }

    /// Invokes `target` and waits for its completion; server invocations that arrive meanwhile are kept for
    /// [`HubClient::next`]. `Err` holds the completion's error.
    pub async fn invoke(&mut self, target: &str, arguments: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.write(
            json!({"type": 1, "invocationId": id, "target": target, "arguments": arguments}),
        )
        .await;
        let mut held = Vec::new();
        let outcome = loop {
            let Some(message) = self.read().await else {
                panic!("connection closed before the completion of {target}")
            };
            if message["type"] == 3 && message["invocationId"] == id.as_str() {
                break match message.get("error") {
                    Some(error) => Err(error.as_str().unwrap_or_default().to_owned()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            held.push(message);
        };
        for message in held.into_iter().rev() {
            self.queued.push_front(message);
        }
        outcome
    }

    /// Sends an invocation whose arguments travel as a client-to-server stream of string chunks.
    pub async fn send_chunked(
        &mut self,
        target: &str,
        arguments: &Value,
        chunk_chars: usize,
        invocation_id: Option<&str>,
    ) {
        let text = arguments.to_string();
        let mut message =
            json!({"type": 1, "target": "Chunked", "arguments": [target], "streamIds": ["s1"]});
        if let Some(id) = invocation_id {
            message["invocationId"] = json!(id);
        }
        self.write(message).await;
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(chunk_chars) {
            let item: String = chunk.iter().collect();
            self.write(json!({"type": 2, "invocationId": "s1", "item": item}))
                .await;
        }
        self.write(json!({"type": 3, "invocationId": "s1"})).await;
    }

    /// Like [`HubClient::send_chunked`] (without an invocation id), with every message in one WebSocket frame.
    pub async fn send_chunked_in_one_frame(
        &mut self,
        target: &str,
        arguments: &Value,
        chunk_chars: usize,
    ) {
        let text = arguments.to_string();
        let chars: Vec<char> = text.chars().collect();
        let mut frame =
            json!({"type": 1, "target": "Chunked", "arguments": [target], "streamIds": ["s1"]})
                .to_string();
        frame.push(RS);
        for chunk in chars.chunks(chunk_chars) {
            let item: String = chunk.iter().collect();
            frame.push_str(&json!({"type": 2, "invocationId": "s1", "item": item}).to_string());
            frame.push(RS);
        }
        frame.push_str(&json!({"type": 3, "invocationId": "s1"}).to_string());
        frame.push(RS);
        self.ws.send(Message::text(frame)).await.expect("send");
    }

    /// How many messages were read from the socket and not yet returned (those that arrived before the
    /// completion of an [`HubClient::invoke`] are kept here).
    pub fn held(&self) -> usize {
        self.queued.len()
    }

    /// The next raw hub message of any type (`None` once the connection closed).
    pub async fn next_raw(&mut self) -> Option<Value> {
        self.read().await
    }

    /// The next server invocation (pings skipped); `None` once the connection closed (the Close message, if
    /// any, is in `closed`).
    pub async fn next(&mut self) -> Option<Invocation> {
        loop {
            let message = self.read().await?;
            match message["type"].as_u64() {
                Some(1) => {
                    return Some(Invocation {
                        target: message["target"].as_str().unwrap_or_default().to_owned(),
                        arguments: message["arguments"].as_array().cloned().unwrap_or_default(),
                    })
                }
                Some(7) => {
                    self.closed = Some(message);
                }
                _ => {}
            }
        }
    }

    /// The next server invocation, which must be of `target`.
    pub async fn expect(&mut self, target: &str) -> Vec<Value> {
        let got = self
            .next()
            .await
            .unwrap_or_else(|| panic!("connection closed while waiting for {target}"));
        assert_eq!(got.target, target, "expected {target}, got {got:?}");
        got.arguments
    }

    /// Waits for the server to end the connection, returning every invocation that came before.
    pub async fn until_closed(&mut self) -> Vec<Invocation> {
        let mut seen = Vec::new();
        while let Some(invocation) = self.next().await {
            seen.push(invocation);
        }
        seen
    }

    /// Drops the socket without a Close message (a network failure as the server sees it).
    pub async fn drop_socket(self) {
        drop(self.ws.into_inner());
    }
}

/// A batch's `[id, batch]` arguments as (id, batch JSON).
pub fn batch(arguments: &[Value]) -> (u64, Value) {
    (
        arguments[0].as_u64().expect("batch id"),
        arguments[1].clone(),
    )
}

/// The value of attribute `attr` on the element whose `id` is `id` in `html`.
pub fn attribute_of(html: &str, id: &str, attr: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_owned())
}

/// The text directly inside the element whose `id` is `id` in `html`.
pub fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].to_owned())
}

// ---------------------------------------------------------------------------------------------------------
// An in-process test server: the circuit hub with a few test components and pages, on a real socket.

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use tether::circuit::{CircuitHub, CircuitHubBuilder, PageRequest, PROTOCOL_VERSION};
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
    let hub = builder.build().expect("valid circuit hub");
    let app = Router::new()
        .route("/counter", get(counter_page))
        .route("/note", get(note_page))
        .route("/params/{id}", get(params_page))
        .route("/loader", get(loader_page))
        .route("/fragile", get(fragile_page))
        .route("/journal", get(journal_page))
        .with_state(hub.clone())
        .merge(hub.router());
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

/// The HTML of the first op 11 (attach) edit of a batch.
pub fn attach_html(batch: &Value) -> String {
    batch
        .as_array()
        .unwrap()
        .iter()
        .find_map(|edit| (edit[0] == 11).then(|| edit[2].as_str().unwrap().to_owned()))
        .unwrap_or_else(|| panic!("no attach edit in {batch}"))
}

/// The text of the first op 8 (set text) edit of a batch.
pub fn text_update(batch: &Value) -> Option<String> {
    batch
        .as_array()?
        .iter()
        .find_map(|edit| (edit[0] == 8).then(|| edit[2].as_str().unwrap_or_default().to_owned()))
}

/// A hub connection over long polling (negotiate, then `POST` to send and `GET` to poll), for showing that
/// circuits do not depend on the transport.
pub struct LongPollClient {
    addr: SocketAddr,
    url: String,
    pending: VecDeque<Value>,
}

impl LongPollClient {
    /// Negotiates, sends the handshake and reads its answer.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let negotiate = http(
            addr,
            "POST",
            &format!("{path}/negotiate?negotiateVersion=1"),
            &[],
            "",
        )
        .await;
        assert_eq!(negotiate.status, 200, "{}", negotiate.body);
        let body: Value = serde_json::from_str(&negotiate.body).expect("negotiate JSON");
        let token = body["connectionToken"]
            .as_str()
            .expect("a connection token")
            .to_owned();
        let mut client = Self {
            addr,
            url: format!("{path}?id={token}"),
            pending: VecDeque::new(),
        };
        // The first poll starts the transport and answers at once.
        let first = http(addr, "GET", &client.url, &[], "").await;
        assert_eq!(first.status, 200, "{}", first.body);
        client.send(json!({"protocol": "json", "version": 1})).await;
        assert_eq!(client.next().await, json!({}), "handshake answer");
        client
    }

    /// Sends one hub message.
    pub async fn send(&mut self, message: Value) {
        let body = format!("{message}{RS}");
        let response = http(
            self.addr,
            "POST",
            &self.url,
            &[("Content-Type", "text/plain")],
            &body,
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }

    /// The next hub message (polling as needed; pings skipped).
    pub async fn next(&mut self) -> Value {
        loop {
            if let Some(message) = self.pending.pop_front() {
                if message["type"] != 6 {
                    return message;
                }
                continue;
            }
            let poll = http(self.addr, "GET", &self.url, &[], "").await;
            assert_eq!(poll.status, 200, "{}", poll.body);
            for part in poll.body.split(RS).filter(|p| !p.is_empty()) {
                self.pending
                    .push_back(serde_json::from_str(part).expect("JSON hub message"));
            }
        }
    }
}
