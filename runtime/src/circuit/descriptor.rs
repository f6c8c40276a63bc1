//! Prerender descriptors: the signed, time-limited, single-use tokens a prerendered page carries in
//! `<!--t:r:DESCRIPTOR-->` markers so that `StartCircuit` can rebuild its root components.
//!
//! A token is `base64url(payload JSON) "." base64url(HMAC-SHA256(key, payload JSON))`. The payload names the
//! root component type and its JSON props, the page response it belongs to (a random invocation id, shared
//! by every root of one response), its sequence within that response, and its expiry time.
//!
//! Invariants:
//! - Nothing in a payload is trusted before its MAC has been checked (in constant time).
//! - A descriptor is consumed at most once: the `(invocation, sequence)` pair is remembered until it expires.
//!   The memory is bounded; when it is full of live entries, new starts are refused rather than
//!   forgetting a pair early (which would allow a replay).
//! - `StartCircuit` consumes all of its descriptors or none of them.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The server key that signs prerender descriptors. Generated at start-up unless configured; configure
/// the same key on every server behind a load balancer.
#[derive(Clone)]
pub struct DescriptorKey([u8; 32]);

impl DescriptorKey {
    /// A fresh random key (descriptors from an earlier process will not verify).
    ///
    /// # Panics
    /// When the operating system has no random source.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system random source is unavailable");
        Self(key)
    }

    /// A key from 32 bytes of configured secret material.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for DescriptorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DescriptorKey(<redacted>)")
    }
}

/// What a verified descriptor says: which root component to create and with which props.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The registered type name of the root component.
    #[serde(rename = "c")]
    pub component: String,
    /// The root component's props as JSON.
    #[serde(rename = "p")]
    pub props: serde_json::Value,
    /// The page response this descriptor was issued in (base64url, shared by its siblings).
    #[serde(rename = "i")]
    pub invocation: String,
    /// The position of this root component within its response, from 0.
    #[serde(rename = "s")]
    pub sequence: u32,
    /// Expiry, in milliseconds since the Unix epoch.
    #[serde(rename = "x")]
    pub expires_at_ms: u64,
}

/// Why a descriptor was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptorError {
    /// Not of the form `payload.mac`, or the payload is not a descriptor.
    Malformed(&'static str),
    /// The signature does not match: the descriptor was changed or signed with another key.
    Tampered,
    /// The descriptor's lifetime has passed.
    Expired,
    /// The descriptor was already used to start a circuit.
    Replayed,
    /// The descriptor names a component type this server does not know.
    UnknownComponent(String),
    /// The descriptors of one start come from different page responses or are out of sequence.
    Mismatched,
    /// Too many descriptors are live in the single-use memory; try again later.
    Overloaded,
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed prerender descriptor: {why}"),
            Self::Tampered => f.write_str("prerender descriptor signature mismatch (tampered, or signed by another server key)"),
            Self::Expired => f.write_str("prerender descriptor expired: reload the page"),
            Self::Replayed => f.write_str("prerender descriptor already used: reload the page"),
            Self::UnknownComponent(name) => write!(f, "prerender descriptor names unknown component type `{name}`"),
            Self::Mismatched => f.write_str("prerender descriptors come from different responses or are out of order"),
            Self::Overloaded => f.write_str("too many outstanding prerender descriptors: try again later"),
        }
    }
}

impl std::error::Error for DescriptorError {}

/// Signs descriptors for page responses and verifies (and consumes) them at `StartCircuit`.
#[derive(Debug)]
pub struct DescriptorSigner {
    key: DescriptorKey,
    lifetime: Duration,
    used: Mutex<UsedDescriptors>,
}

#[derive(Debug)]
struct UsedDescriptors {
    capacity: usize,
    expiry_by_pair: HashMap<([u8; 16], u32), u64>,
}

impl UsedDescriptors {
    fn prune(&mut self, now_ms: u64) {
        self.expiry_by_pair.retain(|_, expires| *expires >= now_ms);
    }
}

/// One page response's descriptor source: every descriptor it signs shares one invocation id and gets the
/// next sequence number.
#[derive(Debug)]
pub struct ResponseDescriptors<'a> {
    signer: &'a DescriptorSigner,
    invocation: [u8; 16],
    next_sequence: u32,
}

impl ResponseDescriptors<'_> {
    /// Signs a descriptor for the next root component of this response.
    pub fn sign(&mut self, component: &str, props: serde_json::Value) -> String {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.signer.sign(
            self.invocation,
            sequence,
            component,
            props,
            SystemTime::now(),
        )
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl DescriptorSigner {
    /// A signer with `key`, descriptors living `lifetime`, and room to remember `capacity` used ones.
    pub fn new(key: DescriptorKey, lifetime: Duration, capacity: usize) -> Self {
        Self {
            key,
            lifetime,
            used: Mutex::new(UsedDescriptors {
                capacity,
                expiry_by_pair: HashMap::new(),
            }),
        }
    }

    /// Starts a page response: a fresh invocation id, sequences from 0.
    pub fn response(&self) -> ResponseDescriptors<'_> {
        let mut invocation = [0u8; 16];
        getrandom::fill(&mut invocation)
            .expect("the operating system random source is unavailable");
        ResponseDescriptors {
            signer: self,
            invocation,
            next_sequence: 0,
        }
    }

    fn sign(
        &self,
        invocation: [u8; 16],
        sequence: u32,
        component: &str,
        props: serde_json::Value,
        now: SystemTime,
    ) -> String {
        let descriptor = Descriptor {
            component: component.to_owned(),
            props,
            invocation: URL_SAFE_NO_PAD.encode(invocation),
            sequence,
            expires_at_ms: unix_ms(now + self.lifetime),
        };
        let payload = serde_json::to_vec(&descriptor).expect("a descriptor always serialises");
        let mut mac = self.key.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks one token's form and signature and decodes it; does not check expiry or use.
    fn open(&self, token: &str) -> Result<(Descriptor, [u8; 16]), DescriptorError> {
        let (payload_b64, tag_b64) = token
            .split_once('.')
            .ok_or(DescriptorError::Malformed("no `.` separator"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| DescriptorError::Malformed("payload is not base64url"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| DescriptorError::Malformed("signature is not base64url"))?;
        let mut mac = self.key.mac();
        mac.update(&payload);
        mac.verify_slice(&tag)
            .map_err(|_| DescriptorError::Tampered)?;
        let descriptor: Descriptor = serde_json::from_slice(&payload)
            .map_err(|_| DescriptorError::Malformed("payload is not a descriptor"))?;
        let mut invocation = [0u8; 16];
        match URL_SAFE_NO_PAD.decode_slice(descriptor.invocation.as_bytes(), &mut invocation) {
            Ok(16) => Ok((descriptor, invocation)),
            _ => Err(DescriptorError::Malformed("bad invocation id")),
        }
    }

    /// Verifies and consumes the descriptors of one `StartCircuit`: all signed by this server, unexpired,
    /// unused, naming known component types (`is_known`), from one response in sequence order. Either all
    /// are consumed or none.
    pub fn consume(
        &self,
        tokens: &[String],
        is_known: impl Fn(&str) -> bool,
    ) -> Result<Vec<Descriptor>, DescriptorError> {
        self.consume_at(tokens, is_known, SystemTime::now())
    }

    fn consume_at(
        &self,
        tokens: &[String],
        is_known: impl Fn(&str) -> bool,
        now: SystemTime,
    ) -> Result<Vec<Descriptor>, DescriptorError> {
        let now_ms = unix_ms(now);
        let mut opened = Vec::with_capacity(tokens.len());
        for token in tokens {
            let (descriptor, invocation) = self.open(token)?;
            if descriptor.expires_at_ms < now_ms {
                return Err(DescriptorError::Expired);
            }
            if !is_known(&descriptor.component) {
                return Err(DescriptorError::UnknownComponent(descriptor.component));
            }
            opened.push((descriptor, invocation));
        }
        if let Some((_, invocation)) = opened.first() {
            let in_sequence = opened.windows(2).all(|w| w[1].0.sequence > w[0].0.sequence);
            if !in_sequence || opened.iter().any(|(_, i)| i != invocation) {
                return Err(DescriptorError::Mismatched);
            }
        }
        let mut used = self.used.lock();
        if opened
            .iter()
            .any(|(d, i)| used.expiry_by_pair.contains_key(&(*i, d.sequence)))
        {
            return Err(DescriptorError::Replayed);
        }
        if used.expiry_by_pair.len() + opened.len() > used.capacity {
            used.prune(now_ms);
            if used.expiry_by_pair.len() + opened.len() > used.capacity {
                return Err(DescriptorError::Overloaded);
            }
        }
        for (descriptor, invocation) in &opened {
            used.expiry_by_pair
                .insert((*invocation, descriptor.sequence), descriptor.expires_at_ms);
        }
        drop(used);
        Ok(opened.into_iter().map(|(d, _)| d).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signer() -> DescriptorSigner {
        DescriptorSigner::new(DescriptorKey::generate(), Duration::from_secs(300), 100)
    }

    fn known(name: &str) -> bool {
        name == "Counter" || name == "Clock"
    }

    #[test]
    fn a_signed_descriptor_verifies_once() {
        let signer = signer();
        let token = signer.response().sign("Counter", json!({"start": 3}));
        let got = signer.consume(std::slice::from_ref(&token), known).unwrap();
        assert_eq!(got[0].component, "Counter");
        assert_eq!(got[0].props, json!({"start": 3}));
        assert_eq!(got[0].sequence, 0);
        assert_eq!(
            signer.consume(&[token], known).unwrap_err(),
            DescriptorError::Replayed
        );
    }

    #[test]
    fn a_changed_payload_is_tampered() {
        let signer = signer();
        let token = signer.response().sign("Counter", json!({"start": 3}));
        let (payload, tag) = token.split_once('.').unwrap();
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap()
            .replace('3', "9");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(text));
        assert_eq!(
            signer.consume(&[forged], known).unwrap_err(),
            DescriptorError::Tampered
        );
    }

    #[test]
    fn another_servers_key_is_tampered() {
        let token = signer().response().sign("Counter", json!(null));
        assert_eq!(
            signer().consume(&[token], known).unwrap_err(),
            DescriptorError::Tampered
        );
    }

    #[test]
    fn an_old_descriptor_is_expired() {
        let signer = signer();
        let token = signer.response().sign("Counter", json!(null));
        let later = SystemTime::now() + Duration::from_secs(301);
        assert_eq!(
            signer.consume_at(&[token], known, later).unwrap_err(),
            DescriptorError::Expired
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let signer = signer();
        for bad in ["", "abc", "a.b.c", "!!.!!"] {
            assert!(
                matches!(
                    signer.consume(&[bad.into()], known),
                    Err(DescriptorError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_components_are_named() {
        let signer = signer();
        let token = signer.response().sign("Nope", json!(null));
        let err = signer.consume(&[token], known).unwrap_err();
        assert_eq!(err, DescriptorError::UnknownComponent("Nope".into()));
        assert!(err.to_string().contains("`Nope`"));
    }

    #[test]
    fn descriptors_of_one_start_must_share_a_response() {
        let signer = signer();
        let a = signer.response().sign("Counter", json!(null));
        let b = signer.response().sign("Clock", json!(null));
        assert_eq!(
            signer.consume(&[a.clone(), b], known).unwrap_err(),
            DescriptorError::Mismatched
        );
        // Nothing was consumed by the failed start.
        signer.consume(&[a], known).unwrap();
    }

    #[test]
    fn siblings_start_together_in_order() {
        let signer = signer();
        let mut response = signer.response();
        let a = response.sign("Counter", json!(null));
        let b = response.sign("Clock", json!(null));
        assert_eq!(
            signer.consume(&[b.clone(), a.clone()], known).unwrap_err(),
            DescriptorError::Mismatched
        );
        let got = signer.consume(&[a, b], known).unwrap();
        assert_eq!((got[0].sequence, got[1].sequence), (0, 1));
    }

    #[test]
    fn the_used_memory_is_bounded_and_frees_expired_entries() {
        let signer = DescriptorSigner::new(DescriptorKey::generate(), Duration::from_secs(1), 2);
        let t0 = SystemTime::now();
        let sign_at =
            |sequence, at| signer.sign([sequence as u8; 16], sequence, "Counter", json!(null), at);
        for sequence in 0..2 {
            signer
                .consume_at(&[sign_at(sequence, t0)], known, t0)
                .unwrap();
        }
        assert_eq!(
            signer.consume_at(&[sign_at(2, t0)], known, t0).unwrap_err(),
            DescriptorError::Overloaded
        );
        let t2 = t0 + Duration::from_secs(2);
        signer.consume_at(&[sign_at(3, t2)], known, t2).unwrap();
        assert_eq!(signer.used.lock().expiry_by_pair.len(), 1);
    }
}
