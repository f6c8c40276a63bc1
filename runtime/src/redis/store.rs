//! [`RedisCircuitStore`]: persisted circuits in Redis, shared by every server that uses the same Redis.
//!
//! One key per circuit, `tether:circuit:{id}`, holding the 32-byte claim (the SHA-256 of the circuit's
//! secret) followed by the sealed blob, with a TTL (8 hours by default) so abandoned circuits go away on
//! their own. A later save replaces the value and restarts the TTL.
//!
//! The claim is atomic and single-use on the Redis side: one Lua script compares the stored claim and
//! deletes the key in the same step, so of two servers (or tabs) racing to resume one circuit at most one
//! gets the blob, and a wrong claim leaves the entry in place. (The comparison in Lua is not constant-time;
//! what it compares is a hash of a 256-bit secret, which leaks nothing useful through timing.)
//!
//! Every call has a deadline: Redis being away is an error after [`StoreOptions::timeout`], never a hang.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::RedisError;
use crate::circuit::{CircuitId, CircuitStore, StoreError, StoreFuture, StoredCircuit};
use crate::metrics::{Histogram, Metrics};

const CLAIM_SCRIPT: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return false end
if string.sub(value, 1, 32) ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return string.sub(value, 33)
";

/// Options of a [`RedisCircuitStore`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a persisted circuit is kept (8 hours by default, as Blazor's distributed cache).
    pub ttl: Duration,
    /// Write-behind: live circuits persist at most this often each (1 s by default), so a crashed server
    /// loses at most about that much of a user's state. `None` persists only on eviction, shutdown, pause.
    pub write_behind: Option<Duration>,
    /// Each Redis call fails after this long.
    pub timeout: Duration,
    /// Key prefix (`tether:circuit:` by default); apps sharing a Redis use different ones.
    pub key_prefix: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            ttl: Duration::from_secs(8 * 60 * 60),
            write_behind: Some(Duration::from_secs(1)),
            timeout: Duration::from_secs(2),
            key_prefix: "tether:circuit:".to_owned(),
        }
    }
}

/// Persisted circuits in Redis (see the module docs for the layout and the claim).
pub struct RedisCircuitStore {
    conn: ConnectionManager,
    claim_script: redis::Script,
    options: StoreOptions,
    latency: Option<Histogram>,
}

impl std::fmt::Debug for RedisCircuitStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCircuitStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisCircuitStore {
    /// A store on the Redis at `url` with the default options. Needs a Tokio runtime; connects lazily, so
    /// Redis being down now is not an error (the first calls fail until it is back).
    pub fn new(url: &str) -> Result<Self, RedisError> {
        Self::with_options(url, StoreOptions::default())
    }

    /// A store with `options`.
    pub fn with_options(url: &str, options: StoreOptions) -> Result<Self, RedisError> {
        let client = redis::Client::open(url).map_err(|e| RedisError::url(url, e))?;
        tokio::runtime::Handle::try_current().map_err(|_| RedisError::NoRuntime)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisError::url(url, e))?;
        Ok(RedisCircuitStore {
            conn,
            claim_script: redis::Script::new(CLAIM_SCRIPT),
            options,
            latency: None,
        })
    }

    /// Records how long each Redis call takes in `metrics` (`tether_circuit_store_seconds`).
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.latency = Some(metrics.circuit_store().store_latency);
        self
    }

    /// The options in force.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.options.key_prefix)
    }

    async fn deadline<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.options.timeout, call).await;
        if let Some(latency) = &self.latency {
            latency.observe(started.elapsed());
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("redis {what}: {e}")),
            Err(_) => Err(format!(
                "redis {what}: no answer within {:?}",
                self.options.timeout
            )),
        }
    }

    /// Saves circuit `id` (replacing an earlier entry, restarting its TTL).
    pub(crate) async fn save_entry(
        &self,
        id: &str,
        claim: &[u8; 32],
        blob: &[u8],
    ) -> Result<(), String> {
        let mut value = Vec::with_capacity(32 + blob.len());
        value.extend_from_slice(claim);
        value.extend_from_slice(blob);
        let ttl_ms = u64::try_from(self.options.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(id)).arg(value).arg("PX").arg(ttl_ms);
        self.deadline("SET", cmd.query_async::<()>(&mut conn)).await
    }

    /// Saves several circuits in one pipeline (one round trip), in order.
    pub(crate) async fn save_entries(
        &self,
        entries: &[(String, &[u8; 32], &[u8])],
    ) -> Result<(), String> {
        let ttl_ms = u64::try_from(self.options.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        for (id, claim, blob) in entries {
            let mut value = Vec::with_capacity(32 + blob.len());
            value.extend_from_slice(&claim[..]);
            value.extend_from_slice(blob);
            pipe.cmd("SET")
                .arg(self.key(id))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        let mut conn = self.conn.clone();
        self.deadline("SET pipeline", pipe.query_async::<()>(&mut conn))
            .await
    }

    /// Takes circuit `id` out when `claim` matches, atomically (see the module docs).
    pub(crate) async fn claim_entry(
        &self,
        id: &str,
        claim: &[u8; 32],
    ) -> Result<Option<Bytes>, String> {
        let mut conn = self.conn.clone();
        let mut invocation = self.claim_script.key(self.key(id));
        invocation.arg(&claim[..]);
        let blob: Option<Vec<u8>> = self
            .deadline("claim script", invocation.invoke_async(&mut conn))
            .await?;
        Ok(blob.map(Bytes::from))
    }

    /// Forgets circuit `id`.
    pub(crate) async fn remove_entry(&self, id: &str) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(id));
        self.deadline("DEL", cmd.query_async::<()>(&mut conn)).await
    }
}

impl CircuitStore for RedisCircuitStore {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.save_entry(&id.to_string(), &circuit.claim, &circuit.blob)
                .await
                .map_err(StoreError::new)
        })
    }

    fn save_many(&self, circuits: Vec<(CircuitId, StoredCircuit)>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let entries: Vec<_> = circuits
                .iter()
                .map(|(id, circuit)| (id.to_string(), &circuit.claim, &circuit.blob[..]))
                .collect();
            self.save_entries(&entries).await.map_err(StoreError::new)
        })
    }

    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<Bytes>> {
        Box::pin(async move {
            self.claim_entry(&id.to_string(), &claim)
                .await
                .map_err(StoreError::new)
        })
    }

    fn remove(&self, id: CircuitId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.remove_entry(&id.to_string())
                .await
                .map_err(StoreError::new)
        })
    }

    fn write_behind(&self) -> Option<Duration> {
        self.options.write_behind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Option<String> {
        let url = std::env::var("TETHER_TEST_REDIS_URL").ok();
        if url.is_none() {
            eprintln!("SKIPPED: TETHER_TEST_REDIS_URL is not set (tests/run starts a redis-server and sets it)");
        }
        url
    }

    fn unique(name: &str) -> String {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        format!("{name}-{}", u64::from_le_bytes(bytes))
    }

    #[tokio::test]
    async fn a_claim_is_single_use_and_needs_the_right_claim() {
        let Some(url) = url() else { return };
        let metrics = Metrics::new();
        let store = RedisCircuitStore::new(&url).unwrap().with_metrics(&metrics);
        let id = unique("single-use");
        let (right, wrong) = ([7u8; 32], [8u8; 32]);
        store.save_entry(&id, &right, b"first").await.unwrap();
        store.save_entry(&id, &right, b"sealed").await.unwrap();
        assert_eq!(store.claim_entry(&id, &wrong).await.unwrap(), None);
        assert_eq!(
            store.claim_entry(&id, &right).await.unwrap().as_deref(),
            Some(&b"sealed"[..]),
            "a wrong claim leaves the entry; the later save wins"
        );
        assert_eq!(store.claim_entry(&id, &right).await.unwrap(), None);
        assert_eq!(metrics.circuit_store().store_latency.count(), 5);
    }

    #[tokio::test]
    async fn a_pipelined_save_keeps_every_entry_and_the_later_save_of_one_circuit_wins() {
        let Some(url) = url() else { return };
        let store = RedisCircuitStore::new(&url).unwrap();
        let (a, b) = (unique("pipeline-a"), unique("pipeline-b"));
        let entries: [(String, &[u8; 32], &[u8]); 3] = [
            (a.clone(), &[4; 32], b"a1"),
            (b.clone(), &[5; 32], b"b1"),
            (a.clone(), &[4; 32], b"a2"),
        ];
        store.save_entries(&entries).await.unwrap();
        assert_eq!(
            store.claim_entry(&a, &[4; 32]).await.unwrap().as_deref(),
            Some(&b"a2"[..])
        );
        assert_eq!(
            store.claim_entry(&b, &[5; 32]).await.unwrap().as_deref(),
            Some(&b"b1"[..])
        );
    }

    #[tokio::test]
    async fn of_many_concurrent_claims_exactly_one_wins() {
        let Some(url) = url() else { return };
        let store = std::sync::Arc::new(RedisCircuitStore::new(&url).unwrap());
        let id = unique("race");
        store.save_entry(&id, &[1; 32], b"blob").await.unwrap();
        let claims: Vec<_> = (0..16)
            .map(|_| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move { store.claim_entry(&id, &[1; 32]).await.unwrap() })
            })
            .collect();
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.unwrap().is_some());
        }
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn removed_and_expired_entries_are_gone() {
        let Some(url) = url() else { return };
        let options = StoreOptions {
            ttl: Duration::from_millis(50),
            ..StoreOptions::default()
        };
        let store = RedisCircuitStore::with_options(&url, options).unwrap();
        let (a, b) = (unique("removed"), unique("expired"));
        store.save_entry(&a, &[2; 32], b"x").await.unwrap();
        store.remove_entry(&a).await.unwrap();
        store.remove_entry(&a).await.unwrap();
        assert_eq!(store.claim_entry(&a, &[2; 32]).await.unwrap(), None);
        store.save_entry(&b, &[3; 32], b"y").await.unwrap();
        // Redis expires the key itself; waiting past the TTL is the behaviour under test.
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.claim_entry(&b, &[3; 32]).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_within_the_deadline() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = StoreOptions {
            timeout: Duration::from_millis(500),
            ..StoreOptions::default()
        };
        let store =
            RedisCircuitStore::with_options(&format!("redis://127.0.0.1:{port}"), options).unwrap();
        let started = std::time::Instant::now();
        let error = store.save_entry("x", &[0; 32], b"y").await.unwrap_err();
        assert!(error.starts_with("redis SET"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
