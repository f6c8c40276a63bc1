//! Circuit lifecycle over real sockets: start, events, batches and acks; reconnect within retention;
//! eviction by count and by time; takeover; backpressure.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{batch, serve, HubClient};
use tether::circuit::{
    CircuitHandle, CircuitHandler, CircuitHandlers, CircuitHub, CircuitOptions, HandlerError,
    PROTOCOL_VERSION,
};
use tokio::sync::mpsc;

#[tokio::test]
async fn start_event_batch_ack() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut session = server.start_counter(5).await;
    session.ack(1).await;
    assert_eq!(session.click().await, (2, "6".to_owned()));
    session.ack(2).await;
    assert_eq!(session.click().await, (3, "7".to_owned()));
    let metrics = server.hub.metrics();
    assert_eq!((metrics.active, metrics.connected), (1, 1));
}

#[tokio::test]
async fn a_custom_hub_path_works() {
    let server = serve(CircuitHub::builder(support::components()).path("/signalr")).await;
    let mut session = server.start_counter(0).await;
    assert_eq!(session.click().await, (2, "1".to_owned()));
}

#[tokio::test]
async fn reconnect_within_retention_keeps_state_and_resends_unacknowledged_batches() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut session = server.start_counter(0).await;
    session.ack(1).await;
    assert_eq!(session.click().await, (2, "1".to_owned()));
    assert_eq!(session.click().await, (3, "2".to_owned()));
    // Batches 2 and 3 are not acknowledged when the socket drops.
    let secret = session.secret.clone();
    session.client.drop_socket().await;
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ConnectCircuit", json!([secret])).await,
        Ok(json!(true))
    );
    let resent: Vec<u64> = vec![
        batch(&client.expect("T.Batch").await).0,
        batch(&client.expect("T.Batch").await).0,
    ];
    assert_eq!(resent, [2, 3]);
    client.send("OnRenderCompleted", json!([3, null])).await;
    // State was kept: the next click shows 3.
    let increment = session.increment;
    client
        .send("DispatchEvent", json!([increment, "click", {}]))
        .await;
    let (id, update) = batch(&client.expect("T.Batch").await);
    assert_eq!(
        (id, support::text_update(&update).as_deref()),
        (4, Some("3"))
    );
    assert_eq!(server.hub.metrics().rejected_reconnects, 0);
}

/// Reports every closed circuit on a channel, so tests can await evictions instead of sleeping.
struct ClosedProbe(mpsc::UnboundedSender<tether::circuit::CircuitId>);

impl CircuitHandler for ClosedProbe {
    fn on_circuit_closed(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        let _ = self.0.send(circuit.id());
        Ok(())
    }
}

#[tokio::test]
async fn eviction_by_count_rejects_the_oldest() {
    let (closed, mut closed_rx) = mpsc::unbounded_channel();
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().max_retained_disconnected(1))
            .handlers(CircuitHandlers::new().shared(ClosedProbe(closed))),
    )
    .await;
    let first = server.start_counter(0).await;
    let second = server.start_counter(0).await;
    let (first_secret, second_secret) = (first.secret.clone(), second.secret.clone());
    first.client.drop_socket().await;
    second.client.drop_socket().await;
    tokio::time::timeout(support::PATIENCE, closed_rx.recv())
        .await
        .expect("an eviction")
        .unwrap();
    let metrics = server.hub.metrics();
    assert_eq!((metrics.evicted, metrics.disconnected), (1, 1));
    // The oldest went; the browser is told the circuit is gone.
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ConnectCircuit", json!([first_secret])).await,
        Ok(json!(false))
    );
    assert_eq!(server.hub.metrics().rejected_reconnects, 1);
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client
            .invoke("ConnectCircuit", json!([second_secret]))
            .await,
        Ok(json!(true))
    );
}

#[tokio::test]
async fn eviction_by_time_rejects_the_reconnect() {
    let (closed, mut closed_rx) = mpsc::unbounded_channel();
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().retention_period(Duration::from_millis(200)))
            .handlers(CircuitHandlers::new().shared(ClosedProbe(closed))),
    )
    .await;
    let session = server.start_counter(0).await;
    let secret = session.secret.clone();
    session.client.drop_socket().await;
    tokio::time::timeout(support::PATIENCE, closed_rx.recv())
        .await
        .expect("an eviction")
        .unwrap();
    assert_eq!(server.hub.metrics().evicted, 1);
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ConnectCircuit", json!([secret])).await,
        Ok(json!(false))
    );
    let metrics = server.hub.metrics();
    assert_eq!((metrics.active, metrics.rejected_reconnects), (0, 1));
}

#[tokio::test]
async fn a_second_connection_takes_the_circuit_over() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut old = server.start_counter(0).await;
    old.ack(1).await;
    let mut new = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        new.invoke("ConnectCircuit", json!([old.secret])).await,
        Ok(json!(true))
    );
    // The old connection is closed by the server.
    let leftovers = old.client.until_closed().await;
    assert!(
        leftovers.iter().all(|i| i.target != "T.Batch"),
        "{leftovers:?}"
    );
    new.send("DispatchEvent", json!([old.increment, "click", {}]))
        .await;
    let (id, update) = batch(&new.expect("T.Batch").await);
    assert_eq!(
        (id, support::text_update(&update).as_deref()),
        (2, Some("1"))
    );
    let metrics = server.hub.metrics();
    assert_eq!((metrics.active, metrics.connected), (1, 1));
}

#[tokio::test]
async fn rendering_pauses_at_the_unacknowledged_limit() {
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().max_unacknowledged_batches(2)),
    )
    .await;
    let mut session = server.start_counter(0).await;
    assert_eq!(session.click().await, (2, "1".to_owned()));
    // Two batches are unacknowledged: these clicks change state but produce no batch.
    for _ in 0..3 {
        session
            .client
            .send("DispatchEvent", json!([session.increment, "click", {}]))
            .await;
    }
    // An invocation with an answer proves the clicks were processed (one message at a time, in order).
    let unknown = session
        .client
        .invoke("ConnectCircuit", json!(["not-a-secret"]))
        .await;
    assert_eq!(unknown, Ok(json!(false)));
    session.ack(1).await;
    // Room for one batch: it carries every change since.
    assert_eq!(session.next_count().await, (3, "4".to_owned()));
}

#[tokio::test]
async fn only_the_batch_that_fills_the_unacknowledged_buffer_asks_for_its_ack_at_once() {
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().max_unacknowledged_batches(3)),
    )
    .await;
    let mut session = server.start_counter(0).await;
    let mut click = async || {
        session
            .client
            .send("DispatchEvent", json!([session.increment, "click", {}]))
            .await;
        session.client.expect("T.Batch").await
    };
    // Batch 1 is unacknowledged: batch 2 leaves one place free, batch 3 takes it (protocol.md section 4).
    let second = click().await;
    assert_eq!((&second[0], second.get(2)), (&json!(2), None));
    let third = click().await;
    assert_eq!((&third[0], third.get(2)), (&json!(3), Some(&json!(true))));
}

#[tokio::test]
async fn an_ack_for_a_batch_never_sent_ends_the_circuit() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut session = server.start_counter(0).await;
    session.ack(9).await;
    let error = session.client.expect("T.Error").await;
    assert!(error[0].as_str().unwrap().contains("circuit"), "{error:?}");
    session.client.until_closed().await;
    assert_eq!(server.hub.metrics().active, 0);
}

#[tokio::test]
async fn an_unknown_event_handler_is_ignored() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut session = server.start_counter(0).await;
    session
        .client
        .send("DispatchEvent", json!([999, "click", {}]))
        .await;
    assert_eq!(session.click().await, (2, "1".to_owned()));
}

#[tokio::test]
async fn a_call_without_a_circuit_gets_an_error_and_the_connection_closes() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    client.send("DispatchEvent", json!([1, "click", {}])).await;
    let error = client.expect("T.Error").await;
    assert!(
        error[0].as_str().unwrap().contains("no circuit"),
        "{error:?}"
    );
    client.until_closed().await;
}

#[tokio::test]
async fn a_connection_holds_one_circuit() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut first = server.start_counter(0).await;
    let second = server.start_counter(0).await;
    // The first connection may not attach the second circuit as well.
    assert_eq!(
        first
            .client
            .invoke("ConnectCircuit", json!([second.secret]))
            .await,
        Ok(json!(false))
    );
    let descriptors = server.page_descriptors("/counter").await;
    let refused = first
        .client
        .invoke(
            "StartCircuit",
            json!([PROTOCOL_VERSION, "http://x/", "http://x/", descriptors]),
        )
        .await;
    assert!(refused.unwrap_err().contains("already has a circuit"));
    // Its own circuit still works.
    assert_eq!(first.click().await, (2, "1".to_owned()));
    assert_eq!(server.hub.metrics().connected, 2);
}

#[tokio::test]
async fn async_work_renders_without_an_event() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/loader").await;
    let (mut client, first) = server.attach(&descriptors).await;
    assert!(support::attach_html(&first).contains("loading"));
    let (id, second) = batch(&client.expect("T.Batch").await);
    assert_eq!(
        (id, support::text_update(&second).as_deref()),
        (2, Some("loaded after 20 ms"))
    );
}

#[tokio::test]
async fn a_start_that_fails_answers_with_the_reason_and_keeps_the_connection() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/fragile").await;
    support::FRAGILE_FAILS.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    let base = format!("http://{}/", server.addr);
    let error = client
        .invoke(
            "StartCircuit",
            json!([PROTOCOL_VERSION, base, base, descriptors]),
        )
        .await
        .unwrap_err();
    support::FRAGILE_FAILS.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        error.contains("a root component failed") && error.contains("detailed_errors"),
        "{error}"
    );
    assert_eq!(server.hub.metrics().active, 0);
    // The same connection can start a circuit from a fresh page.
    let descriptors = server.page_descriptors("/counter").await;
    let secret = client
        .invoke(
            "StartCircuit",
            json!([PROTOCOL_VERSION, base, base, descriptors]),
        )
        .await;
    assert!(secret.is_ok(), "{secret:?}");
}

#[tokio::test]
async fn a_chunked_event_keeps_its_place_among_the_messages_after_it() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let descriptors = server.page_descriptors("/journal").await;
    let (mut client, first) = server.attach(&descriptors).await;
    let html = support::attach_html(&first);
    let handler = |id| {
        support::attribute_of(&html, id, "t-input")
            .or_else(|| support::attribute_of(&html, id, "t-click"))
    };
    let (input, commit): (u64, u64) = (
        handler("text").unwrap().parse().unwrap(),
        handler("commit").unwrap().parse().unwrap(),
    );
    client.send("OnRenderCompleted", json!([1, null])).await;
    // A large input event goes in chunks; the click right behind it must see its value.
    let typed = "x".repeat(40_000);
    client
        .send_chunked(
            "DispatchEvent",
            &json!([input, "input", {"value": typed}]),
            16_000,
            None,
        )
        .await;
    client
        .send("DispatchEvent", json!([commit, "click", {}]))
        .await;
    loop {
        let (id, update) = batch(&client.expect("T.Batch").await);
        client.send("OnRenderCompleted", json!([id, null])).await;
        if let Some(text) = support::text_update(&update) {
            assert_eq!(text, "40000", "the click ran before the input it followed");
            break;
        }
    }
}

#[tokio::test]
async fn parallel_invocations_are_refused_at_build_time() {
    let options = tether::HubOptions {
        max_parallel_invocations: 4,
        ..tether::HubOptions::default()
    };
    let error = CircuitHub::builder(support::components())
        .hub_options(options)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("max_parallel_invocations"),
        "{error}"
    );
}
