//! [`RedisCircuitStore`]: persisted circuits in Redis, shared by every server that uses the same Redis.
//!
//! One hash per circuit, `tether:circuit:{id}`: `c` the 32-byte claim (the SHA-256 of the circuit's
//! secret), `g` the generation, `b` the sealed blob; with a TTL (8 hours by default) so abandoned circuits
//! go away on their own. A save replaces the hash and restarts the TTL.
//!
//! Every operation is one Lua script, so each check and its write are atomic on the Redis side:
//! - save writes only when the stored generation is not higher (a server holding a stale copy of a
//!   circuit resumed elsewhere is fenced out, see [`crate::circuit::store`]);
//! - claim compares the claim, takes the blob and leaves the hash as a fence at the next generation, so of
//!   two servers (or tabs) racing to resume one circuit at most one gets the blob, and a wrong claim leaves
//!   the entry in place (the comparison in Lua is not constant-time; what it compares is a hash of a
//!   256-bit secret, which leaks nothing useful through timing);
//! - remove deletes only a generation that is not newer than the remover's.
//!
//! Every call has a deadline: Redis being away is an error after [`StoreOptions::timeout`], never a hang.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::RedisError;
use crate::circuit::store::{ClaimedCircuit, SaveOutcome};
use crate::circuit::{CircuitId, CircuitStore, StoreError, StoreFuture, StoredCircuit};

/// KEYS[1] the circuit; ARGV: claim, generation, blob, TTL in ms. 1 when saved, 0 when fenced.
const SAVE_SCRIPT: &str = r"
local held = tonumber(redis.call('HGET', KEYS[1], 'g'))
if held and held > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'g', ARGV[2], 'b', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";

/// KEYS[1] the circuit; ARGV[1] the claim. `{blob, generation}` or nil; leaves a fence.
const CLAIM_SCRIPT: &str = r"
local held = redis.call('HMGET', KEYS[1], 'c', 'g', 'b')
if not held[3] or held[1] ~= ARGV[1] then return false end
redis.call('HDEL', KEYS[1], 'b')
redis.call('HSET', KEYS[1], 'g', tonumber(held[2]) + 1)
return {held[3], held[2]}
";

/// KEYS[1] the circuit; ARGV[1] the remover's generation.
const REMOVE_SCRIPT: &str = r"
local held = tonumber(redis.call('HGET', KEYS[1], 'g'))
if held and held <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
return 1
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
    save_script: redis::Script,
    claim_script: redis::Script,
    remove_script: redis::Script,
    options: StoreOptions,
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
            save_script: redis::Script::new(SAVE_SCRIPT),
            claim_script: redis::Script::new(CLAIM_SCRIPT),
            remove_script: redis::Script::new(REMOVE_SCRIPT),
            options,
        })
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
        match tokio::time::timeout(self.options.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("redis {what}: {e}")),
            Err(_) => Err(format!(
                "redis {what}: no answer within {:?}",
                self.options.timeout
            )),
        }
    }

    /// Saves circuit `id` (replacing an older generation, restarting the TTL); `false` when fenced.
    pub(crate) async fn save_entry(
        &self,
        id: &str,
        claim: &[u8; 32],
        generation: u64,
        blob: &[u8],
    ) -> Result<bool, String> {
        let ttl_ms = u64::try_from(self.options.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.conn.clone();
        let mut invocation = self.save_script.key(self.key(id));
        invocation
            .arg(&claim[..])
            .arg(generation)
            .arg(blob)
            .arg(ttl_ms);
        let saved: i64 = self
            .deadline("save script", invocation.invoke_async(&mut conn))
            .await?;
        Ok(saved == 1)
    }

    /// Saves several circuits in one pipeline (one round trip), in order, each through the fencing save
    /// script; one answer per entry (`true` saved, `false` fenced). A Redis that lost its script cache
    /// (restarted) answers NOSCRIPT: the script is loaded and the pipeline sent once more, which is safe
    /// because a pipeline that failed on NOSCRIPT wrote nothing (every entry runs the same script).
    pub(crate) async fn save_entries(
        &self,
        entries: &[(String, &[u8; 32], u64, &[u8])],
    ) -> Result<Vec<bool>, String> {
        let ttl_ms = u64::try_from(self.options.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        for (id, claim, generation, blob) in entries {
            pipe.cmd("EVALSHA")
                .arg(self.save_script.get_hash())
                .arg(1)
                .arg(self.key(id))
                .arg(&claim[..])
                .arg(*generation)
                .arg(*blob)
                .arg(ttl_ms);
        }
        let mut conn = self.conn.clone();
        let first = tokio::time::timeout(
            self.options.timeout,
            pipe.query_async::<Vec<i64>>(&mut conn),
        )
        .await;
        let answers = match first {
            Ok(Err(e))
                if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.deadline("SCRIPT LOAD", self.save_script.load_async(&mut conn))
                    .await?;
                self.deadline("save pipeline", pipe.query_async::<Vec<i64>>(&mut conn))
                    .await?
            }
            Ok(Ok(answers)) => answers,
            Ok(Err(e)) => return Err(format!("redis save pipeline: {e}")),
            Err(_) => {
                return Err(format!(
                    "redis save pipeline: no answer within {:?}",
                    self.options.timeout
                ))
            }
        };
        Ok(answers.into_iter().map(|saved| saved == 1).collect())
    }

    /// Takes circuit `id` out when `claim` matches, atomically, leaving a fence (see the module docs).
    pub(crate) async fn claim_entry(
        &self,
        id: &str,
        claim: &[u8; 32],
    ) -> Result<Option<ClaimedCircuit>, String> {
        let mut conn = self.conn.clone();
        let mut invocation = self.claim_script.key(self.key(id));
        invocation.arg(&claim[..]);
        let claimed: Option<(Vec<u8>, u64)> = self
            .deadline("claim script", invocation.invoke_async(&mut conn))
            .await?;
        Ok(claimed.map(|(blob, generation)| ClaimedCircuit {
            blob: Bytes::from(blob),
            generation,
        }))
    }

    /// Forgets circuit `id` unless a newer generation holds it.
    pub(crate) async fn remove_entry(&self, id: &str, generation: u64) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let mut invocation = self.remove_script.key(self.key(id));
        invocation.arg(generation);
        self.deadline("remove script", invocation.invoke_async::<()>(&mut conn))
            .await
    }

    /// The generation held for circuit `id`.
    pub(crate) async fn generation_of(&self, id: &str) -> Result<Option<u64>, String> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.key(id)).arg("g");
        self.deadline("HGET", cmd.query_async(&mut conn)).await
    }
}

impl CircuitStore for RedisCircuitStore {
    fn save(&self, id: CircuitId, circuit: StoredCircuit) -> StoreFuture<'_, SaveOutcome> {
        Box::pin(async move {
            let id = id.to_string();
            let saved = self
                .save_entry(&id, &circuit.claim, circuit.generation, &circuit.blob)
                .await
                .map_err(StoreError::new)?;
            Ok(if saved {
                SaveOutcome::Saved
            } else {
                SaveOutcome::Fenced
            })
        })
    }

    fn save_many(
        &self,
        circuits: Vec<(CircuitId, StoredCircuit)>,
    ) -> StoreFuture<'_, Vec<SaveOutcome>> {
        Box::pin(async move {
            let entries: Vec<_> = circuits
                .iter()
                .map(|(id, circuit)| {
                    (
                        id.to_string(),
                        &circuit.claim,
                        circuit.generation,
                        &circuit.blob[..],
                    )
                })
                .collect();
            let saved = self.save_entries(&entries).await.map_err(StoreError::new)?;
            Ok(saved
                .into_iter()
                .map(|saved| {
                    if saved {
                        SaveOutcome::Saved
                    } else {
                        SaveOutcome::Fenced
                    }
                })
                .collect())
        })
    }

    fn claim(&self, id: CircuitId, claim: [u8; 32]) -> StoreFuture<'_, Option<ClaimedCircuit>> {
        Box::pin(async move {
            self.claim_entry(&id.to_string(), &claim)
                .await
                .map_err(StoreError::new)
        })
    }

    fn remove(&self, id: CircuitId, generation: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.remove_entry(&id.to_string(), generation)
                .await
                .map_err(StoreError::new)
        })
    }

    fn generation(&self, id: CircuitId) -> StoreFuture<'_, Option<u64>> {
        Box::pin(async move {
            self.generation_of(&id.to_string())
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
        let store = RedisCircuitStore::new(&url).unwrap();
        let id = unique("single-use");
        let (right, wrong) = ([7u8; 32], [8u8; 32]);
        assert!(store.save_entry(&id, &right, 1, b"first").await.unwrap());
        assert!(store.save_entry(&id, &right, 1, b"sealed").await.unwrap());
        assert_eq!(store.claim_entry(&id, &wrong).await.unwrap(), None);
        let claimed = store.claim_entry(&id, &right).await.unwrap().unwrap();
        assert_eq!(
            (&claimed.blob[..], claimed.generation),
            (&b"sealed"[..], 1),
            "a wrong claim leaves the entry; the later save wins"
        );
        assert_eq!(store.claim_entry(&id, &right).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_claim_fences_the_older_generation_out() {
        let Some(url) = url() else { return };
        let store = RedisCircuitStore::new(&url).unwrap();
        let id = unique("fence");
        assert_eq!(store.generation_of(&id).await.unwrap(), None);
        assert!(store.save_entry(&id, &[1; 32], 5, b"a").await.unwrap());
        store.claim_entry(&id, &[1; 32]).await.unwrap().unwrap();
        assert_eq!(store.generation_of(&id).await.unwrap(), Some(6));
        // The old holder's late write and removal change nothing.
        assert!(!store.save_entry(&id, &[1; 32], 5, b"stale").await.unwrap());
        store.remove_entry(&id, 5).await.unwrap();
        assert_eq!(store.claim_entry(&id, &[1; 32]).await.unwrap(), None);
        assert!(store.save_entry(&id, &[1; 32], 6, b"b").await.unwrap());
        let claimed = store.claim_entry(&id, &[1; 32]).await.unwrap().unwrap();
        assert_eq!((&claimed.blob[..], claimed.generation), (&b"b"[..], 6));
        store.remove_entry(&id, 7).await.unwrap();
        assert_eq!(store.generation_of(&id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_pipelined_save_keeps_every_entry_and_the_later_save_of_one_circuit_wins() {
        let Some(url) = url() else { return };
        let store = RedisCircuitStore::new(&url).unwrap();
        let (a, b) = (unique("pipeline-a"), unique("pipeline-b"));
        let entries: [(String, &[u8; 32], u64, &[u8]); 3] = [
            (a.clone(), &[4; 32], 1, b"a1"),
            (b.clone(), &[5; 32], 1, b"b1"),
            (a.clone(), &[4; 32], 1, b"a2"),
        ];
        assert_eq!(
            store.save_entries(&entries).await.unwrap(),
            [true, true, true]
        );
        let claimed = |c: Option<ClaimedCircuit>| c.map(|c| c.blob);
        assert_eq!(
            claimed(store.claim_entry(&a, &[4; 32]).await.unwrap()).as_deref(),
            Some(&b"a2"[..])
        );
        assert_eq!(
            claimed(store.claim_entry(&b, &[5; 32]).await.unwrap()).as_deref(),
            Some(&b"b1"[..])
        );
        // After the claim, a's entry is a fence at generation 2: a pipelined stale save is refused.
        let stale: [(String, &[u8; 32], u64, &[u8]); 1] = [(a.clone(), &[4; 32], 1, b"a3")];
        assert_eq!(store.save_entries(&stale).await.unwrap(), [false]);
    }

    #[tokio::test]
    async fn of_many_concurrent_claims_exactly_one_wins() {
        let Some(url) = url() else { return };
        let store = std::sync::Arc::new(RedisCircuitStore::new(&url).unwrap());
        let id = unique("race");
        store.save_entry(&id, &[1; 32], 1, b"blob").await.unwrap();
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
        store.save_entry(&a, &[2; 32], 1, b"x").await.unwrap();
        store.remove_entry(&a, 1).await.unwrap();
        store.remove_entry(&a, 1).await.unwrap();
        assert_eq!(store.claim_entry(&a, &[2; 32]).await.unwrap(), None);
        store.save_entry(&b, &[3; 32], 1, b"y").await.unwrap();
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
        let error = store.save_entry("x", &[0; 32], 1, b"y").await.unwrap_err();
        assert!(error.starts_with("redis save script"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
