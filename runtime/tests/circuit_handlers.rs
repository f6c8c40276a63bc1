//! Circuit handlers over real sockets: order, error isolation, idle detection, the tracker.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::{serve, HubClient, PATIENCE};
use tether::circuit::{
    CircuitHandle, CircuitHandler, CircuitHandlers, CircuitHub, CircuitSecret, CircuitTracker,
    HandlerError, IdleCircuitHandler, IdleOptions, InboundActivity, Next,
};
use tokio::sync::mpsc;

struct Recorder {
    name: &'static str,
    order: i32,
    log: mpsc::UnboundedSender<String>,
    refuse_events: bool,
}

impl Recorder {
    fn note(&self, what: &str) {
        let _ = self.log.send(format!("{}:{what}", self.name));
    }
}

impl CircuitHandler for Recorder {
    fn order(&self) -> i32 {
        self.order
    }
    fn on_circuit_opened(&self, _: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("opened");
        Ok(())
    }
    fn on_connection_up(&self, _: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("up");
        Ok(())
    }
    fn on_connection_down(&self, _: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("down");
        Ok(())
    }
    fn on_circuit_closed(&self, _: &CircuitHandle) -> Result<(), HandlerError> {
        self.note("closed");
        Ok(())
    }
    fn on_inbound(
        &self,
        _: &CircuitHandle,
        activity: &InboundActivity<'_>,
        next: Next<'_>,
    ) -> Result<(), HandlerError> {
        if self.refuse_events && matches!(activity, InboundActivity::Event { .. }) {
            return Err(HandlerError::new("this handler refuses events"));
        }
        let kind = match activity {
            InboundActivity::Start => "start",
            InboundActivity::Connect => "connect",
            InboundActivity::Event { .. } => "event",
            InboundActivity::RenderAck { .. } => "ack",
            _ => "other",
        };
        self.note(&format!("in-{kind}"));
        let result = next.run();
        self.note(&format!("out-{kind}"));
        result
    }
}

async fn take(log: &mut mpsc::UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        got.push(
            tokio::time::timeout(PATIENCE, log.recv())
                .await
                .expect("handler calls in time")
                .unwrap(),
        );
    }
    got
}

#[tokio::test]
async fn handlers_run_in_order_lower_outermost_shared_and_per_circuit() {
    let (tx, mut log) = mpsc::unbounded_channel();
    let (a, b) = (tx.clone(), tx.clone());
    let handlers = CircuitHandlers::new()
        .shared(Recorder {
            name: "shared",
            order: 5,
            log: tx,
            refuse_events: false,
        })
        .per_circuit(move |_| Recorder {
            name: "late",
            order: 9,
            log: a.clone(),
            refuse_events: false,
        })
        .per_circuit(move |_| Recorder {
            name: "early",
            order: -1,
            log: b.clone(),
            refuse_events: false,
        });
    let server = serve(CircuitHub::builder(support::components()).handlers(handlers)).await;
    let mut session = server.start_counter(0).await;
    let wrap = |kind: &str| -> Vec<String> {
        [
            "early:in-",
            "shared:in-",
            "late:in-",
            "late:out-",
            "shared:out-",
            "early:out-",
        ]
        .iter()
        .map(|p| format!("{p}{kind}"))
        .collect()
    };
    let mut expected: Vec<String> = [
        "early:opened",
        "shared:opened",
        "late:opened",
        "early:up",
        "shared:up",
        "late:up",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(wrap("start"));
    assert_eq!(take(&mut log, 12).await, expected);
    session.click().await;
    assert_eq!(take(&mut log, 6).await, wrap("event"));
    let secret = session.secret.clone();
    session.client.drop_socket().await;
    assert_eq!(
        take(&mut log, 3).await,
        ["early:down", "shared:down", "late:down"]
    );
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ConnectCircuit", json!([secret])).await,
        Ok(json!(true))
    );
    let mut expected = wrap("connect");
    expected.splice(3..3, ["early:up", "shared:up", "late:up"].map(String::from));
    assert_eq!(take(&mut log, 9).await, expected);
    assert_eq!(server.end_by_beacon(&secret).await, 200);
    assert_eq!(
        take(&mut log, 6).await,
        [
            "early:down",
            "shared:down",
            "late:down",
            "early:closed",
            "shared:closed",
            "late:closed"
        ]
    );
}

#[tokio::test]
async fn a_handler_error_ends_only_its_own_circuit() {
    let (tx, _log) = mpsc::unbounded_channel();
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let handlers = CircuitHandlers::new().per_circuit(move |_| Recorder {
        name: "r",
        order: 0,
        log: tx.clone(),
        refuse_events: first.swap(false, std::sync::atomic::Ordering::SeqCst),
    });
    let server = serve(CircuitHub::builder(support::components()).handlers(handlers)).await;
    let mut refused = server.start_counter(0).await;
    let mut fine = server.start_counter(0).await;
    refused
        .client
        .send("DispatchEvent", json!([refused.increment, "click", {}]))
        .await;
    refused.client.expect("T.Error").await;
    refused.client.until_closed().await;
    assert_eq!(fine.click().await, (2, "1".to_owned()));
    assert_eq!(server.hub.metrics().active, 1);
}

#[tokio::test]
async fn idle_circuits_are_reported_and_closed() {
    let (tx, mut idle_ids) = mpsc::unbounded_channel();
    let idle = IdleCircuitHandler::new(
        IdleOptions::default()
            .timeout(Duration::from_millis(200))
            .close_idle(true),
        move |circuit| {
            let _ = tx.send(circuit.id());
        },
    );
    let server = serve(
        CircuitHub::builder(support::components()).handlers(CircuitHandlers::new().shared(idle)),
    )
    .await;
    let mut session = server.start_counter(0).await;
    let reported = tokio::time::timeout(PATIENCE, idle_ids.recv())
        .await
        .expect("an idle report")
        .unwrap();
    assert_eq!(
        reported,
        CircuitSecret::parse(&session.secret).unwrap().id()
    );
    let error = session.client.expect("T.Error").await;
    assert!(error[0].as_str().unwrap().contains("closed"), "{error:?}");
    assert_eq!(server.hub.metrics().active, 0);
}

#[tokio::test]
async fn the_tracker_lists_connected_circuits() {
    let tracker = Arc::new(CircuitTracker::new());
    let server = serve(
        CircuitHub::builder(support::components())
            .handlers(CircuitHandlers::new().shared_arc(tracker.clone())),
    )
    .await;
    let mut count = tracker.watch_count();
    let session = server.start_counter(0).await;
    let other = server.start_counter(0).await;
    assert_eq!(tracker.count(), 2);
    let id = CircuitSecret::parse(&session.secret).unwrap().id();
    assert!(tracker.circuits().contains(&id));
    let secret = session.secret.clone();
    session.client.drop_socket().await;
    tokio::time::timeout(PATIENCE, count.wait_for(|&n| n == 1))
        .await
        .expect("count drops")
        .unwrap();
    assert!(!tracker.circuits().contains(&id));
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ConnectCircuit", json!([secret])).await,
        Ok(json!(true))
    );
    assert_eq!(tracker.count(), 2);
    // A circuit the browser ends (the disconnect beacon) leaves the list.
    assert_eq!(server.end_by_beacon(&secret).await, 200);
    tokio::time::timeout(PATIENCE, count.wait_for(|&n| n == 1))
        .await
        .expect("count drops")
        .unwrap();
    let other_id = CircuitSecret::parse(&other.secret).unwrap().id();
    assert_eq!(tracker.circuits(), [other_id]);
}
