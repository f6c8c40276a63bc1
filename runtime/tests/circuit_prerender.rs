//! Prerendering and descriptors over real sockets: the page markup, the seamless attach, tampering,
//! expiry, replay, version mismatch, and a prerendered state over the hub message limit.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{attach_html, batch, serve, HubClient};
use tether::circuit::{CircuitHub, CircuitOptions, PROTOCOL_VERSION};

async fn start_with(
    server: &support::TestServer,
    descriptors: &[String],
) -> Result<serde_json::Value, String> {
    server.start_circuit("", descriptors).await.1
}

#[tokio::test]
async fn the_page_holds_the_prerendered_markup_the_circuit_attaches_to() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let page = support::http(server.addr, "GET", "/counter?start=42", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!(
        "<script src=\"{}\"></script>",
        server.hub.boot_script_url()
    )));
    let start = page.body.find("<!--t:r:").unwrap();
    let content_start = start + page.body[start..].find("-->").unwrap() + 3;
    let content_end = content_start + page.body[content_start..].find("<!--/t-->").unwrap();
    let prerendered = &page.body[content_start..content_end];
    assert!(
        prerendered.contains("<span id=\"count\">42</span>"),
        "{prerendered}"
    );
    let descriptors = support::descriptors(&page.body);
    let (_client, first) = server.attach(&descriptors).await;
    // The attach edit carries exactly the prerendered markup, so the browser keeps its DOM.
    assert_eq!(attach_html(&first), prerendered);
}

#[tokio::test]
async fn a_tampered_descriptor_is_rejected() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut descriptors = server.page_descriptors("/counter?start=1").await;
    let mut bytes = descriptors[0].clone().into_bytes();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    descriptors[0] = String::from_utf8(bytes).unwrap();
    let error = start_with(&server, &descriptors).await.unwrap_err();
    assert!(
        error.contains("signature mismatch") || error.contains("malformed"),
        "{error}"
    );
    assert_eq!(server.hub.metrics().active, 0);
}

#[tokio::test]
async fn a_descriptor_from_another_server_is_rejected() {
    let ours = serve(CircuitHub::builder(support::components())).await;
    let theirs = serve(CircuitHub::builder(support::components())).await;
    let descriptors = theirs.page_descriptors("/counter").await;
    let error = start_with(&ours, &descriptors).await.unwrap_err();
    assert!(error.contains("signature mismatch"), "{error}");
}

#[tokio::test]
async fn an_expired_descriptor_is_rejected() {
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().descriptor_lifetime(Duration::from_millis(50))),
    )
    .await;
    let descriptors = server.page_descriptors("/counter").await;
    // Expiry is about time passing: there is no event to await.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let error = start_with(&server, &descriptors).await.unwrap_err();
    assert!(error.contains("expired"), "{error}");
}

#[tokio::test]
async fn a_replayed_descriptor_is_rejected() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/counter").await;
    start_with(&server, &descriptors).await.expect("first use");
    let error = start_with(&server, &descriptors).await.unwrap_err();
    assert!(error.contains("already used"), "{error}");
    assert_eq!(server.hub.metrics().active, 1);
}

#[tokio::test]
async fn another_protocol_version_is_refused_with_both_versions_named() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/counter").await;
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    let error = client
        .invoke(
            "StartCircuit",
            json!([1, "http://x/", "http://x/", descriptors]),
        )
        .await
        .unwrap_err();
    assert!(
        error.contains("version 1") && error.contains(&format!("version {PROTOCOL_VERSION}")),
        "{error}"
    );
}

#[tokio::test]
async fn a_page_with_two_roots_attaches_both() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/note?size=5").await;
    assert_eq!(descriptors.len(), 2);
    let (_client, first) = server.attach(&descriptors).await;
    let roots: Vec<u64> = first
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[0] == 11)
        .map(|e| e[1].as_u64().unwrap())
        .collect();
    assert_eq!(roots, [0, 1]);
}

#[tokio::test]
async fn a_start_larger_than_the_message_limit_goes_through_chunked() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/note?size=60000").await;
    let base = format!("http://{}/", server.addr);
    let arguments = json!([PROTOCOL_VERSION, base, base, descriptors]);
    assert!(arguments.to_string().len() > 32 * 1024);
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    client
        .send_chunked("StartCircuit", &arguments, 16_000, Some("c1"))
        .await;
    let mut batches = Vec::new();
    let secret = loop {
        let message = client.next_raw().await.expect("the server answers");
        match message["type"].as_u64() {
            Some(3) => break message["result"].clone(),
            Some(1) if message["target"] == "T.Batch" => batches.push(message),
            _ => {}
        }
    };
    assert_eq!(secret.as_str().map(str::len), Some(64), "{secret}");
    let first = match batches.pop() {
        Some(message) => message["arguments"][1].clone(),
        None => batch(&client.expect("T.Batch").await).1,
    };
    assert!(first.to_string().contains(">60000<"), "{first}");
}

#[tokio::test]
async fn a_chunked_call_over_its_own_limit_names_the_option() {
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().max_chunked_call_size(1000)),
    )
    .await;
    let mut session = server.start_counter(0).await;
    let arguments = json!([session.increment, "click", {"padding": "y".repeat(1500)}]);
    session
        .client
        .send_chunked("DispatchEvent", &arguments, 250, Some("c9"))
        .await;
    let answer = loop {
        let message = session.client.next_raw().await.expect("an answer");
        if message["type"] == 3 && message["invocationId"] == "c9" {
            break message;
        }
    };
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("max_chunked_call_size"),
        "{answer}"
    );
    // The circuit lives on, and a chunked event within the limit works.
    let small = json!([session.increment, "click", {}]);
    session
        .client
        .send_chunked("DispatchEvent", &small, 5, None)
        .await;
    assert_eq!(session.next_count().await, (2, "1".to_owned()));
}

#[tokio::test]
async fn page_requests_offer_route_query_headers_and_cookies() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let response = support::http(
        server.addr,
        "GET",
        "/params/42?sort=name%20asc&page=2",
        &[
            ("Accept-Language", "fr"),
            ("Cookie", "theme=dark; session=abc"),
        ],
        "",
    )
    .await;
    assert_eq!(
        response.body,
        "id=Some(\"42\")\nsort=Some(\"name asc\")\npage=Some(\"2\")\nmissing=None\nlanguage=Some(\"fr\")\n\
         theme=Some(\"dark\")\nsession=Some(\"abc\")\npath=/params/42\n"
    );
}

#[tokio::test]
async fn an_unknown_root_type_fails_the_page_with_a_clear_reason() {
    let hub = CircuitHub::builder(support::components()).build().unwrap();
    let error = hub.page().root("Nope", &json!({})).unwrap_err();
    assert!(
        error.to_string().contains("no root component type `Nope`"),
        "{error}"
    );
}

#[tokio::test]
async fn a_root_that_panics_while_prerendering_fails_the_page_with_a_reason() {
    let server = serve(CircuitHub::builder(support::components())).await;
    support::FRAGILE_FAILS.store(true, std::sync::atomic::Ordering::SeqCst);
    let page = support::http(server.addr, "GET", "/fragile", &[], "").await;
    support::FRAGILE_FAILS.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(page.status, 500);
    assert!(
        page.body
            .contains("Fragile: create panicked: fragile component refused to start"),
        "{}",
        page.body
    );
}

/// A `Chunked` call whose chunks all arrive in one WebSocket frame, more of them than the hub's stream buffer
/// (`HubOptions::stream_buffer_capacity`, 10). The boot script sends large calls as such a burst. The hub's
/// connection task waits for room in the stream's buffer while it reads the frame and does not poll the
/// method meanwhile, so the circuit hub reads chunks on a task of its own; without that this test hangs.
#[tokio::test]
async fn a_burst_of_chunks_larger_than_the_stream_buffer_is_received() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut session = server.start_counter(0).await;
    let arguments = json!([session.increment, "click", {"padding": "z".repeat(4000)}]);
    session
        .client
        .send_chunked_in_one_frame("DispatchEvent", &arguments, 100)
        .await;
    assert_eq!(session.next_count().await, (2, "1".to_owned()));
}
