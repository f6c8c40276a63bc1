//! Golden tests of the JSON hub protocol: exact bytes each way, and the exact error for each malformed input.

use super::*;

fn raw(text: &str) -> Payload {
    Payload::Json(RawValue::from_string(text.to_owned()).unwrap())
}

fn encode(m: &HubMessage) -> String {
    let mut out = Vec::new();
    write_message(m, &mut out);
    String::from_utf8(out).unwrap()
}

fn parse_err(text: &str) -> String {
    parse_message(text).unwrap_err().0
}

/// Golden vectors: each line is the exact wire text; it parses to the message and encodes back to itself.
#[test]
fn an_invocation_frame_equals_the_serialised_invocation() {
    let arguments = RawValue::from_string(r#"[3,[[8,4,"a\"b"]]]"#.into()).unwrap();
    let mut expected = Vec::new();
    write_invocation(&mut expected, None, "T.Batch", &arguments, &[]);
    let frame = invocation_frame("T.Batch", |out| out.push_str(arguments.get()));
    assert_eq!(
        String::from_utf8(frame).unwrap(),
        String::from_utf8(expected).unwrap()
    );
}

#[test]
fn golden_round_trip_every_type() {
    let cases: Vec<(&str, HubMessage)> = vec![
        (
            r#"{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",42,null,{"a":[1]}]}"#,
            HubMessage::Invocation {
                invocation_id: Some("1".into()),
                target: "Echo".into(),
                arguments: raw(r#"["hi",42,null,{"a":[1]}]"#),
                stream_ids: vec![],
            },
        ),
        (
            r#"{"type":1,"target":"Notify","arguments":[]}"#,
            HubMessage::Invocation {
                invocation_id: None,
                target: "Notify".into(),
                arguments: raw("[]"),
                stream_ids: vec![],
            },
        ),
        (
            r#"{"type":1,"invocationId":"2","target":"Upload","arguments":[],"streamIds":["0"]}"#,
            HubMessage::Invocation {
                invocation_id: Some("2".into()),
                target: "Upload".into(),
                arguments: raw("[]"),
                stream_ids: vec!["0".into()],
            },
        ),
        (
            r#"{"type":2,"invocationId":"0","item":{"x":"é"}}"#,
            HubMessage::StreamItem {
                invocation_id: "0".into(),
                item: raw(r#"{"x":"é"}"#),
            },
        ),
        (
            r#"{"type":3,"invocationId":"1","result":"ok"}"#,
            HubMessage::Completion {
                invocation_id: "1".into(),
                outcome: CompletionOutcome::Result(raw(r#""ok""#)),
            },
        ),
        (
            r#"{"type":3,"invocationId":"1","result":null}"#,
            HubMessage::Completion {
                invocation_id: "1".into(),
                outcome: CompletionOutcome::Result(raw("null")),
            },
        ),
        (
            r#"{"type":3,"invocationId":"1","error":"boom"}"#,
            HubMessage::Completion {
                invocation_id: "1".into(),
                outcome: CompletionOutcome::Error("boom".into()),
            },
        ),
        (
            r#"{"type":3,"invocationId":"1"}"#,
            HubMessage::Completion {
                invocation_id: "1".into(),
                outcome: CompletionOutcome::Void,
            },
        ),
        (
            r#"{"type":4,"invocationId":"3","target":"Counter","arguments":[5,10]}"#,
            HubMessage::StreamInvocation {
                invocation_id: "3".into(),
                target: "Counter".into(),
                arguments: raw("[5,10]"),
                stream_ids: vec![],
            },
        ),
        (
            r#"{"type":5,"invocationId":"3"}"#,
            HubMessage::CancelInvocation {
                invocation_id: "3".into(),
            },
        ),
        (r#"{"type":6}"#, HubMessage::Ping),
        (
            r#"{"type":7}"#,
            HubMessage::Close {
                error: None,
                allow_reconnect: false,
            },
        ),
        (
            r#"{"type":7,"error":"bye","allowReconnect":true}"#,
            HubMessage::Close {
                error: Some("bye".into()),
                allow_reconnect: true,
            },
        ),
        (
            r#"{"type":8,"sequenceId":1394}"#,
            HubMessage::Ack { sequence_id: 1394 },
        ),
        (
            r#"{"type":9,"sequenceId":1}"#,
            HubMessage::Sequence { sequence_id: 1 },
        ),
    ];
    for (wire, message) in cases {
        let parsed = parse_message(wire).unwrap_or_else(|e| panic!("{wire}: {e}"));
        assert_eq!(
            format!("{parsed:?}"),
            format!("{message:?}"),
            "parse {wire}"
        );
        assert_eq!(encode(&message), format!("{wire}\u{1e}"), "encode {wire}");
    }
}

#[test]
fn parsing_ignores_unknown_properties_and_accepts_headers() {
    let m = parse_message(
        r#"{"type":1,"headers":{"a":"b"},"target":"T","arguments":[],"extra":{"deep":[1]}}"#,
    )
    .unwrap();
    assert!(matches!(m, HubMessage::Invocation { ref target, .. } if target == "T"));
}

#[test]
fn unknown_type_is_skippable() {
    assert!(matches!(
        parse_message(r#"{"type":42,"x":1}"#).unwrap(),
        HubMessage::Unknown(42)
    ));
}

#[test]
fn invalid_messages_give_exact_errors() {
    let cases = [
        (r#"{}"#, "Missing required property 'type'."),
        (
            r#"{"type":"1"}"#,
            "Expected 'type' to be a non-negative integer.",
        ),
        (
            r#"{"type":1,"arguments":[]}"#,
            "Missing required property 'target'.",
        ),
        (
            r#"{"type":1,"target":"T"}"#,
            "Missing required property 'arguments'.",
        ),
        (
            r#"{"type":1,"target":"T","arguments":{}}"#,
            "Expected 'arguments' to be an array.",
        ),
        (
            r#"{"type":2,"item":1}"#,
            "Missing required property 'invocationId'.",
        ),
        (
            r#"{"type":2,"invocationId":"1"}"#,
            "Missing required property 'item'.",
        ),
        (
            r#"{"type":3,"invocationId":"1","result":1,"error":"e"}"#,
            "The 'error' and 'result' properties are mutually exclusive.",
        ),
        (
            r#"{"type":3,"result":1}"#,
            "Missing required property 'invocationId'.",
        ),
        (
            r#"{"type":4,"target":"T","arguments":[]}"#,
            "Missing required property 'invocationId'.",
        ),
        (r#"{"type":5}"#, "Missing required property 'invocationId'."),
        (r#"{"type":8}"#, "Missing required property 'sequenceId'."),
        (r#"{"type":9}"#, "Missing required property 'sequenceId'."),
        (
            r#"{"type":1,"target":5,"arguments":[]}"#,
            "Invalid message: invalid type: integer `5`, expected a string at line 1 column 20.",
        ),
        (
            r#"{"type":1,"target":"T","arguments":[]"#,
            "Message is not valid JSON: EOF while parsing an object at line 1 column 37.",
        ),
        ("[1]", "Message must be a JSON object."),
    ];
    for (wire, expected) in cases {
        assert_eq!(parse_err(wire), expected, "{wire}");
    }
}

#[test]
fn handshake_accepts_json_v1_and_v2() {
    assert_eq!(
        parse_handshake(r#"{"protocol":"json","version":1}"#).unwrap(),
        HandshakeRequest {
            protocol: HubProtocol::Json,
            version: 1
        }
    );
    assert_eq!(
        parse_handshake(r#"{"version":2,"protocol":"json"}"#)
            .unwrap()
            .version,
        2
    );
}

#[test]
fn bad_handshakes_give_exact_errors() {
    let cases = [
        (
            r#"{"protocol":"protobuf","version":1}"#,
            "The protocol 'protobuf' is not supported by this server (supported: json, messagepack).",
        ),
        (
            r#"{"protocol":"json","version":3}"#,
            "The server does not support version 3 of the 'json' protocol (supported: 1, 2).",
        ),
        (
            r#"{"version":1}"#,
            "Handshake request is missing the 'protocol' property.",
        ),
        (
            r#"{"protocol":"json"}"#,
            "Handshake request is missing the 'version' property.",
        ),
        (
            r#"{"protocol":1,"version":1}"#,
            "Handshake 'protocol' must be a string.",
        ),
        (
            r#"{"protocol":"json","version":"1"}"#,
            "Handshake 'version' must be a non-negative integer.",
        ),
        (
            "{nope",
            "Handshake request is not a valid JSON object: key must be a string at line 1 column 2.",
        ),
        (
            "[1,2]",
            "Handshake request must be a JSON object like {\"protocol\":\"json\",\"version\":1}.",
        ),
        (
            "nope",
            "Handshake request must be a JSON object like {\"protocol\":\"json\",\"version\":1}.",
        ),
    ];
    for (wire, expected) in cases {
        assert_eq!(parse_handshake(wire).unwrap_err().0, expected, "{wire}");
    }
}

#[test]
fn handshake_responses() {
    let mut out = Vec::new();
    write_handshake_response(&mut out, None);
    assert_eq!(out, b"{}\x1e");
    out.clear();
    write_handshake_response(&mut out, Some("no \"way\""));
    assert_eq!(out, b"{\"error\":\"no \\\"way\\\"\"}\x1e");
}

#[test]
fn record_buffer_splits_several_messages_and_keeps_partial_tail() {
    let mut buffer = RecordBuffer::default();
    assert_eq!(
        buffer.push("{\"type\":6}\u{1e}{\"type\":6}\u{1e}{\"ty"),
        vec!["{\"type\":6}", "{\"type\":6}"]
    );
    assert_eq!(buffer.pending_len(), 4);
    assert_eq!(buffer.push("pe\":6}\u{1e}"), vec!["{\"type\":6}"]);
    assert_eq!(buffer.pending_len(), 0);
}
