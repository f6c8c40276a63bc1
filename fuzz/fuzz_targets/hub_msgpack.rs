//! The MessagePack hub protocol: length-prefixed framing and the translation of messages to and from the
//! JSON records the hub handles.
//!
//! Input: bytes as they arrive on a transport; the first byte picks how they are cut into frames.
//! Invariants: the splitter yields the same messages, or fails, however the bytes are cut; every message
//! either parses or gets a protocol error; a parsed message written natively gives one message that parses
//! and writes to the same bytes; its JSON form is a valid JSON hub message, and writing that back as
//! MessagePack gives one length-prefixed message with the same JSON form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::fuzzing::{
    msgpack_to_record, parse_and_encode_message, records_to_msgpack, reencode_msgpack,
    split_msgpack,
};

/// The per-message limit (small, so the fuzzer reaches the refusal).
const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let stride = usize::from(cut % 64) + 1;
    let frames: Vec<&[u8]> = bytes.chunks(stride).collect();

    let cut_up = split_msgpack(&frames, MAX);
    let whole = split_msgpack(&[bytes], MAX);
    match (&cut_up, &whole) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "messages depend on how the bytes were cut"),
        (Err(_), Err(_)) => {}
        _ => panic!("cut into frames: {cut_up:?}; whole: {whole:?}"),
    }
    let Ok(messages) = whole else {
        return;
    };

    for message in &messages {
        assert!(
            message.len() <= MAX,
            "a message over the limit was let through"
        );
        // Natively (payloads stay MessagePack values): writing what was parsed gives one message that
        // parses and writes to the same bytes again.
        if let Ok(Some(written)) = reencode_msgpack(message) {
            let again = split_msgpack(&[&written], usize::MAX).expect("a written message splits");
            assert_eq!(again.len(), 1, "one message writes one message");
            let rewritten = reencode_msgpack(&again[0])
                .unwrap_or_else(|e| panic!("a written message does not parse: {e}"))
                .expect("a known type stays known");
            assert_eq!(rewritten, written, "native writing is not stable");
        }
        let Ok(Some(record)) = msgpack_to_record(message) else {
            continue;
        };
        assert!(
            !record.contains('\u{1e}'),
            "separator inside a record: {record:?}"
        );
        parse_and_encode_message(&record)
            .unwrap_or_else(|e| panic!("the record {record:?} does not parse as JSON: {e}"))
            .expect("a translated message has a known type");
        let mut frame = record.clone().into_bytes();
        frame.push(0x1e);
        let written = records_to_msgpack(&frame);
        let again = split_msgpack(&[&written], usize::MAX)
            .unwrap_or_else(|e| panic!("the written message for {record:?} does not split: {e}"));
        assert_eq!(again.len(), 1, "one record writes one message");
        let back = msgpack_to_record(&again[0])
            .unwrap_or_else(|e| panic!("the written message for {record:?} does not parse: {e}"))
            .expect("a known type stays known");
        assert_eq!(back, record, "the translation is not stable");
    }
});
