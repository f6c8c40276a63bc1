//! Isolation: a circuit whose component panics ends alone; others keep working.

mod support;

use serde_json::json;
use support::serve;
use tether::circuit::{CircuitHub, CircuitOptions};

#[tokio::test]
async fn a_panicking_circuit_does_not_affect_another() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut healthy = server.start_counter(10).await;
    let mut doomed = server.start_counter(20).await;
    healthy.ack(1).await;
    doomed.ack(1).await;
    doomed
        .client
        .send("DispatchEvent", json!([doomed.boom, "click", {}]))
        .await;
    let error = doomed.client.expect("T.Error").await;
    let message = error[0].as_str().unwrap();
    // Details stay on the server unless detailed errors are on.
    assert!(
        !message.contains("boom button") && message.contains("detailed_errors"),
        "{message}"
    );
    doomed.client.until_closed().await;
    assert_eq!(healthy.click().await, (2, "11".to_owned()));
    let metrics = server.hub.metrics();
    assert_eq!((metrics.active, metrics.ended), (1, 1));
}

#[tokio::test]
async fn detailed_errors_name_the_failure() {
    let server = serve(
        CircuitHub::builder(support::components())
            .options(CircuitOptions::default().detailed_errors(true)),
    )
    .await;
    let mut doomed = server.start_counter(0).await;
    doomed
        .client
        .send("DispatchEvent", json!([doomed.boom, "click", {}]))
        .await;
    let error = doomed.client.expect("T.Error").await;
    assert!(
        error[0].as_str().unwrap().contains("the boom button"),
        "{error:?}"
    );
}

#[tokio::test]
async fn many_circuits_interleave_without_mixing_state() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut sessions = Vec::new();
    for start in 0..8 {
        sessions.push(server.start_counter(start * 100).await);
    }
    for round in 1..=3 {
        for session in &mut sessions {
            session
                .client
                .send("DispatchEvent", json!([session.increment, "click", {}]))
                .await;
        }
        for (start, session) in sessions.iter_mut().enumerate() {
            let (_, text) = session.next_count().await;
            assert_eq!(text, (start as i64 * 100 + round).to_string());
            let id = session.last_batch;
            session.ack(id).await;
        }
    }
}
