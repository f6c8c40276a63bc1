//! Uploads and downloads over real sockets: the server pulls chunks with at most a window in flight, the
//! connection stays free for events meanwhile, oversize files are refused before any read, and download links
//! answer over HTTP only while their circuit lives.

mod support;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use maud::{html, Markup};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{attach_html, attribute_of, batch, descriptors, http, HubClient};
use tether::circuit::{CircuitHub, PROTOCOL_VERSION};
use tether::download::{CircuitDownloads, Download};
use tether_components::upload::{UploadEvent, UploadSource, UploadSpec, WINDOW};
use tether_components::{Component, ComponentRegistry, Context, RenderContext};

/// A file input whose uploads are hashed, a counter to poke, and a download link.
struct Uploader {
    status: String,
    clicks: u32,
    link: Option<String>,
    source: Option<UploadSource>,
}

impl Uploader {
    fn chosen(&mut self, event: UploadEvent, handle: tether_components::Handle<Self>) {
        let Some(source) = self.source.clone() else {
            return;
        };
        if let Err(refusal) = UploadSpec::new().max_size(1_000_000).check(&event.files) {
            for file in event.files {
                source.file(file).cancel();
            }
            self.status = format!("refused: {refusal}");
            return;
        }
        let mut stream = source.file(event.files[0].clone()).stream();
        self.status = "uploading".to_owned();
        handle.spawn(
            async move {
                let mut hash = Sha256::new();
                while let Some(chunk) = stream.next_chunk().await {
                    hash.update(chunk.map_err(|e| e.to_string())?);
                }
                let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
                Ok::<_, String>((stream.received(), hex))
            },
            |this: &mut Self, result| {
                this.status = match result {
                    Ok((bytes, hex)) => format!("done {bytes} {hex}"),
                    Err(error) => format!("error: {error}"),
                }
            },
        );
    }
}

impl Component for Uploader {
    type Props = ();
    fn create(_: &()) -> Self {
        Uploader {
            status: "idle".to_owned(),
            clicks: 0,
            link: None,
            source: None,
        }
    }
    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.source = cx.service();
        self.link = cx
            .service::<CircuitDownloads>()
            .map(|d| d.offer(Download::bytes("hello wörld.txt", "text/plain", "hello")));
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let handle = cx.handle();
        let chosen = cx.on_upload(move |this: &mut Self, event| this.chosen(event, handle.clone()));
        let poke = cx.on_click(|this: &mut Self, _| this.clicks += 1);
        html! {
            input #file type="file" t-upload=(chosen);
            p #status { (self.status) }
            button #poke t-click=(poke) { "clicks " (self.clicks) }
            @if let Some(link) = &self.link { a #link href=(link) { "hello" } }
        }
    }
}

async fn page(State(hub): State<CircuitHub>) -> axum::response::Response {
    let mut page = hub.page();
    match page.root("Uploader", &()) {
        Ok(root) => Html(html! { body { (root) } }.into_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

struct Session {
    client: HubClient,
    secret: String,
    upload: u64,
    poke: u64,
    link: String,
}

async fn start() -> (std::net::SocketAddr, Session) {
    let mut components = ComponentRegistry::new();
    components.register::<Uploader>("Uploader");
    let hub = CircuitHub::builder(components).build().expect("hub");
    let app = Router::new()
        .route("/up", get(page))
        .with_state(hub.clone())
        .merge(hub.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, app));

    let body = http(addr, "GET", "/up", &[], "").await.body;
    let mut client = HubClient::connect(addr, hub.path()).await;
    let base = format!("http://{addr}/");
    let secret = client
        .invoke(
            "StartCircuit",
            json!([
                PROTOCOL_VERSION,
                base,
                format!("{base}up"),
                descriptors(&body)
            ]),
        )
        .await
        .expect("the circuit starts");
    let (id, attach) = batch(&client.expect("T.Batch").await);
    client.send("OnRenderCompleted", json!([id, null])).await;
    let html = attach_html(&attach);
    let number = |id, attr| {
        attribute_of(&html, id, attr)
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let session = Session {
        secret: secret.as_str().unwrap().to_owned(),
        upload: number("file", "t-upload"),
        poke: number("poke", "t-click"),
        link: attribute_of(&html, "link", "href").expect("a download link"),
        client,
    };
    (addr, session)
}

/// The next message that is not a batch (batches are acknowledged and collected into `batches`).
async fn next_call(client: &mut HubClient, batches: &mut Vec<String>) -> Vec<Value> {
    loop {
        let message = client.next().await.expect("connection open");
        if message.target == "T.Batch" {
            let (id, body) = batch(&message.arguments);
            client.send("OnRenderCompleted", json!([id, null])).await;
            batches.push(body.to_string());
            continue;
        }
        assert_eq!(message.target, "T.InvokeJS", "{message:?}");
        return message.arguments;
    }
}

#[tokio::test]
async fn the_server_pulls_chunks_with_a_bounded_window_and_the_connection_stays_free() {
    let (_, mut s) = start().await;
    let file: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let chosen = json!({"files": [{"id": 7, "name": "a.bin", "size": file.len(), "type": ""}]});
    s.client
        .send("DispatchEvent", json!([s.upload, "upload", chosen]))
        .await;
    let mut batches = Vec::new();
    let mut pending = std::collections::VecDeque::new();
    while pending.len() < WINDOW {
        let call = next_call(&mut s.client, &mut batches).await;
        assert_eq!(call[1], "tether.upload.read");
        pending.push_back(call);
    }
    // With the window full and nothing answered, an event goes through and its batch comes back before any
    // further read: the server is waiting for chunks, not sending more requests.
    s.client
        .send("DispatchEvent", json!([s.poke, "click", {}]))
        .await;
    loop {
        let message = s.client.next().await.unwrap();
        assert_eq!(message.target, "T.Batch", "no fifth read: {message:?}");
        let (id, body) = batch(&message.arguments);
        s.client.send("OnRenderCompleted", json!([id, null])).await;
        if body.to_string().contains("clicks 1") {
            break;
        }
    }
    // Answer in order; each answer may open room for one more read, never more than the window.
    let mut reads = WINDOW;
    let mut expected_offset = 0u64;
    let read_end = |call: &Vec<Value>| {
        let args = call[2].as_array().unwrap();
        args[1].as_u64().unwrap() + args[2].as_u64().unwrap()
    };
    let mut requested = read_end(pending.back().unwrap());
    while let Some(call) = pending.pop_front() {
        let args = call[2].as_array().unwrap();
        let (offset, len) = (args[1].as_u64().unwrap(), args[2].as_u64().unwrap());
        assert_eq!((args[0].as_u64(), offset), (Some(7), expected_offset));
        expected_offset += len;
        let chunk = &file[offset as usize..(offset + len) as usize];
        let data = base64::engine::general_purpose::STANDARD.encode(chunk);
        s.client
            .send("EndInvokeJS", json!([call[0], true, data]))
            .await;
        if requested < file.len() as u64 {
            let call = next_call(&mut s.client, &mut batches).await;
            reads += 1;
            requested = read_end(&call);
            pending.push_back(call);
            assert!(pending.len() <= WINDOW);
        }
    }
    assert_eq!(expected_offset, file.len() as u64);
    assert_eq!(reads, 19, "300,000 bytes in 16 KiB chunks");
    let hex: String = Sha256::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    loop {
        if batches
            .iter()
            .any(|b| b.contains(&format!("done 300000 {hex}")))
        {
            break;
        }
        let message = s.client.next().await.unwrap();
        assert_eq!(message.target, "T.Batch", "{message:?}");
        let (id, body) = batch(&message.arguments);
        s.client.send("OnRenderCompleted", json!([id, null])).await;
        batches.push(body.to_string());
    }
}

#[tokio::test]
async fn an_oversize_file_is_refused_without_a_single_read() {
    let (_, mut s) = start().await;
    let chosen = json!({"files": [{"id": 3, "name": "big.bin", "size": 2_000_000, "type": ""}]});
    s.client
        .send("DispatchEvent", json!([s.upload, "upload", chosen]))
        .await;
    let mut batches = Vec::new();
    let call = next_call(&mut s.client, &mut batches).await;
    assert_eq!(call[1], "tether.upload.cancel", "the browser lets go of it");
    assert_eq!(call[2], json!([3]));
    s.client
        .send("EndInvokeJS", json!([call[0], true, null]))
        .await;
    while !batches
        .iter()
        .any(|b| b.contains("refused: big.bin is 2 MB and the limit is 1 MB."))
    {
        let message = s.client.next().await.unwrap();
        assert_eq!(message.target, "T.Batch", "no read: {message:?}");
        batches.push(batch(&message.arguments).1.to_string());
    }
    // A malformed file list is refused as bad event input, not guessed at.
    s.client
        .send("DispatchEvent", json!([s.upload, "upload", {"files": "x"}]))
        .await;
    s.client
        .send("DispatchEvent", json!([s.poke, "click", {}]))
        .await;
    loop {
        let message = s.client.next().await.unwrap();
        assert_eq!(message.target, "T.Batch", "{message:?}");
        if batch(&message.arguments).1.to_string().contains("clicks 1") {
            break;
        }
    }
}

#[tokio::test]
async fn download_links_answer_over_http_while_their_circuit_lives() {
    let (addr, s) = start().await;
    assert!(s.link.starts_with("/_tether/download/"));
    let got = http(addr, "GET", &s.link, &[], "").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "hello");
    let header = |name: &str| {
        got.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"hello w_rld.txt\"; filename*=UTF-8''hello%20w%C3%B6rld.txt")
    );
    assert_eq!(header("cache-control").as_deref(), Some("no-store"));
    // A guessed token, and a token with a character changed.
    let guessed = http(addr, "GET", "/_tether/download/abc", &[], "").await;
    assert_eq!(guessed.status, 404);
    let mut changed = s.link.clone();
    let last = changed.pop().unwrap();
    changed.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(http(addr, "GET", &changed, &[], "").await.status, 404);
    // The circuit ends: its links die with it.
    let ended = http(
        addr,
        "POST",
        "/_tether/disconnect",
        &[("content-type", "application/x-www-form-urlencoded")],
        &format!("secret={}", s.secret),
    )
    .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    let gone = http(addr, "GET", &s.link, &[], "").await;
    assert_eq!(gone.status, 404);
    assert!(
        gone.body.contains("unknown or has expired"),
        "{}",
        gone.body
    );
}
