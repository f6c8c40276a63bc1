//! `Chunked` call reassembly.
//!
//! Input: a limit byte, then stream items (JSON values, one per line). Invariants: the reassembler never
//! accepts more than its limit (the sum of accepted chunks stays within it, and a refused chunk is the one
//! that would cross it); non-string items are refused; the finished text is exactly the accepted chunks,
//! in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tether::fuzzing::Chunks;

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let limit = usize::from(limit) * 16;
    let mut chunks = Chunks::new(limit);
    let mut accepted = String::new();
    for line in text.lines() {
        let Ok(item) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match (chunks.push(&item), item.as_str()) {
            (Ok(()), Some(s)) => accepted.push_str(s),
            (Ok(()), None) => panic!("a non-string item was accepted: {item}"),
            (Err(e), Some(s)) => {
                assert!(
                    accepted.len() + s.len() > limit,
                    "refused within the limit: {e}"
                );
                assert!(e.contains("max_chunked_call_size"), "{e}");
                // The call is over: the server drops the reassembler.
                return;
            }
            (Err(_), None) => return,
        }
        assert!(
            accepted.len() <= limit,
            "holding {} of {limit} bytes",
            accepted.len()
        );
    }
    assert_eq!(
        chunks.finish(),
        accepted,
        "reassembly lost or reordered text"
    );
});
