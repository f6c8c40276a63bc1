//! Persisting a circuit and opening what was persisted: the sealed blob, its key, and when a circuit
//! persists.
//!
//! What travels (see docs/persistence.md): the circuit's public id, the SHA-256 of its secret key (the
//! resume claim), the signed-in user's id, the URIs, the root components' names and props, and the state
//! of every component that opted in, keyed by tree position. Render trees, handler ids and node ids do
//! not travel: the resuming server renders afresh and the browser attaches to its DOM.
//!
//! Sealing: XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`), a 256-bit key shared by every server,
//! a random 192-bit nonce per blob (large enough that random nonces never repeat in practice, so servers
//! need no shared counter), and the app name and circuit id as associated data. A blob is
//! `"TP1" | key id (4 bytes, big-endian) | nonce (24) | ciphertext and tag`.
//!
//! Key rotation: a hub seals with its newest key and opens with any key it holds (the newest and the
//! retired ones), chosen by the key id in the blob. Roll a new key out to every server as a retired key
//! first, then make it the newest everywhere, then drop the old one once its blobs have expired.
//!
//! Every store call goes through [`Persistence`] (saves and removals through its `saver` queue), which
//! counts persists, resumes and resume failures and times each call ([`CircuitStoreMetrics`], exported by
//! `Metrics::circuits`).
//!
//! Invariants:
//! - Nothing in a blob is read before it has been authenticated with the key its key id names.
//! - A blob opens only for the circuit id and app it was sealed for, before its expiry, for the claim and
//!   user it names.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::saver::Saver;
use super::secret::CircuitId;
use super::store::{CircuitStore, ClaimedCircuit, StoreError, StoredCircuit};
use crate::metrics::CircuitStoreMetrics;

const MAGIC: &[u8; 3] = b"TP1";
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + 4 + NONCE_LEN;

/// The key that seals persisted circuits. Configure the same key (and id) on every server sharing a
/// store; without one, a random key is made at start-up, which suits one process (its blobs cannot be
/// opened by another). The id names the key inside each blob, so a blob sealed with another key is
/// refused by name rather than by a failed decryption alone.
#[derive(Clone)]
pub struct PersistenceKey {
    id: u32,
    key: [u8; 32],
}

impl PersistenceKey {
    /// A random key with a random id (single process).
    ///
    /// # Panics
    /// When the operating system has no random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 36];
        getrandom::fill(&mut bytes).expect("the operating system random source is unavailable");
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[4..]);
        Self {
            id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            key,
        }
    }

    /// A configured key: 32 bytes of secret material and the id that names it.
    pub fn from_bytes(id: u32, key: [u8; 32]) -> Self {
        Self { id, key }
    }

    /// The key's id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Why a configured [`PersistenceKey`] could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceKeyError(&'static str);

impl fmt::Display for PersistenceKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid persistence key ({}); expected `ID:HEX`, a decimal key id, a colon and 64 hex \
             digits (for example from `openssl rand -hex 32`), or the 64 hex digits alone for id 1",
            self.0
        )
    }
}

impl std::error::Error for PersistenceKeyError {}

/// Reads a key as configured: `ID:HEX`, a decimal id, a colon and 64 hex digits (32 bytes), as in
/// `TETHER_PERSISTENCE_KEY=1:$(openssl rand -hex 32)`; or the 64 hex digits alone, for key id 1.
impl std::str::FromStr for PersistenceKey {
    type Err = PersistenceKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (id, hex) = text.trim().split_once(':').unwrap_or(("1", text.trim()));
        let id = id
            .parse()
            .map_err(|_| PersistenceKeyError("the id is not a number below 2^32"))?;
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return Err(PersistenceKeyError("the key is not 64 hex digits"));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(PersistenceKeyError(
                "the key has a character that is not a hex digit",
            )),
        };
        let mut key = [0u8; 32];
        for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
        }
        Ok(Self::from_bytes(id, key))
    }
}

impl fmt::Debug for PersistenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersistenceKey {{ id: {}, key: <redacted> }}", self.id)
    }
}

/// Why a persisted circuit could not be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not a blob of this format.
    Malformed,
    /// Sealed with a key this server does not have.
    UnknownKey(u32),
    /// Authentication failed: changed, or sealed for another app or another circuit.
    Tampered,
    /// Past its lifetime.
    Expired,
    /// Names another circuit, claim or user than the one resuming it.
    Mismatch(&'static str),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("not a persisted circuit blob"),
            Self::UnknownKey(id) => write!(f, "sealed with unknown persistence key id {id}"),
            Self::Tampered => f.write_str(
                "the blob failed authentication (changed, or sealed for another app or circuit)",
            ),
            Self::Expired => f.write_str("the persisted circuit expired"),
            Self::Mismatch(what) => write!(f, "the persisted circuit belongs to another {what}"),
        }
    }
}

/// One root component as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PersistedRoot {
    #[serde(rename = "c")]
    pub(crate) component: String,
    #[serde(rename = "p")]
    pub(crate) props: Value,
}

/// What a circuit's application gives to be persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AppSnapshot {
    #[serde(rename = "b")]
    pub(crate) base_uri: String,
    #[serde(rename = "u")]
    pub(crate) uri: String,
    #[serde(rename = "r")]
    pub(crate) roots: Vec<PersistedRoot>,
    /// Opted-in component states by tree position.
    #[serde(rename = "s")]
    pub(crate) states: Vec<(Vec<u32>, Value)>,
    /// Opted-in per-circuit service states by type name.
    #[serde(rename = "v", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) services: Vec<(String, Value)>,
}

/// The sealed payload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PersistedCircuit {
    #[serde(rename = "i")]
    pub(crate) circuit: String,
    #[serde(rename = "k")]
    pub(crate) claim: String,
    #[serde(rename = "w")]
    pub(crate) user: Option<String>,
    #[serde(rename = "x")]
    pub(crate) expires_at_ms: u64,
    #[serde(rename = "a")]
    pub(crate) app: AppSnapshot,
}

/// A hub's persistence: the store, the queue of saves to it, the keys, the app name, how long blobs stay
/// valid, and the counters.
pub(crate) struct Persistence {
    store: Arc<dyn CircuitStore>,
    pub(crate) saver: Saver,
    /// Newest first: the first seals, every one opens.
    keys: Vec<(u32, XChaCha20Poly1305)>,
    app: String,
    lifetime: Duration,
    pub(crate) metrics: CircuitStoreMetrics,
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Persistence {
    /// `key` seals and opens; `retired` keys only open.
    pub(crate) fn new(
        store: Arc<dyn CircuitStore>,
        key: PersistenceKey,
        retired: Vec<PersistenceKey>,
        app: String,
        lifetime: Duration,
    ) -> Self {
        let keys = std::iter::once(key)
            .chain(retired)
            .map(|k| (k.id, XChaCha20Poly1305::new(&k.key.into())))
            .collect();
        let metrics = crate::metrics::Metrics::new().circuit_store();
        Self {
            saver: Saver::new(store.clone(), metrics.clone()),
            store,
            keys,
            app,
            lifetime,
            metrics,
        }
    }

    /// Whether the store asks for write-behind, and how often.
    pub(crate) fn write_behind(&self) -> Option<Duration> {
        self.store.write_behind()
    }

    /// Times one store call.
    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let outcome = call.await;
        self.metrics.store_latency.observe(started.elapsed());
        outcome
    }

    /// Claims a circuit for a resume (see [`CircuitStore::claim`]).
    pub(crate) async fn claim(
        &self,
        id: CircuitId,
        claim: [u8; 32],
    ) -> Result<Option<ClaimedCircuit>, StoreError> {
        self.timed(self.store.claim(id, claim)).await
    }

    /// The newest generation the store knows of `id`.
    pub(crate) async fn generation(&self, id: CircuitId) -> Result<Option<u64>, StoreError> {
        self.timed(self.store.generation(id)).await
    }

    fn aad(&self, id: CircuitId) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.app.len() + 17);
        aad.extend_from_slice(self.app.as_bytes());
        aad.push(0);
        aad.extend_from_slice(id.as_bytes());
        aad
    }

    /// Seals a circuit's state for the store.
    pub(crate) fn seal(
        &self,
        id: CircuitId,
        claim: [u8; 32],
        generation: u64,
        user: Option<String>,
        app: AppSnapshot,
    ) -> Result<StoredCircuit, String> {
        let payload = PersistedCircuit {
            circuit: id.to_base64(),
            claim: URL_SAFE_NO_PAD.encode(claim),
            user,
            expires_at_ms: unix_ms(SystemTime::now() + self.lifetime),
            app,
        };
        let plain = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let aad = self.aad(id);
        let (key_id, cipher) = &self.keys[0];
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| "encryption failed".to_owned())?;
        let mut blob = Vec::with_capacity(HEADER_LEN + sealed.len());
        blob.extend_from_slice(MAGIC);
        blob.extend_from_slice(&key_id.to_be_bytes());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(StoredCircuit {
            blob: Bytes::from(blob),
            claim,
            generation,
        })
    }

    /// Opens a blob taken from the store for circuit `id`, resumed with `claim` by `user`.
    pub(crate) fn open(
        &self,
        id: CircuitId,
        claim: [u8; 32],
        user: Option<&str>,
        blob: &[u8],
    ) -> Result<AppSnapshot, OpenError> {
        self.open_at(id, claim, user, blob, SystemTime::now())
    }

    fn open_at(
        &self,
        id: CircuitId,
        claim: [u8; 32],
        user: Option<&str>,
        blob: &[u8],
        now: SystemTime,
    ) -> Result<AppSnapshot, OpenError> {
        if blob.len() < HEADER_LEN || &blob[..3] != MAGIC {
            return Err(OpenError::Malformed);
        }
        let key_id = u32::from_be_bytes([blob[3], blob[4], blob[5], blob[6]]);
        let Some((_, cipher)) = self.keys.iter().find(|(id, _)| *id == key_id) else {
            return Err(OpenError::UnknownKey(key_id));
        };
        let nonce = XNonce::from_slice(&blob[7..HEADER_LEN]);
        let aad = self.aad(id);
        let plain = cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &blob[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Tampered)?;
        let payload: PersistedCircuit =
            serde_json::from_slice(&plain).map_err(|_| OpenError::Malformed)?;
        if payload.circuit != id.to_base64() {
            return Err(OpenError::Mismatch("circuit"));
        }
        let expected = URL_SAFE_NO_PAD.encode(claim);
        if !bool::from(payload.claim.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(OpenError::Mismatch("circuit secret"));
        }
        if payload.expires_at_ms < unix_ms(now) {
            return Err(OpenError::Expired);
        }
        if payload.user.as_deref() != user {
            return Err(OpenError::Mismatch("user"));
        }
        Ok(payload.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::store::InMemoryCircuitStore;
    use crate::circuit::CircuitSecret;

    fn persistence(key: PersistenceKey, app: &str) -> Persistence {
        rotated(key, Vec::new(), app)
    }

    fn rotated(key: PersistenceKey, retired: Vec<PersistenceKey>, app: &str) -> Persistence {
        Persistence::new(
            Arc::new(InMemoryCircuitStore::default()),
            key,
            retired,
            app.into(),
            Duration::from_secs(60),
        )
    }

    fn snapshot() -> AppSnapshot {
        AppSnapshot {
            base_uri: "http://x/".into(),
            uri: "http://x/".into(),
            roots: vec![PersistedRoot {
                component: "Counter".into(),
                props: serde_json::json!({"start": 0}),
            }],
            states: vec![(vec![0], serde_json::json!({"count": 3}))],
            services: vec![("Cart".into(), serde_json::json!(["tea"]))],
        }
    }

    #[test]
    fn a_sealed_blob_opens_only_for_its_circuit_app_key_claim_and_user() {
        let key = PersistenceKey::generate();
        let p = persistence(key.clone(), "app");
        let secret = CircuitSecret::generate();
        let (id, claim) = (secret.id(), secret.key().claim());
        let sealed = p
            .seal(id, claim, 1, Some("ann".into()), snapshot())
            .unwrap();
        let blob = &sealed.blob[..];
        assert_eq!(p.open(id, claim, Some("ann"), blob).unwrap(), snapshot());
        let other = CircuitSecret::generate();
        assert_eq!(
            p.open(other.id(), claim, Some("ann"), blob).unwrap_err(),
            OpenError::Tampered
        );
        assert_eq!(
            p.open(id, other.key().claim(), Some("ann"), blob)
                .unwrap_err(),
            OpenError::Mismatch("circuit secret")
        );
        assert_eq!(
            p.open(id, claim, Some("bob"), blob).unwrap_err(),
            OpenError::Mismatch("user")
        );
        assert_eq!(
            persistence(key.clone(), "other-app")
                .open(id, claim, Some("ann"), blob)
                .unwrap_err(),
            OpenError::Tampered
        );
        let stranger = persistence(PersistenceKey::generate(), "app");
        assert!(matches!(
            stranger.open(id, claim, Some("ann"), blob).unwrap_err(),
            OpenError::UnknownKey(_)
        ));
        let mut changed = blob.to_vec();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert_eq!(
            p.open(id, claim, Some("ann"), &changed).unwrap_err(),
            OpenError::Tampered
        );
        let later = SystemTime::now() + Duration::from_secs(61);
        assert_eq!(
            p.open_at(id, claim, Some("ann"), blob, later).unwrap_err(),
            OpenError::Expired
        );
        assert_eq!(
            p.open(id, claim, None, b"junk").unwrap_err(),
            OpenError::Malformed
        );
    }

    #[test]
    fn a_rotated_hub_seals_with_its_newest_key_and_opens_with_every_key_it_holds() {
        let (old, new) = (
            PersistenceKey::from_bytes(1, [1; 32]),
            PersistenceKey::from_bytes(2, [2; 32]),
        );
        let before = persistence(old.clone(), "app");
        let during = rotated(new.clone(), vec![old.clone()], "app");
        let after = persistence(new, "app");
        let secret = CircuitSecret::generate();
        let (id, claim) = (secret.id(), secret.key().claim());
        let sealed_before = before.seal(id, claim, 1, None, snapshot()).unwrap();
        let sealed_during = during.seal(id, claim, 1, None, snapshot()).unwrap();
        assert_eq!(
            &sealed_during.blob[3..7],
            &2u32.to_be_bytes(),
            "the newest key seals"
        );
        assert_eq!(
            during.open(id, claim, None, &sealed_before.blob).unwrap(),
            snapshot()
        );
        assert_eq!(
            during.open(id, claim, None, &sealed_during.blob).unwrap(),
            snapshot()
        );
        assert_eq!(
            after.open(id, claim, None, &sealed_during.blob).unwrap(),
            snapshot()
        );
        assert_eq!(
            after
                .open(id, claim, None, &sealed_before.blob)
                .unwrap_err(),
            OpenError::UnknownKey(1),
            "a dropped key opens nothing"
        );
    }

    #[test]
    fn a_configured_key_reads_as_id_colon_hex() {
        let key: PersistenceKey = format!("7:{}", "0a".repeat(32)).parse().unwrap();
        assert_eq!((key.id(), key.key), (7, [10; 32]));
        for bad in [
            "7",
            "x:00",
            &format!("7:{}", "0".repeat(63)),
            &format!("7:{}", "g".repeat(64)),
        ] {
            let error = bad.parse::<PersistenceKey>().unwrap_err().to_string();
            assert!(error.starts_with("invalid persistence key ("), "{error}");
            assert!(
                !error.contains(bad) || bad.len() < 3,
                "the key is never echoed"
            );
        }
    }
}
