//! Persisted circuits over real sockets: pause, eviction and shutdown persist to a store; a second server
//! sharing the store and the key resumes the circuit with its state; tampered, replayed and foreign
//! resumes are refused.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use support::{attach_html, batch, serve, text_of, HubClient, Session, TestServer};
use tether::circuit::{
    CircuitHub, CircuitId, CircuitOptions, CircuitStore, InMemoryCircuitStore, PersistenceKey,
    StoreFuture, StoredCircuit,
};

fn key() -> PersistenceKey {
    PersistenceKey::from_bytes(7, [42; 32])
}

async fn server_with(
    store: impl CircuitStore,
    key: PersistenceKey,
    options: CircuitOptions,
) -> TestServer {
    serve(
        CircuitHub::builder(support::components())
            .options(options)
            .persistence(store)
            .persistence_key(key),
    )
    .await
}

/// Starts a counter at 2 and clicks it to 3.
async fn counter_at_three(server: &TestServer) -> Session {
    let mut session = server.start_counter(2).await;
    session.ack(1).await;
    assert_eq!(session.click().await, (2, "3".to_owned()));
    session.ack(2).await;
    session
}

/// Connects to `server` and asks to resume `secret`: `ConnectCircuit` first (refused: not live there),
/// then `ResumeCircuit`, as the boot script does.
async fn resume(server: &TestServer, secret: &str) -> (HubClient, Value) {
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ConnectCircuit", json!([secret])).await,
        Ok(json!(false))
    );
    let answer = client.invoke("ResumeCircuit", json!([secret])).await;
    (client, answer.expect("ResumeCircuit completes"))
}

/// After a successful resume: the rebuilt circuit's first batch shows `count`, and a click adds one.
async fn shows_and_counts_on(client: &mut HubClient, count: i64) {
    let (id, first) = batch(&client.expect("T.Batch").await);
    assert_eq!(id, 1, "a resumed circuit's batches count from 1");
    let html = attach_html(&first);
    assert_eq!(text_of(&html, "count"), Some(count.to_string()));
    let increment: u64 = support::attribute_of(&html, "increment", "t-click")
        .and_then(|v| v.parse().ok())
        .expect("handler id");
    client.send("OnRenderCompleted", json!([1, null])).await;
    client
        .send("DispatchEvent", json!([increment, "click", {}]))
        .await;
    let (id, update) = batch(&client.expect("T.Batch").await);
    assert_eq!(
        (id, support::text_update(&update)),
        (2, Some((count + 1).to_string()))
    );
}

#[tokio::test]
async fn a_paused_circuit_resumes_on_another_server_sharing_the_store_and_only_once() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let b = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let mut session = counter_at_three(&a).await;
    assert_eq!(
        session.client.invoke("PauseCircuit", json!([])).await,
        Ok(json!(true))
    );
    assert_eq!(session.client.expect("T.Persisted").await, [json!(false)]);
    assert_eq!(a.hub.metrics().active, 0);
    assert_eq!(store.len(), 1);

    let (mut on_b, answer) = resume(&b, &session.secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut on_b, 3).await;
    assert!(
        store.is_empty(),
        "a resume takes the circuit out of the store"
    );

    // Replayed, here or on the first server: refused, and the resumed circuit is untouched.
    let (_, again_on_b) = resume(&a, &session.secret).await;
    assert_eq!(again_on_b, json!(false));
    assert_eq!(b.hub.metrics().active, 1);
}

#[tokio::test]
async fn a_circuit_resumed_elsewhere_is_refused_here() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let b = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let mut session = counter_at_three(&a).await;
    session
        .client
        .invoke("PauseCircuit", json!([]))
        .await
        .unwrap();
    let secret = session.secret.clone();
    let (mut on_b, answer) = resume(&b, &secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut on_b, 3).await;
    let mut on_a = HubClient::connect(a.addr, a.hub.path()).await;
    assert_eq!(
        on_a.invoke("ConnectCircuit", json!([secret])).await,
        Ok(json!(false))
    );
    assert_eq!(
        on_a.invoke("ResumeCircuit", json!([secret])).await,
        Ok(json!(false))
    );
}

#[tokio::test]
async fn an_evicted_circuit_is_persisted_and_resumes_on_the_same_server() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let options = CircuitOptions::default().max_retained_disconnected(0);
    let server = server_with(store.clone(), key(), options).await;
    let session = counter_at_three(&server).await;
    let secret = session.secret.clone();
    session.client.drop_socket().await;
    // Eviction persists on a task: wait for the store to hold it (an event, polled without sleeping long).
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    while store.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never persisted");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.hub.metrics().evicted, 1);
    let (mut client, answer) = resume(&server, &secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut client, 3).await;
}

#[tokio::test]
async fn shutdown_persists_every_live_circuit_and_tells_the_browser_to_resume() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let b = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let mut first = counter_at_three(&a).await;
    let mut second = a.start_counter(10).await;
    let report = a.hub.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.circuits, report.persisted, report.lost), (2, 2, 0));
    assert_eq!(first.client.expect("T.Persisted").await, [json!(true)]);
    assert_eq!(second.client.expect("T.Persisted").await, [json!(true)]);
    let (mut client, answer) = resume(&b, &first.secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut client, 3).await;
    let (mut client, answer) = resume(&b, &second.secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut client, 10).await;
}

/// Flips one byte of every blob it saves (an attacker with write access to the store).
struct TamperingStore(InMemoryCircuitStore);

impl CircuitStore for TamperingStore {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, ()> {
        let mut blob = circuit.blob.to_vec();
        let middle = blob.len() / 2;
        blob[middle] ^= 0x20;
        self.0.save(
            id,
            StoredCircuit {
                blob: Bytes::from(blob),
                claim: circuit.claim,
            },
        )
    }
    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<Bytes>> {
        self.0.claim(id, claim)
    }
    fn remove(&self, id: CircuitId) -> StoreFuture<'_, ()> {
        self.0.remove(id)
    }
}

#[tokio::test]
async fn a_tampered_blob_is_refused() {
    let server = server_with(
        TamperingStore(InMemoryCircuitStore::default()),
        key(),
        CircuitOptions::default(),
    )
    .await;
    let mut session = counter_at_three(&server).await;
    session
        .client
        .invoke("PauseCircuit", json!([]))
        .await
        .unwrap();
    let (_, answer) = resume(&server, &session.secret).await;
    assert_eq!(answer, json!(false));
    assert_eq!(server.hub.metrics().active, 0);
}

#[tokio::test]
async fn another_key_a_wrong_secret_or_another_app_cannot_resume() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let foreign_key = server_with(
        store.clone(),
        PersistenceKey::from_bytes(8, [1; 32]),
        CircuitOptions::default(),
    )
    .await;
    let other_app = serve(
        CircuitHub::builder(support::components())
            .persistence(store.clone())
            .persistence_key(key())
            .app_name("another-app"),
    )
    .await;
    for (server, expected_left) in [(&other_app, 0), (&foreign_key, 0)] {
        let mut session = counter_at_three(&a).await;
        session
            .client
            .invoke("PauseCircuit", json!([]))
            .await
            .unwrap();
        // A secret with the right id and a wrong key neither resumes nor consumes the entry.
        let mut forged = session.secret.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        let (_, answer) = resume(&a, &forged).await;
        assert_eq!(answer, json!(false));
        assert_eq!(store.len(), 1);
        let (_, answer) = resume(server, &session.secret).await;
        assert_eq!(answer, json!(false));
        assert_eq!(store.len(), expected_left);
    }
}

/// The in-memory store with write-behind turned on (as the Redis store has it).
struct WriteBehindStore(Arc<InMemoryCircuitStore>, Duration);

impl CircuitStore for WriteBehindStore {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, ()> {
        self.0.save(id, circuit)
    }
    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<Bytes>> {
        self.0.claim(id, claim)
    }
    fn remove(&self, id: CircuitId) -> StoreFuture<'_, ()> {
        self.0.remove(id)
    }
    fn write_behind(&self) -> Option<Duration> {
        Some(self.1)
    }
}

/// Waits until `done` holds, checking as the runtime makes progress.
async fn until(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn write_behind_saves_a_live_circuit_after_changes_and_a_closed_one_leaves_the_store() {
    let memory = Arc::new(InMemoryCircuitStore::default());
    let store = WriteBehindStore(memory.clone(), Duration::from_millis(20));
    let a = server_with(store, key(), CircuitOptions::default()).await;
    let b = server_with(memory.clone(), key(), CircuitOptions::default()).await;
    let mut session = a.start_counter(2).await;
    session.ack(1).await;
    // The live circuit reaches the store without a pause, eviction or shutdown (a kill -9 would lose
    // at most the last interval) ...
    until(|| !memory.is_empty()).await;
    let id = tether::circuit::CircuitSecret::parse(&session.secret)
        .unwrap()
        .id();
    memory.remove(id).await.unwrap();
    // ... and again after each change.
    assert_eq!(session.click().await, (2, "3".to_owned()));
    until(|| !memory.is_empty()).await;
    let (mut client, answer) = resume(&b, &session.secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut client, 3).await;

    // A circuit the browser ends (the disconnect beacon) leaves the store.
    let other = a.start_counter(0).await;
    until(|| !memory.is_empty()).await;
    let body = format!("secret={}", other.secret);
    let closed = support::http(a.addr, "POST", "/_tether/disconnect", &[], &body).await;
    assert_eq!(closed.status, 200);
    until(|| memory.is_empty()).await;
    session.client.drop_socket().await;
}

/// Saves only after a delay (a slow or distant store).
struct SlowStore(Arc<InMemoryCircuitStore>);

impl CircuitStore for SlowStore {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.0.save(id, circuit).await
        })
    }
    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<Bytes>> {
        self.0.claim(id, claim)
    }
    fn remove(&self, id: CircuitId) -> StoreFuture<'_, ()> {
        self.0.remove(id)
    }
}

#[tokio::test]
async fn a_shutdown_tells_the_browser_to_resume_only_once_the_store_has_the_circuit() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(SlowStore(store.clone()), key(), CircuitOptions::default()).await;
    let b = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let mut session = counter_at_three(&a).await;
    let hub = a.hub.clone();
    let shutdown = tokio::spawn(async move { hub.shutdown(Duration::from_secs(5)).await });
    assert_eq!(session.client.expect("T.Persisted").await, [json!(true)]);
    // Straight to the other server, as a tab does: the save must already be there.
    let (mut client, answer) = resume(&b, &session.secret).await;
    assert_eq!(answer, json!(true));
    shows_and_counts_on(&mut client, 3).await;
    assert_eq!(shutdown.await.unwrap().persisted, 1);
}
