//! The batch-acknowledgement path: `OnRenderCompleted` arguments and the circuit's ack bookkeeping,
//! checked against a model.
//!
//! Input: a limit byte, then one operation per line: `render` records a batch (when there is room), any
//! other line is decoded as the `OnRenderCompleted` argument array and applied. Invariants (runtime
//! circuit/acks.rs): ids rise by one from 1; an ack above the last sent id or with an error is fatal; an ack
//! at or below the last acknowledged id is stale and changes nothing; an ack releases every batch up to it;
//! no more than `limit` batches are ever held; a reconnect re-sends exactly the unacknowledged ids, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::fuzzing::{decode_ack_arguments, Acks};

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let limit = usize::from(limit % 32).max(1);
    let mut acks = Acks::new(limit);
    let (mut last_sent, mut last_acked) = (0u64, 0u64);
    for line in text.lines() {
        if line == "render" {
            assert_eq!(acks.has_room(), last_sent - last_acked < limit as u64);
            if acks.has_room() {
                assert_eq!(acks.record(), last_sent + 1);
                last_sent += 1;
            }
        } else if let Ok((batch, error)) = decode_ack_arguments(line) {
            let had_error = error.is_some();
            match acks.acknowledge(batch, error) {
                Ok(released) => {
                    assert!(!had_error && batch <= last_sent);
                    assert_eq!(released, batch > last_acked);
                    last_acked = last_acked.max(batch);
                }
                Err(reason) => {
                    assert!(
                        had_error || batch > last_sent,
                        "refused a valid ack: {reason}"
                    );
                    // The circuit ends here.
                    return;
                }
            }
        } else {
            continue;
        }
        let expected: Vec<u64> = (last_acked + 1..=last_sent).collect();
        assert_eq!(acks.unacknowledged(), expected);
        assert!(expected.len() <= limit);
    }
});
