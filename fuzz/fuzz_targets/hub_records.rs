//! Hub record framing and the message parser.
//!
//! Input: UTF-8 text as it arrives on a transport; the first byte picks how it is cut into frames.
//! Invariants: the record buffer yields the same records however the text is cut, and keeps exactly the
//! unterminated tail; every record either parses or gets a protocol error; a parsed message encodes to
//! one record (separator last and nowhere else) that parses back and encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::fuzzing::{parse_and_encode_message, split_records};

const SEPARATOR: char = '\u{1e}';

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };

    // Frames of `stride` characters (1..=64), cut on character boundaries.
    let stride = usize::from(cut % 64) + 1;
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .step_by(stride)
        .chain([text.len()])
        .collect();
    let frames: Vec<&str> = bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect();

    let (records, pending) = split_records(&frames);
    let (whole, whole_pending) = split_records(&[text]);
    assert_eq!(
        records, whole,
        "records depend on how the text was cut into frames"
    );
    assert_eq!(pending, whole_pending);
    let mut expected: Vec<&str> = text.split(SEPARATOR).collect();
    let tail = expected.pop().unwrap_or("");
    assert_eq!(records, expected);
    assert_eq!(pending, tail.len());

    for record in &records {
        let Ok(Some(encoded)) = parse_and_encode_message(record) else {
            continue;
        };
        assert_eq!(
            encoded.last(),
            Some(&0x1e),
            "an encoded message ends with the separator"
        );
        let body =
            std::str::from_utf8(&encoded[..encoded.len() - 1]).expect("encoder writes UTF-8");
        assert!(
            !body.contains(SEPARATOR),
            "separator inside an encoded message: {body:?}"
        );
        let again = parse_and_encode_message(body)
            .unwrap_or_else(|e| panic!("re-parsing {body:?} (from {record:?}) failed: {e}"))
            .expect("a known type stays known");
        assert_eq!(encoded, again, "encoding is not stable for {record:?}");
    }
});
