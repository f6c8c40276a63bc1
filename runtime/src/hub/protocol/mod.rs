//! The JSON hub protocol: handshake, the nine message types, record framing. The MessagePack protocol
//! ([`msgpack`]) translates to and from these JSON records at the connection's edge.
//!
//! Every message is one UTF-8 JSON object followed by the record separator byte `0x1E`; one transport frame
//! may carry several records, and a record may (on HTTP transports) be split across frames, so the
//! connection keeps the unterminated tail and prepends it to the next frame ([`RecordBuffer`]).
//!
//! Parsing is strict about what the protocol requires (a `type`, the fields each type needs, `result` and
//! `error` never both) and lenient about what it may grow (unknown properties are ignored, unknown message
//! types parse as [`HubMessage::Unknown`] so the connection can skip them). Every rejection is a
//! [`ProtocolError`] whose text is fixed and covered by the golden tests below; callers log it and close the
//! connection with it.
//!
//! Payload values (`arguments`, `item`, `result`) are a [`Payload`]: raw JSON text ([`RawValue`]) as the
//! JSON protocol carried it (a typed hub method deserialises its argument tuple straight from that text,
//! and a result is written without building a `serde_json::Value` tree in between), or a [`HubValue`] as
//! the MessagePack protocol carried it, binary data and timestamps included. Either has a JSON form.

pub(crate) mod msgpack;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::value::HubValue;

/// A payload value as its protocol carried it.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// Raw JSON text: the JSON protocol, and what the server encodes for every connection.
    Json(Box<RawValue>),
    /// A MessagePack value (one with a JSON form: checked on arrival).
    MsgPack(HubValue),
}

impl Payload {
    /// The JSON form: the text itself, or the value as .NET's JSON writes it (binary data as base64,
    /// timestamps as ISO 8601).
    pub(crate) fn json(&self) -> std::borrow::Cow<'_, RawValue> {
        match self {
            Payload::Json(raw) => std::borrow::Cow::Borrowed(raw),
            Payload::MsgPack(value) => std::borrow::Cow::Owned(
                // Checked on arrival: no NaN, text keys only, so this cannot fail.
                serde_json::value::to_raw_value(value)
                    .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("valid JSON")),
            ),
        }
    }

    /// The JSON form, owned.
    pub(crate) fn into_json(self) -> Box<RawValue> {
        match self {
            Payload::Json(raw) => raw,
            other => other.json().into_owned(),
        }
    }
}

/// The record separator that ends every JSON hub protocol message.
pub(crate) const RECORD_SEPARATOR: u8 = 0x1e;

/// A hub protocol violation by the peer. The text is the reason sent in the Close message and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn err(text: impl Into<String>) -> ProtocolError {
    ProtocolError(text.into())
}

/// How a Completion ends its invocation.
#[derive(Debug, Clone)]
pub(crate) enum CompletionOutcome {
    /// No `result` and no `error`: a void method finished.
    Void,
    /// The invocation returned this value (may be `null`).
    Result(Payload),
    /// The invocation failed with this message.
    Error(String),
}

/// One parsed hub protocol message.
#[derive(Debug, Clone)]
pub(crate) enum HubMessage {
    /// Type 1: call `target`; no `invocation_id` means fire-and-forget.
    Invocation {
        invocation_id: Option<String>,
        target: String,
        arguments: Payload,
        stream_ids: Vec<String>,
    },
    /// Type 2: one item of a stream (server-to-client or client-to-server).
    StreamItem {
        invocation_id: String,
        item: Payload,
    },
    /// Type 3: the end of an invocation or of a stream.
    Completion {
        invocation_id: String,
        outcome: CompletionOutcome,
    },
    /// Type 4: call a streaming method.
    StreamInvocation {
        invocation_id: String,
        target: String,
        arguments: Payload,
        stream_ids: Vec<String>,
    },
    /// Type 5: stop a running stream.
    CancelInvocation { invocation_id: String },
    /// Type 6: keep-alive.
    Ping,
    /// Type 7: the sender is closing the connection.
    Close {
        error: Option<String>,
        allow_reconnect: bool,
    },
    /// Type 8: stateful reconnect acknowledgement of every sequenced message up to `sequence_id`.
    Ack { sequence_id: u64 },
    /// Type 9: stateful reconnect: the next sequenced message the sender sends has this id.
    Sequence { sequence_id: u64 },
    /// A type this server does not know: skipped, as the protocol asks for forward compatibility.
    Unknown(u64),
}

impl HubMessage {
    /// Whether stateful reconnect numbers this message (types 1 to 5).
    pub(crate) fn is_sequenced(&self) -> bool {
        matches!(
            self,
            HubMessage::Invocation { .. }
                | HubMessage::StreamItem { .. }
                | HubMessage::Completion { .. }
                | HubMessage::StreamInvocation { .. }
                | HubMessage::CancelInvocation { .. }
        )
    }
}

fn some_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// Like [`some_raw`], borrowed from the record: a present `null` is `Some` too.
fn some_raw_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage<'a> {
    // Borrowed: it is only read here, as a number.
    #[serde(rename = "type", default, borrow, deserialize_with = "some_raw_ref")]
    kind: Option<&'a RawValue>,
    #[serde(default)]
    invocation_id: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default, deserialize_with = "some_raw")]
    arguments: Option<Box<RawValue>>,
    #[serde(default)]
    stream_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "some_raw")]
    item: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "some_raw")]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    allow_reconnect: Option<bool>,
    #[serde(default)]
    sequence_id: Option<u64>,
    // Accepted so that a malformed map is rejected; the hub does not use message headers yet.
    #[serde(default)]
    #[allow(dead_code)]
    headers: Option<HashMap<String, String>>,
}

/// Parses one record (without its separator).
pub(crate) fn parse_message(text: &str) -> Result<HubMessage, ProtocolError> {
    // serde would also read a struct from an array; the protocol only has objects.
    if !text.trim_start().starts_with('{') {
        return Err(err("Message must be a JSON object."));
    }
    let wire: WireMessage = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            err(format!("Invalid message: {e}."))
        } else {
            err(format!("Message is not valid JSON: {e}."))
        }
    })?;
    let kind = wire
        .kind
        .ok_or_else(|| err("Missing required property 'type'."))?;
    let kind: u64 = serde_json::from_str(kind.get())
        .map_err(|_| err("Expected 'type' to be a non-negative integer."))?;
    let invocation_id = |wire: &WireMessage| {
        wire.invocation_id
            .clone()
            .ok_or_else(|| err("Missing required property 'invocationId'."))
    };
    let target = |wire: &mut WireMessage| {
        wire.target
            .take()
            .ok_or_else(|| err("Missing required property 'target'."))
    };
    let arguments = |wire: &mut WireMessage| -> Result<Payload, ProtocolError> {
        let raw = wire
            .arguments
            .take()
            .ok_or_else(|| err("Missing required property 'arguments'."))?;
        if !raw.get().trim_start().starts_with('[') {
            return Err(err("Expected 'arguments' to be an array."));
        }
        Ok(Payload::Json(raw))
    };
    let mut wire = wire;
    Ok(match kind {
        1 => HubMessage::Invocation {
            invocation_id: wire.invocation_id.clone(),
            target: target(&mut wire)?,
            arguments: arguments(&mut wire)?,
            stream_ids: wire.stream_ids.take().unwrap_or_default(),
        },
        2 => HubMessage::StreamItem {
            invocation_id: invocation_id(&wire)?,
            item: Payload::Json(
                wire.item
                    .take()
                    .ok_or_else(|| err("Missing required property 'item'."))?,
            ),
        },
        3 => {
            let id = invocation_id(&wire)?;
            let outcome = match (wire.result.take(), wire.error.take()) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "The 'error' and 'result' properties are mutually exclusive.",
                    ))
                }
                (Some(result), None) => CompletionOutcome::Result(Payload::Json(result)),
                (None, Some(error)) => CompletionOutcome::Error(error),
                (None, None) => CompletionOutcome::Void,
            };
            HubMessage::Completion {
                invocation_id: id,
                outcome,
            }
        }
        4 => HubMessage::StreamInvocation {
            invocation_id: invocation_id(&wire)?,
            target: target(&mut wire)?,
            arguments: arguments(&mut wire)?,
            stream_ids: wire.stream_ids.take().unwrap_or_default(),
        },
        5 => HubMessage::CancelInvocation {
            invocation_id: invocation_id(&wire)?,
        },
        6 => HubMessage::Ping,
        7 => HubMessage::Close {
            error: wire.error.take(),
            allow_reconnect: wire.allow_reconnect.unwrap_or(false),
        },
        8 => HubMessage::Ack {
            sequence_id: wire
                .sequence_id
                .ok_or_else(|| err("Missing required property 'sequenceId'."))?,
        },
        9 => HubMessage::Sequence {
            sequence_id: wire
                .sequence_id
                .ok_or_else(|| err("Missing required property 'sequenceId'."))?,
        },
        other => HubMessage::Unknown(other),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutMessage<'a> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_ids: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_reconnect: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_id: Option<u64>,
}

impl<'a> OutMessage<'a> {
    fn new(kind: u8) -> Self {
        OutMessage {
            kind,
            invocation_id: None,
            target: None,
            arguments: None,
            stream_ids: None,
            item: None,
            result: None,
            error: None,
            allow_reconnect: None,
            sequence_id: None,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        // Serialising borrowed strings, raw JSON and integers into a Vec cannot fail.
        serde_json::to_writer(&mut *out, self).expect("hub message serialisation is infallible");
        out.push(RECORD_SEPARATOR);
    }
}

/// Encodes one message, separator included, appending to `out`. The server writes its own messages through
/// the specific writers below; this one serves the MessagePack translation, the golden tests and the fuzz
/// targets.
pub(crate) fn write_message(message: &HubMessage, out: &mut Vec<u8>) {
    match message {
        HubMessage::Invocation {
            invocation_id,
            target,
            arguments,
            stream_ids,
        } => write_invocation(
            out,
            invocation_id.as_deref(),
            target,
            &arguments.json(),
            stream_ids,
        ),
        HubMessage::StreamItem {
            invocation_id,
            item,
        } => write_stream_item(out, invocation_id, item),
        HubMessage::Completion {
            invocation_id,
            outcome,
        } => write_completion(out, invocation_id, outcome),
        HubMessage::StreamInvocation {
            invocation_id,
            target,
            arguments,
            stream_ids,
        } => {
            let arguments = arguments.json();
            let mut m = OutMessage::new(4);
            m.invocation_id = Some(invocation_id);
            m.target = Some(target);
            m.arguments = Some(&arguments);
            m.stream_ids = (!stream_ids.is_empty()).then_some(stream_ids.as_slice());
            m.write(out);
        }
        HubMessage::CancelInvocation { invocation_id } => {
            let mut m = OutMessage::new(5);
            m.invocation_id = Some(invocation_id);
            m.write(out);
        }
        HubMessage::Ping => write_ping(out),
        HubMessage::Close {
            error,
            allow_reconnect,
        } => write_close(out, error.as_deref(), *allow_reconnect),
        HubMessage::Ack { sequence_id } => write_ack(out, *sequence_id),
        HubMessage::Sequence { sequence_id } => write_sequence(out, *sequence_id),
        HubMessage::Unknown(_) => {}
    }
}

pub(crate) fn write_invocation(
    out: &mut Vec<u8>,
    invocation_id: Option<&str>,
    target: &str,
    arguments: &RawValue,
    stream_ids: &[String],
) {
    let mut m = OutMessage::new(1);
    m.invocation_id = invocation_id;
    m.target = Some(target);
    m.arguments = Some(arguments);
    m.stream_ids = (!stream_ids.is_empty()).then_some(stream_ids);
    m.write(out);
}

/// An Invocation message (no invocation id, no streams) whose argument array `write_arguments` appends as
/// JSON text: large arguments are encoded once, straight into the frame, instead of into a value that is
/// then serialised again. Equal to [`write_invocation`]'s output for the same arguments.
pub(crate) fn invocation_frame(target: &str, write_arguments: impl FnOnce(&mut String)) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    out.push_str("{\"type\":1,\"target\":");
    out.push_str(&serde_json::to_string(target).expect("a string serialises"));
    out.push_str(",\"arguments\":");
    write_arguments(&mut out);
    out.push('}');
    out.push(char::from(RECORD_SEPARATOR));
    out.into_bytes()
}

pub(crate) fn write_stream_item(out: &mut Vec<u8>, invocation_id: &str, item: &Payload) {
    let item = item.json();
    let mut m = OutMessage::new(2);
    m.invocation_id = Some(invocation_id);
    m.item = Some(&item);
    m.write(out);
}

pub(crate) fn write_completion(
    out: &mut Vec<u8>,
    invocation_id: &str,
    outcome: &CompletionOutcome,
) {
    let result = match outcome {
        CompletionOutcome::Result(r) => Some(r.json()),
        _ => None,
    };
    let mut m = OutMessage::new(3);
    m.invocation_id = Some(invocation_id);
    m.result = result.as_deref();
    if let CompletionOutcome::Error(e) = outcome {
        m.error = Some(e);
    }
    m.write(out);
}

pub(crate) fn write_ping(out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":6}\x1e");
}

pub(crate) fn write_close(out: &mut Vec<u8>, error: Option<&str>, allow_reconnect: bool) {
    let mut m = OutMessage::new(7);
    m.error = error;
    m.allow_reconnect = allow_reconnect.then_some(true);
    m.write(out);
}

pub(crate) fn write_ack(out: &mut Vec<u8>, sequence_id: u64) {
    let mut m = OutMessage::new(8);
    m.sequence_id = Some(sequence_id);
    m.write(out);
}

pub(crate) fn write_sequence(out: &mut Vec<u8>, sequence_id: u64) {
    let mut m = OutMessage::new(9);
    m.sequence_id = Some(sequence_id);
    m.write(out);
}

/// A hub protocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HubProtocol {
    /// `json`: text records ending with `0x1E`.
    Json,
    /// `messagepack`: binary, length-prefixed messages (see [`msgpack`]).
    MessagePack,
}

impl HubProtocol {
    /// The name used in the handshake.
    pub(crate) fn name(self) -> &'static str {
        match self {
            HubProtocol::Json => "json",
            HubProtocol::MessagePack => "messagepack",
        }
    }
}

/// The protocol and version a client asked for in its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandshakeRequest {
    pub(crate) protocol: HubProtocol,
    pub(crate) version: u32,
}

#[derive(Deserialize)]
struct WireHandshake {
    protocol: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// Parses and checks a handshake request record (without its separator). `json` and `messagepack`, versions
/// 1 and 2 (2 is the stateful-reconnect version), are accepted.
pub(crate) fn parse_handshake(text: &str) -> Result<HandshakeRequest, ProtocolError> {
    // serde would also read a struct from a JSON array (`[1,2]`); the handshake is an object.
    if !text.trim_start().starts_with('{') {
        return Err(err(
            "Handshake request must be a JSON object like {\"protocol\":\"json\",\"version\":1}.",
        ));
    }
    let wire: WireHandshake = serde_json::from_str(text).map_err(|e| {
        err(format!(
            "Handshake request is not a valid JSON object: {e}."
        ))
    })?;
    let protocol = match wire.protocol {
        None => return Err(err("Handshake request is missing the 'protocol' property.")),
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err(err("Handshake 'protocol' must be a string.")),
    };
    let version = match wire.version {
        None => return Err(err("Handshake request is missing the 'version' property.")),
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| err("Handshake 'version' must be a non-negative integer."))?,
    };
    let protocol = match protocol.as_str() {
        "json" => HubProtocol::Json,
        "messagepack" => HubProtocol::MessagePack,
        _ => {
            return Err(err(format!(
                "The protocol '{protocol}' is not supported by this server (supported: json, messagepack)."
            )))
        }
    };
    if !(1..=2).contains(&version) {
        return Err(err(format!(
            "The server does not support version {version} of the '{}' protocol (supported: 1, 2).",
            protocol.name()
        )));
    }
    Ok(HandshakeRequest { protocol, version })
}

/// Encodes the handshake answer: `{}` or `{"error":"..."}`, separator included.
pub(crate) fn write_handshake_response(out: &mut Vec<u8>, error: Option<&str>) {
    match error {
        None => out.extend_from_slice(b"{}"),
        Some(e) => {
            #[derive(Serialize)]
            struct Failed<'a> {
                error: &'a str,
            }
            serde_json::to_writer(&mut *out, &Failed { error: e })
                .expect("handshake serialisation is infallible");
        }
    }
    out.push(RECORD_SEPARATOR);
}

/// Accumulates received text and yields complete records. A record may span frames on HTTP transports;
/// its size is checked by the caller before the separator arrives (see [`RecordBuffer::pending_len`]).
#[derive(Debug, Default)]
pub(crate) struct RecordBuffer {
    tail: String,
}

impl RecordBuffer {
    /// Appends a frame and returns the complete records it finishes, in order. The unterminated rest stays.
    pub(crate) fn push(&mut self, frame: &str) -> Vec<String> {
        let mut records = Vec::new();
        let mut rest = frame;
        while let Some(end) = rest.find(RECORD_SEPARATOR as char) {
            let piece = &rest[..end];
            if self.tail.is_empty() {
                records.push(piece.to_owned());
            } else {
                let mut whole = std::mem::take(&mut self.tail);
                whole.push_str(piece);
                records.push(whole);
            }
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            self.tail.push_str(rest);
        }
        if self.tail.is_empty() && self.tail.capacity() > 0 {
            self.tail = String::new();
        }
        records
    }

    /// Length in bytes of the unterminated record received so far.
    pub(crate) fn pending_len(&self) -> usize {
        self.tail.len()
    }
}

#[cfg(test)]
mod tests;
