//! Prerender descriptor and circuit secret decoding.
//!
//! Input: text whose first line is tried as a circuit secret and the rest as `StartCircuit` descriptor
//! tokens (one per line); then a genuine descriptor is signed and the input is spliced into it.
//! Invariants: a secret that parses has exactly one string form, the one it was parsed from; forged or
//! garbled tokens are refused, never accepted; a genuine token is accepted once and then refused as
//! replayed; any change to a genuine token makes it refused.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tether::circuit::{CircuitSecret, DescriptorError, DescriptorKey, DescriptorSigner};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.lines();
    let secret = lines.next().unwrap_or("");
    if let Ok(parsed) = CircuitSecret::parse(secret) {
        assert_eq!(parsed.expose(), secret, "two string forms for one secret");
        assert_eq!(
            CircuitSecret::parse(&parsed.expose()).unwrap().id(),
            parsed.id()
        );
    }

    let signer = DescriptorSigner::new(
        DescriptorKey::from_bytes([7; 32]),
        Duration::from_secs(60),
        64,
    );
    let forged: Vec<String> = lines.map(str::to_owned).collect();
    if !forged.is_empty() {
        assert!(
            signer.consume(&forged, |_| true).is_err(),
            "a token this server never signed was accepted: {forged:?}"
        );
    }

    let props = serde_json::json!({ "input": secret });
    let genuine = signer.response().sign("Counter", props.clone());
    let accepted = signer
        .consume(std::slice::from_ref(&genuine), |name| name == "Counter")
        .expect("a fresh genuine descriptor is accepted");
    assert_eq!(accepted[0].props, props);
    assert_eq!(
        signer
            .consume(std::slice::from_ref(&genuine), |_| true)
            .unwrap_err(),
        DescriptorError::Replayed
    );

    // Splice the input into a second genuine token at a position taken from its length.
    let genuine = signer.response().sign("Counter", serde_json::json!(1));
    let at = text.len() % (genuine.len() + 1);
    let mut changed = genuine.clone();
    changed.replace_range(at..(at + secret.len()).min(genuine.len()), secret);
    if changed != genuine {
        assert!(
            signer.consume(&[changed.clone()], |_| true).is_err(),
            "a changed token was accepted: {changed:?} (genuine {genuine:?})"
        );
    }
});
