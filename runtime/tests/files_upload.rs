//! Uploads and downloads over real sockets: the server grants credit and tops it up as the component reads,
//! the browser's chunks arrive as fire-and-forget `UploadChunk` messages, the connection stays free for
//! events meanwhile, a chunk past the credit (or for no upload) is refused while the circuit lives on, a
//! dropped connection fails the upload and the circuit reconnects, oversize files are refused before any
//! byte, and download links answer over HTTP only while their circuit lives.

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
use tether_components::upload::{
    UploadEvent, UploadSource, UploadSpec, CHUNK_BYTES, CREDIT_BYTES, TOP_UP_BYTES,
};
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

impl Session {
    /// The browser reports file `id` chosen in the upload input, as the upload module does.
    async fn choose(&mut self, id: u64, name: &str, size: usize) {
        let chosen = json!({"files": [{"id": id, "name": name, "size": size, "type": ""}]});
        self.client
            .send("DispatchEvent", json!([self.upload, "upload", chosen]))
            .await;
    }
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

/// Reads batches (acknowledging them) until one contains `text`.
async fn until_batch_with(client: &mut HubClient, batches: &mut Vec<String>, text: &str) {
    while !batches.iter().any(|b| b.contains(text)) {
        let message = client.next().await.expect("connection open");
        assert_eq!(
            message.target, "T.Batch",
            "waiting for {text:?}: {message:?}"
        );
        let (id, body) = batch(&message.arguments);
        client.send("OnRenderCompleted", json!([id, null])).await;
        batches.push(body.to_string());
    }
}

/// The `UploadChunk` arguments of `file`'s bytes from `from` to `to`, in chunks of at most `chunk` bytes.
fn chunks(id: u64, file: &[u8], from: u64, to: u64, chunk: u64) -> Vec<Value> {
    (from..to)
        .step_by(chunk as usize)
        .map(|at| {
            let end = (at + chunk).min(to);
            let data =
                base64::engine::general_purpose::STANDARD.encode(&file[at as usize..end as usize]);
            json!([id, at, data])
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_server_grants_credit_and_tops_it_up_as_the_component_reads() {
    let (_, mut s) = start().await;
    let file: Vec<u8> = (0..900_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s.choose(7, "a.bin", file.len()).await;
    let mut batches = Vec::new();
    let call = next_call(&mut s.client, &mut batches).await;
    assert_eq!(call[1], "tether.upload.send");
    assert_eq!(
        call[2],
        json!([7, CREDIT_BYTES, CHUNK_BYTES]),
        "one grant for the whole window"
    );
    // With credit granted and no byte sent, an event goes through and its batch comes back before anything
    // else: the server waits for bytes without asking again.
    s.client
        .send("DispatchEvent", json!([s.poke, "click", {}]))
        .await;
    until_batch_with(&mut s.client, &mut batches, "clicks 1").await;

    // Send every granted byte back to back, then answer the grant; each top-up grants more, never more
    // than a window past what was sent, until the end of the file.
    let mut grants = vec![CREDIT_BYTES];
    let mut sent = 0u64;
    let mut call = call;
    loop {
        let up_to = call[2][1].as_u64().unwrap();
        assert!(
            up_to > sent && up_to <= sent + CREDIT_BYTES,
            "grant up to {up_to} with {sent} sent"
        );
        for chunk in chunks(7, &file, sent, up_to, CHUNK_BYTES.into()) {
            s.client.send("UploadChunk", chunk).await;
        }
        sent = up_to;
        s.client
            .send("EndInvokeJS", json!([call[0], true, null]))
            .await;
        if sent == file.len() as u64 {
            break;
        }
        call = next_call(&mut s.client, &mut batches).await;
        assert_eq!(call[1], "tether.upload.send", "{call:?}");
        grants.push(call[2][1].as_u64().unwrap());
    }
    // The window, then one step at a time as the component read, then the rest of the file.
    let steps = (0..).map(|k| CREDIT_BYTES + k * TOP_UP_BYTES);
    let expected: Vec<u64> = steps
        .take_while(|&up_to| up_to < 900_000)
        .chain([900_000])
        .collect();
    assert_eq!(
        grants, expected,
        "topped up a step at a time as the component read"
    );
    let done = format!("done 900000 {}", sha256_hex(&file));
    until_batch_with(&mut s.client, &mut batches, &done).await;
}

#[tokio::test]
async fn chunks_past_the_credit_or_for_no_upload_are_refused_and_the_circuit_lives() {
    let (_, mut s) = start().await;
    let file: Vec<u8> = (0..10_001u32).map(|i| (i % 13) as u8).collect();
    s.choose(4, "small.bin", 10_000).await;
    let mut batches = Vec::new();
    let call = next_call(&mut s.client, &mut batches).await;
    assert_eq!(call[2], json!([4, 10_000, CHUNK_BYTES]));
    // A hostile client sends one byte more than the credit (and the file): refused, with the reason in the
    // Completion, and the upload fails with a protocol error.
    let data = base64::engine::general_purpose::STANDARD.encode(&file);
    let refused = s
        .client
        .invoke("UploadChunk", json!([4, 0, data]))
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        "'UploadChunk' refused: a chunk ending at byte 10001, past the credit granted (up to byte 10000) (file 4)"
    );
    // The component hears why, and the browser is told to forget the file (in either order).
    let failed = "error: bad upload data from the browser: a chunk ending at byte 10001, past the credit granted";
    let mut cancelled = false;
    while !cancelled || !batches.iter().any(|b| b.contains(failed)) {
        let message = s.client.next().await.expect("connection open");
        if message.target == "T.Batch" {
            let (id, body) = batch(&message.arguments);
            s.client.send("OnRenderCompleted", json!([id, null])).await;
            batches.push(body.to_string());
            continue;
        }
        let cancel = message.arguments;
        assert_eq!(
            (cancel[1].as_str(), &cancel[2]),
            (Some("tether.upload.cancel"), &json!([4]))
        );
        s.client
            .send("EndInvokeJS", json!([cancel[0], true, null]))
            .await;
        cancelled = true;
    }

    // Chunks for a file that has no upload, sent fire-and-forget and as a call: refused, nothing else moves.
    s.client.send("UploadChunk", json!([99, 0, "aGk="])).await;
    let refused = s
        .client
        .invoke("UploadChunk", json!([98, 0, "aGk="]))
        .await
        .unwrap_err();
    assert!(
        refused.contains("a chunk for file 98, which has no upload in progress"),
        "{refused}"
    );
    let refused = s
        .client
        .invoke("UploadChunk", json!([98, 0, "not base64!"]))
        .await
        .unwrap_err();
    assert!(refused.contains("not base64"), "{refused}");
    // The circuit lives on: events work, and a new upload goes through.
    s.client
        .send("DispatchEvent", json!([s.poke, "click", {}]))
        .await;
    until_batch_with(&mut s.client, &mut batches, "clicks 1").await;
    s.choose(5, "again.bin", 10_000).await;
    let call = next_call(&mut s.client, &mut batches).await;
    assert_eq!(call[2], json!([5, 10_000, CHUNK_BYTES]));
    for chunk in chunks(5, &file, 0, 10_000, 4096) {
        s.client.send("UploadChunk", chunk).await;
    }
    s.client
        .send("EndInvokeJS", json!([call[0], true, null]))
        .await;
    let done = format!("done 10000 {}", sha256_hex(&file[..10_000]));
    until_batch_with(&mut s.client, &mut batches, &done).await;
}

#[tokio::test]
async fn a_dropped_connection_fails_the_upload_and_the_circuit_reconnects() {
    let (addr, mut s) = start().await;
    let file: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
    s.choose(2, "cut.bin", file.len()).await;
    let mut batches = Vec::new();
    let call = next_call(&mut s.client, &mut batches).await;
    assert_eq!(call[1], "tether.upload.send");
    for chunk in chunks(2, &file, 0, 32_768, CHUNK_BYTES.into()) {
        s.client.send("UploadChunk", chunk).await;
    }
    s.client.drop_socket().await;

    let mut client = HubClient::connect(addr, "/_tether").await;
    let resumed = client
        .invoke("ConnectCircuit", json!([s.secret]))
        .await
        .unwrap();
    assert_eq!(resumed, json!(true));
    until_batch_with(
        &mut client,
        &mut batches,
        "error: the connection was lost during the upload",
    )
    .await;
    client
        .send("DispatchEvent", json!([s.poke, "click", {}]))
        .await;
    until_batch_with(&mut client, &mut batches, "clicks 1").await;
}

#[tokio::test]
async fn an_oversize_file_is_refused_without_a_single_read() {
    let (_, mut s) = start().await;
    s.choose(3, "big.bin", 2_000_000).await;
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
