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
    CircuitHub, CircuitId, CircuitOptions, CircuitSecret, CircuitStore, ClaimedCircuit,
    InMemoryCircuitStore, PersistenceKey, SaveOutcome, StoreFuture, StoredCircuit,
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

/// After a successful resume: the rebuilt circuit's first batch shows `count`; returns the increment
/// handler id (the batch is acknowledged).
async fn shows_on(client: &mut HubClient, count: i64) -> u64 {
    let (id, first) = batch(&client.expect("T.Batch").await);
    assert_eq!(id, 1, "a resumed circuit's batches count from 1");
    let html = attach_html(&first);
    assert_eq!(text_of(&html, "count"), Some(count.to_string()));
    client.send("OnRenderCompleted", json!([1, null])).await;
    support::attribute_of(&html, "increment", "t-click")
        .and_then(|v| v.parse().ok())
        .expect("handler id")
}

/// After a successful resume: the rebuilt circuit shows `count`, and a click adds one.
async fn shows_and_counts_on(client: &mut HubClient, count: i64) {
    let increment = shows_on(client, count).await;
    client
        .send("DispatchEvent", json!([increment, "click", {}]))
        .await;
    let (id, update) = batch(&client.expect("T.Batch").await);
    assert_eq!(
        (id, support::text_update(&update)),
        (2, Some((count + 1).to_string()))
    );
}

/// Resumes `secret` on `server`, which must accept it: the circuit shows `count` and a click adds one.
async fn resumes_and_counts(server: &TestServer, secret: &str, count: i64) -> HubClient {
    let (mut client, answer) = resume(server, secret).await;
    assert_eq!(answer, json!(true), "the resume is accepted");
    shows_and_counts_on(&mut client, count).await;
    client
}

/// A counter clicked to 3 on `server`, then paused: the store holds it, no server runs it.
async fn paused_at_three(server: &TestServer) -> Session {
    let mut session = counter_at_three(server).await;
    session
        .client
        .invoke("PauseCircuit", json!([]))
        .await
        .unwrap();
    session
}

/// Two servers sharing one in-memory store and the key, as two processes share Redis.
async fn two_servers_sharing_a_store() -> (Arc<InMemoryCircuitStore>, TestServer, TestServer) {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let b = server_with(store.clone(), key(), CircuitOptions::default()).await;
    (store, a, b)
}

/// A counter started at 3 on a server with write-behind, once the store holds it (no click follows the
/// first render, so the first save has the count 3).
async fn written_behind_at_three(server: &TestServer, memory: &InMemoryCircuitStore) -> Session {
    let mut session = server.start_counter(3).await;
    session.ack(1).await;
    until(|| memory.len() == 1).await;
    session
}

#[tokio::test]
async fn a_paused_circuit_resumes_on_another_server_sharing_the_store_and_only_once() {
    let (store, a, b) = two_servers_sharing_a_store().await;
    let mut session = counter_at_three(&a).await;
    assert_eq!(
        session.client.invoke("PauseCircuit", json!([])).await,
        Ok(json!(true))
    );
    assert_eq!(session.client.expect("T.Persisted").await, [json!(false)]);
    assert_eq!(a.hub.metrics().active, 0);
    assert_eq!(store.len(), 1);

    let _on_b = resumes_and_counts(&b, &session.secret, 3).await;
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
    let (_, a, b) = two_servers_sharing_a_store().await;
    let session = paused_at_three(&a).await;
    let secret = session.secret.clone();
    let _on_b = resumes_and_counts(&b, &secret, 3).await;
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
    // Eviction persists on a task: wait for the store to hold it.
    until(|| !store.is_empty()).await;
    assert_eq!(server.hub.metrics().evicted, 1);
    let _client = resumes_and_counts(&server, &secret, 3).await;
}

#[tokio::test]
async fn shutdown_persists_every_live_circuit_and_tells_the_browser_to_resume() {
    let (_, a, b) = two_servers_sharing_a_store().await;
    let mut first = counter_at_three(&a).await;
    let mut second = a.start_counter(10).await;
    let report = a.hub.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.circuits, report.persisted, report.lost), (2, 2, 0));
    assert_eq!(first.client.expect("T.Persisted").await, [json!(true)]);
    assert_eq!(second.client.expect("T.Persisted").await, [json!(true)]);
    let _first = resumes_and_counts(&b, &first.secret, 3).await;
    let _second = resumes_and_counts(&b, &second.secret, 10).await;
}

/// The in-memory store (shared, so a test can look into it) with what a save does or whether write-behind
/// is on changed: a tampering, slow or failing store, or one that persists live circuits as Redis does.
struct StoreWith {
    memory: Arc<InMemoryCircuitStore>,
    save: SaveFn,
    write_behind: Option<Duration>,
}

/// What a [`StoreWith`] does with a save, given the memory it stores in.
type SaveFn = Box<
    dyn Fn(Arc<InMemoryCircuitStore>, CircuitId, StoredCircuit) -> StoreFuture<'static, SaveOutcome>
        + Send
        + Sync,
>;

impl StoreWith {
    /// Saves as the in-memory store does; no write-behind.
    fn memory(memory: Arc<InMemoryCircuitStore>) -> Self {
        StoreWith {
            memory,
            save: Box::new(|memory, id, circuit| {
                Box::pin(async move { memory.save(id, circuit).await })
            }),
            write_behind: None,
        }
    }

    /// Saves through `save` instead.
    fn on_save(
        mut self,
        save: impl Fn(
                Arc<InMemoryCircuitStore>,
                CircuitId,
                StoredCircuit,
            ) -> StoreFuture<'static, SaveOutcome>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.save = Box::new(save);
        self
    }

    /// Asks for write-behind every `interval`.
    fn write_behind(mut self, interval: Duration) -> Self {
        self.write_behind = Some(interval);
        self
    }
}

impl CircuitStore for StoreWith {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, SaveOutcome> {
        (self.save)(self.memory.clone(), id, circuit)
    }
    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<ClaimedCircuit>> {
        self.memory.claim(id, claim)
    }
    fn remove(&self, id: CircuitId, generation: u64) -> StoreFuture<'_, ()> {
        self.memory.remove(id, generation)
    }
    fn generation(&self, id: CircuitId) -> StoreFuture<'_, Option<u64>> {
        self.memory.generation(id)
    }
    fn write_behind(&self) -> Option<Duration> {
        self.write_behind
    }
}

/// Flips one byte of every blob it saves (an attacker with write access to the store).
fn tampering_store() -> StoreWith {
    StoreWith::memory(Arc::default()).on_save(|memory, id, circuit| {
        let mut blob = circuit.blob.to_vec();
        let middle = blob.len() / 2;
        blob[middle] ^= 0x20;
        let circuit = StoredCircuit {
            blob: Bytes::from(blob),
            ..circuit
        };
        Box::pin(async move { memory.save(id, circuit).await })
    })
}

#[tokio::test]
async fn a_tampered_blob_is_refused() {
    let server = server_with(tampering_store(), key(), CircuitOptions::default()).await;
    let session = paused_at_three(&server).await;
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
        let session = paused_at_three(&a).await;
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

/// Two servers sharing one in-memory store with write-behind every `interval`, as two processes share
/// Redis.
async fn write_behind_pair(
    interval: Duration,
) -> (Arc<InMemoryCircuitStore>, TestServer, TestServer) {
    let memory = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(
        StoreWith::memory(memory.clone()).write_behind(interval),
        key(),
        CircuitOptions::default(),
    )
    .await;
    let b = server_with(
        StoreWith::memory(memory.clone()).write_behind(interval),
        key(),
        CircuitOptions::default(),
    )
    .await;
    (memory, a, b)
}

fn id_of(secret: &str) -> CircuitId {
    CircuitSecret::parse(secret).unwrap().id()
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
    let store = StoreWith::memory(memory.clone()).write_behind(Duration::from_millis(20));
    let a = server_with(store, key(), CircuitOptions::default()).await;
    let b = server_with(memory.clone(), key(), CircuitOptions::default()).await;
    let mut session = a.start_counter(2).await;
    session.ack(1).await;
    // The live circuit reaches the store without a pause, eviction or shutdown (a kill -9 would lose
    // at most the last interval) ...
    until(|| !memory.is_empty()).await;
    memory.remove(id_of(&session.secret), 1).await.unwrap();
    // ... and again after each change.
    assert_eq!(session.click().await, (2, "3".to_owned()));
    until(|| !memory.is_empty()).await;
    let _client = resumes_and_counts(&b, &session.secret, 3).await;

    // A circuit the browser ends (the disconnect beacon) leaves the store.
    let other = a.start_counter(0).await;
    until(|| !memory.is_empty()).await;
    assert_eq!(a.end_by_beacon(&other.secret).await, 200);
    until(|| memory.is_empty()).await;
    session.client.drop_socket().await;
}

#[tokio::test]
async fn a_stale_write_from_the_old_server_does_not_overwrite_the_resumed_circuit() {
    let (memory, a, b) = write_behind_pair(Duration::from_millis(20)).await;
    let mut on_a = written_behind_at_three(&a, &memory).await;
    let id = id_of(&on_a.secret);
    // A network cut that the old server has not noticed: the browser resumes on B.
    let (mut on_b, answer) = resume(&b, &on_a.secret).await;
    assert_eq!(answer, json!(true));
    shows_on(&mut on_b, 3).await;
    // The old copy on A changes (3 -> 4); its write-behind is fenced out and that copy ends.
    assert_eq!(on_a.click().await, (2, "4".to_owned()));
    let error = on_a.client.expect("T.Error").await;
    assert!(
        error[0].as_str().unwrap().contains("another server"),
        "{error:?}"
    );
    until(|| a.hub.metrics().active == 0).await;
    // What the store keeps is B's state: a third server resumes B's 3, not A's 4.
    let report = b.hub.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.persisted, 1);
    assert_eq!(memory.generation(id).await.unwrap(), Some(2));
    let c = server_with(memory.clone(), key(), CircuitOptions::default()).await;
    let _on_c = resumes_and_counts(&c, &on_a.secret, 3).await;
    assert_eq!(memory.generation(id).await.unwrap(), Some(3));
}

#[tokio::test]
async fn a_reconnect_to_a_stale_copy_is_refused_once_another_server_resumed_the_circuit() {
    let (memory, a, b) = write_behind_pair(Duration::from_millis(20)).await;
    let session = written_behind_at_three(&a, &memory).await;
    let secret = session.secret.clone();
    session.client.drop_socket().await;
    until(|| a.hub.metrics().disconnected == 1).await;
    let _on_b = resumes_and_counts(&b, &secret, 3).await;
    // A still holds its retained copy, but the shared store says the circuit moved on. (A resume on A
    // would take the circuit's newest state from the store, as on any server: that is a move, not this.)
    assert_eq!(a.hub.metrics().active, 1);
    let mut on_a = HubClient::connect(a.addr, a.hub.path()).await;
    let answer = on_a.invoke("ConnectCircuit", json!([secret])).await;
    assert_eq!(answer, Ok(json!(false)));
    assert_eq!(a.hub.metrics().active, 0, "the stale copy ended");
    assert_eq!(b.hub.metrics().active, 1);
}

#[tokio::test]
async fn persists_resumes_failures_and_store_latency_show_at_the_metrics_endpoint() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let metrics = tether::metrics::Metrics::new();
    metrics.circuits(&a.hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, metrics.router("/metrics")));

    let session = paused_at_three(&a).await;
    let _client = resumes_and_counts(&a, &session.secret, 3).await;
    let (_, refused) = resume(&a, "not-a-secret").await;
    assert_eq!(refused, json!(false));

    let page = support::http(metrics_addr, "GET", "/metrics", &[], "").await;
    assert_eq!(page.status, 200);
    let sample = |name: &str| -> u64 {
        let line = page
            .body
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{}", page.body));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(sample("tether_circuits_persisted_total"), 1);
    assert_eq!(sample("tether_circuits_resumed_total"), 1);
    assert_eq!(sample("tether_circuit_resume_failures_total"), 1);
    // One save and one claim (the malformed secret never reaches the store).
    assert_eq!(sample("tether_circuit_store_seconds_count"), 2);
}

#[tokio::test]
async fn a_hub_with_a_retired_key_resumes_circuits_sealed_before_the_rotation() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let (old, new) = (key(), PersistenceKey::from_bytes(8, [9; 32]));
    let before = server_with(store.clone(), old.clone(), CircuitOptions::default()).await;
    let after = serve(
        CircuitHub::builder(support::components())
            .persistence(store.clone())
            .persistence_key(new.clone())
            .retired_persistence_key(old.clone()),
    )
    .await;
    let first = paused_at_three(&before).await;
    let mut client = resumes_and_counts(&after, &first.secret, 3).await;
    // Sealed with the new key now: a server that only knows the old key cannot open it.
    client.invoke("PauseCircuit", json!([])).await.unwrap();
    let (_, answer) = resume(&before, &first.secret).await;
    assert_eq!(answer, json!(false));
    let clash = CircuitHub::builder(support::components())
        .persistence(InMemoryCircuitStore::default())
        .persistence_key(new)
        .retired_persistence_key(PersistenceKey::from_bytes(8, [1; 32]))
        .build();
    assert!(clash.unwrap_err().to_string().contains("share an id"));
}

#[tokio::test]
async fn a_failed_write_behind_retries_until_the_store_is_back_without_another_change() {
    let memory = Arc::new(InMemoryCircuitStore::default());
    let back = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Away (every save fails) until `back` is set, as Redis during an outage.
    let store = StoreWith::memory(memory.clone())
        .write_behind(Duration::from_millis(10))
        .on_save({
            let (back, failed) = (back.clone(), failed.clone());
            move |memory, id, circuit| {
                let up = back.load(std::sync::atomic::Ordering::SeqCst);
                if !up {
                    failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Box::pin(async move {
                    if !up {
                        return Err(tether::circuit::StoreError::new("connection refused"));
                    }
                    memory.save(id, circuit).await
                })
            }
        });
    let a = server_with(store, key(), CircuitOptions::default()).await;
    let session = counter_at_three(&a).await;
    // The store is away: the circuit works on, and its save is retried (more than once) although
    // nothing changes.
    until(|| failed.load(std::sync::atomic::Ordering::SeqCst) >= 2).await;
    assert!(memory.is_empty());
    back.store(true, std::sync::atomic::Ordering::SeqCst);
    until(|| memory.len() == 1).await;
    let b = server_with(memory.clone(), key(), CircuitOptions::default()).await;
    let _client = resumes_and_counts(&b, &session.secret, 3).await;
}

#[tokio::test]
async fn a_shutdown_tells_the_browser_to_resume_only_once_the_store_has_the_circuit() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = server_with(
        // Saves only after a delay (a slow or distant store).
        StoreWith::memory(store.clone()).on_save(|memory, id, circuit| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                memory.save(id, circuit).await
            })
        }),
        key(),
        CircuitOptions::default(),
    )
    .await;
    let b = server_with(store.clone(), key(), CircuitOptions::default()).await;
    let mut session = counter_at_three(&a).await;
    let hub = a.hub.clone();
    let shutdown = tokio::spawn(async move { hub.shutdown(Duration::from_secs(5)).await });
    assert_eq!(session.client.expect("T.Persisted").await, [json!(true)]);
    // Straight to the other server, as a tab does: the save must already be there.
    let _client = resumes_and_counts(&b, &session.secret, 3).await;
    assert_eq!(shutdown.await.unwrap().persisted, 1);
}
