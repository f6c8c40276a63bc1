//! The hub handshake: request parsing and the response encoder.
//!
//! Invariants: an accepted handshake is `json` or `messagepack`, version 1 or 2; a rejection has a non-empty reason; the
//! response carrying any reason is one JSON object (separator last and nowhere else) whose `error` is that
//! reason, so the client always reads why it was refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::fuzzing::{handshake_response, parse_handshake};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let record = text.strip_suffix('\u{1e}').unwrap_or(text);
    let error = match parse_handshake(record) {
        Ok((protocol, version)) => {
            assert!(
                protocol == "json" || protocol == "messagepack",
                "accepted protocol {protocol}"
            );
            assert!((1..=2).contains(&version), "accepted version {version}");
            assert_eq!(handshake_response(None), b"{}\x1e");
            return;
        }
        Err(error) => error,
    };
    assert!(!error.is_empty());
    for reason in [error.as_str(), text] {
        let response = handshake_response(Some(reason));
        assert_eq!(response.last(), Some(&0x1e));
        let body = &response[..response.len() - 1];
        assert!(
            !body.contains(&0x1e),
            "separator inside the handshake response"
        );
        let value: serde_json::Value = serde_json::from_slice(body).expect("response is JSON");
        assert_eq!(value["error"].as_str(), Some(reason));
    }
});
