//! Circuit identity: a public [`CircuitId`] for logs and handlers, and a [`CircuitSecret`] that only the
//! browser holds.
//!
//! A secret is the public id (128 random bits) followed by a key (256 random bits), encoded as URL-safe
//! base64 without padding (64 characters). The registry finds a circuit by the public part and then compares
//! the key in constant time, so a lookup never leaks how many leading bytes of a guess were right, and the map
//! is never keyed by anything secret. Secrets are never logged: their `Debug` output is redacted and they
//! have no `Display`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

const ID_LEN: usize = 16;
const KEY_LEN: usize = 32;
const ENCODED_LEN: usize = 64;

/// The public identity of a circuit: random, safe to log and to show to circuit handlers. Knowing it does
/// not allow connecting to the circuit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CircuitId([u8; ID_LEN]);

impl CircuitId {
    /// The id as 22 URL-safe base64 characters (the form used in logs).
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl CircuitId {
    pub(crate) fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }
}

impl fmt::Display for CircuitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for CircuitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CircuitId({self})")
    }
}

/// The key part of a circuit secret, held by the registry entry. Compared in constant time.
#[derive(Clone)]
pub(crate) struct CircuitKey([u8; KEY_LEN]);

impl CircuitKey {
    /// Whether `other` equals this key, in time independent of where they differ.
    pub(crate) fn matches(&self, other: &CircuitKey) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl CircuitKey {
    /// SHA-256 of the key: what a circuit store keeps to check a resume claim (the key stays secret).
    pub(crate) fn claim(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.0).into()
    }
}

impl fmt::Debug for CircuitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CircuitKey(<redacted>)")
    }
}

/// The secret that lets a browser connect to its circuit: returned once by `StartCircuit`, sent back by
/// `ConnectCircuit` and the disconnect beacon. Its `Debug` output is redacted.
#[derive(Clone)]
pub struct CircuitSecret {
    id: CircuitId,
    key: CircuitKey,
}

/// Why a string is not a well-formed circuit secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedSecret;

impl fmt::Display for MalformedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a circuit secret is {ENCODED_LEN} URL-safe base64 characters"
        )
    }
}

impl std::error::Error for MalformedSecret {}

impl CircuitSecret {
    /// A new secret from the operating system's random source (128 bits of id, 256 bits of key).
    ///
    /// # Panics
    /// When the operating system has no random source, which leaves no safe way to make circuits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; ID_LEN + KEY_LEN];
        getrandom::fill(&mut bytes).expect("the operating system random source is unavailable");
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; ID_LEN + KEY_LEN]) -> Self {
        let mut id = [0u8; ID_LEN];
        let mut key = [0u8; KEY_LEN];
        id.copy_from_slice(&bytes[..ID_LEN]);
        key.copy_from_slice(&bytes[ID_LEN..]);
        Self {
            id: CircuitId(id),
            key: CircuitKey(key),
        }
    }

    /// Parses the string form a browser sends back.
    pub fn parse(text: &str) -> Result<Self, MalformedSecret> {
        if text.len() != ENCODED_LEN {
            return Err(MalformedSecret);
        }
        let mut bytes = [0u8; ID_LEN + KEY_LEN];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
            Ok(n) if n == bytes.len() => Ok(Self::from_bytes(&bytes)),
            _ => Err(MalformedSecret),
        }
    }

    /// The string form given to the browser. Never log it.
    pub fn expose(&self) -> String {
        let mut bytes = [0u8; ID_LEN + KEY_LEN];
        bytes[..ID_LEN].copy_from_slice(&self.id.0);
        bytes[ID_LEN..].copy_from_slice(&self.key.0);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The public part, used to find the circuit.
    pub fn id(&self) -> CircuitId {
        self.id
    }

    pub(crate) fn key(&self) -> &CircuitKey {
        &self.key
    }
}

impl fmt::Debug for CircuitSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CircuitSecret {{ id: {}, key: <redacted> }}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_string_form() {
        let secret = CircuitSecret::generate();
        let text = secret.expose();
        assert_eq!(text.len(), ENCODED_LEN);
        let parsed = CircuitSecret::parse(&text).unwrap();
        assert_eq!(parsed.id(), secret.id());
        assert!(parsed.key().matches(secret.key()));
    }

    #[test]
    fn two_secrets_differ_in_id_and_key() {
        let a = CircuitSecret::generate();
        let b = CircuitSecret::generate();
        assert_ne!(a.id(), b.id());
        assert!(!a.key().matches(b.key()));
    }

    #[test]
    fn debug_output_never_contains_the_key() {
        let secret = CircuitSecret::generate();
        let text = secret.expose();
        let debug = format!("{secret:?} {:?}", secret.key());
        assert!(debug.contains("<redacted>"));
        assert!(!debug.contains(&text[22..]), "{debug}");
        assert!(debug.contains(&secret.id().to_string()));
    }

    #[test]
    fn a_changed_key_does_not_match() {
        let secret = CircuitSecret::generate();
        let mut text = secret.expose().into_bytes();
        let last = text.len() - 2;
        text[last] = if text[last] == b'A' { b'B' } else { b'A' };
        let forged = CircuitSecret::parse(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(forged.id(), secret.id());
        assert!(!forged.key().matches(secret.key()));
    }

    #[test]
    fn malformed_strings_are_rejected() {
        for bad in [
            "",
            "short",
            &"!".repeat(64),
            &"A".repeat(63),
            &"A".repeat(65),
        ] {
            assert_eq!(
                CircuitSecret::parse(bad).unwrap_err(),
                MalformedSecret,
                "{bad}"
            );
        }
    }
}
