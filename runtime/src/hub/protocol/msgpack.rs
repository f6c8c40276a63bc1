//! The MessagePack hub protocol (`messagepack`, versions 1 and 2): binary framing and the nine message types
//! as MessagePack arrays, translated to and from the JSON records the rest of the hub works with.
//!
//! Framing: every message is a MessagePack value preceded by its length as a little-endian base-128 varint
//! (at most 5 bytes); a frame may carry several messages and, on long polling, a message may be split
//! across `POST`s, so [`LengthPrefixedBuffer`] keeps the unfinished tail.
//!
//! Messages are arrays whose first element is the type: Invocation `[1, headers, id|nil, target, args,
//! streamIds]`, StreamItem `[2, headers, id, item]`, Completion `[3, headers, id, kind, error|result]` (kind
//! 1 error, 2 void, 3 result), StreamInvocation `[4, headers, id, target, args, streamIds]`, CancelInvocation
//! `[5, headers, id]`, Ping `[6]`, Close `[7, error|nil, allowReconnect]`, Ack `[8, sequenceId]`, Sequence
//! `[9, sequenceId]`.
//!
//! Design: a MessagePack message parses straight into the protocol's message type ([`parse_message`]),
//! its payloads kept as [`HubValue`]s, so hub methods read and answer binary data and timestamps natively;
//! every limit and error text of the JSON protocol holds unchanged (the size limits apply to the
//! MessagePack bytes). What the server encodes once for every connection (fan-out, pings, errors, the
//! replay of JSON-encoded messages) is JSON, translated to MessagePack as it is queued for writing
//! ([`json_frame_to_msgpack`]); in those, binary data and timestamps are the base64 and ISO 8601 strings
//! .NET's JSON writes. A payload is accepted only if it also has a JSON form (no NaN, no extension but the
//! timestamp), so fan-out, client streams and client results can carry it.

use rmpv::Value as Mp;
use serde_json::Value as Js;

use super::super::value::{HubValue, Timestamp};
use super::{CompletionOutcome, HubMessage, Payload, ProtocolError};

/// Deepest nesting of arrays and maps accepted in a message (serde_json's own limit is 128).
const MAX_DEPTH: usize = 100;

fn err(text: impl Into<String>) -> ProtocolError {
    ProtocolError(text.into())
}

/// Accumulates received bytes and yields complete length-prefixed messages.
#[derive(Debug, Default)]
pub(crate) struct LengthPrefixedBuffer {
    tail: Vec<u8>,
}

/// Reads a length prefix: `Ok(None)` while incomplete, `Ok(Some((length, prefix bytes)))` once whole.
fn read_length(bytes: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    let mut length: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(5) {
        length |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if length > i32::MAX as u64 {
                return Err(err("Messages over 2GB in size are not supported."));
            }
            return Ok(Some((length as usize, i + 1)));
        }
    }
    if bytes.len() >= 5 {
        return Err(err("Messages over 2GB in size are not supported."));
    }
    Ok(None)
}

impl LengthPrefixedBuffer {
    /// Appends a frame and returns the complete messages it finishes, in order. A message whose prefix
    /// announces more than `max` bytes is refused at once with [`Split::TooLarge`], before its bytes arrive.
    pub(crate) fn push(&mut self, frame: &[u8], max: usize) -> Result<Vec<Vec<u8>>, Split> {
        self.tail.extend_from_slice(frame);
        let mut messages = Vec::new();
        let mut at = 0;
        loop {
            let rest = &self.tail[at..];
            let Some((length, prefix)) = read_length(rest).map_err(Split::Malformed)? else {
                break;
            };
            if length > max {
                return Err(Split::TooLarge(length));
            }
            if rest.len() < prefix + length {
                break;
            }
            messages.push(rest[prefix..prefix + length].to_vec());
            at += prefix + length;
        }
        self.tail.drain(..at);
        if self.tail.is_empty() && self.tail.capacity() > 0 {
            self.tail = Vec::new();
        }
        Ok(messages)
    }
}

/// Why a frame could not be split into messages.
#[derive(Debug)]
pub(crate) enum Split {
    /// A message announced this many bytes, more than the limit.
    TooLarge(usize),
    /// The length prefix is invalid.
    Malformed(ProtocolError),
}

/// Appends one message with its length prefix.
pub(crate) fn write_length_prefixed(out: &mut Vec<u8>, message: &[u8]) {
    let mut length = message.len();
    loop {
        let low = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(message);
}

/// Translates one MessagePack message (without its prefix) into a JSON record (without its separator).
/// `Ok(None)` is a message of a type this server does not know: skipped, as in the JSON protocol.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn record_to_json(bytes: &[u8]) -> Result<Option<String>, ProtocolError> {
    let message = parse_message(bytes)?;
    if let HubMessage::Unknown(_) = message {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(bytes.len() + 32);
    super::write_message(&message, &mut out);
    out.pop();
    String::from_utf8(out)
        .map(Some)
        .map_err(|_| err("Invalid message: text is not UTF-8."))
}

/// Parses one MessagePack message into the protocol's message type (payloads stay MessagePack values).
pub(crate) fn parse_message(bytes: &[u8]) -> Result<HubMessage, ProtocolError> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|e| err(format!("Message is not valid MessagePack: {e}.")))?;
    let Mp::Array(items) = value else {
        return Err(err("Message must be a MessagePack array."));
    };
    let mut fields = Fields(items.into_iter());
    let kind = fields
        .0
        .next()
        .ok_or_else(|| err("Missing required property 'type'."))?
        .as_u64()
        .ok_or_else(|| err("Expected 'type' to be a non-negative integer."))?;
    match kind {
        1 | 4 => parse_invocation(kind == 4, fields),
        2 => parse_stream_item(fields),
        3 => parse_completion(fields),
        5 => parse_cancel_invocation(fields),
        6 => Ok(HubMessage::Ping),
        7 => parse_close(fields),
        8 | 9 => parse_sequence_number(kind == 8, fields),
        other => Ok(HubMessage::Unknown(other)),
    }
}

/// The elements of a message array after its type, taken in order.
struct Fields(std::vec::IntoIter<Mp>);

impl Fields {
    /// The next element, which the protocol requires (`name` is for the error).
    fn next(&mut self, name: &str) -> Result<Mp, ProtocolError> {
        self.0
            .next()
            .ok_or_else(|| err(format!("Missing required property '{name}'.")))
    }

    /// The next element where older peers may leave it out or send nil: `None` for both.
    fn optional(&mut self) -> Option<Mp> {
        self.0.next().filter(|value| !value.is_nil())
    }
}

/// Invocation `[1, headers, id|nil, target, args, streamIds]` or StreamInvocation `[4, ...]` (whose id is
/// required: one without an id is an Invocation, as in the JSON protocol).
fn parse_invocation(streaming: bool, mut fields: Fields) -> Result<HubMessage, ProtocolError> {
    headers(fields.next("headers")?)?;
    let invocation_id = match fields.next("invocationId")? {
        Mp::Nil if !streaming => None,
        v => Some(string(v, "invocationId")?),
    };
    let target = string(fields.next("target")?, "target")?;
    let arguments = match fields.next("arguments")? {
        v @ Mp::Array(_) => payload_in(v)?,
        _ => return Err(err("Expected 'arguments' to be an array.")),
    };
    // Clients older than client-to-server streaming leave the stream ids out.
    let stream_ids = match fields.optional() {
        None => Vec::new(),
        Some(Mp::Array(ids)) => ids
            .into_iter()
            .map(|id| string(id, "streamIds"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err("Expected 'streamIds' to be an array of strings.")),
    };
    Ok(match invocation_id {
        Some(invocation_id) if streaming => HubMessage::StreamInvocation {
            invocation_id,
            target,
            arguments,
            stream_ids,
        },
        invocation_id => HubMessage::Invocation {
            invocation_id,
            target,
            arguments,
            stream_ids,
        },
    })
}

/// StreamItem `[2, headers, id, item]`.
fn parse_stream_item(mut fields: Fields) -> Result<HubMessage, ProtocolError> {
    headers(fields.next("headers")?)?;
    Ok(HubMessage::StreamItem {
        invocation_id: string(fields.next("invocationId")?, "invocationId")?,
        item: payload_in(fields.next("item")?)?,
    })
}

/// Completion `[3, headers, id, kind, error|result]`: kind 1 error, 2 void, 3 result.
fn parse_completion(mut fields: Fields) -> Result<HubMessage, ProtocolError> {
    headers(fields.next("headers")?)?;
    let invocation_id = string(fields.next("invocationId")?, "invocationId")?;
    let outcome = match fields.next("resultKind")?.as_u64() {
        Some(1) => CompletionOutcome::Error(string(fields.next("error")?, "error")?),
        Some(2) => CompletionOutcome::Void,
        Some(3) => CompletionOutcome::Result(payload_in(fields.next("result")?)?),
        _ => return Err(err("Invalid invocation result kind.")),
    };
    Ok(HubMessage::Completion {
        invocation_id,
        outcome,
    })
}

/// CancelInvocation `[5, headers, id]`.
fn parse_cancel_invocation(mut fields: Fields) -> Result<HubMessage, ProtocolError> {
    headers(fields.next("headers")?)?;
    Ok(HubMessage::CancelInvocation {
        invocation_id: string(fields.next("invocationId")?, "invocationId")?,
    })
}

/// Close `[7, error|nil, allowReconnect]`; both may be left out.
fn parse_close(mut fields: Fields) -> Result<HubMessage, ProtocolError> {
    let error = fields.optional().map(|v| string(v, "error")).transpose()?;
    let allow_reconnect = match fields.optional() {
        None => false,
        Some(Mp::Boolean(b)) => b,
        Some(_) => return Err(err("Expected 'allowReconnect' to be a boolean.")),
    };
    Ok(HubMessage::Close {
        error,
        allow_reconnect,
    })
}

/// Ack `[8, sequenceId]` (`ack`) or Sequence `[9, sequenceId]`.
fn parse_sequence_number(ack: bool, mut fields: Fields) -> Result<HubMessage, ProtocolError> {
    let sequence_id = fields
        .next("sequenceId")?
        .as_u64()
        .ok_or_else(|| err("Expected 'sequenceId' to be a non-negative integer."))?;
    Ok(if ack {
        HubMessage::Ack { sequence_id }
    } else {
        HubMessage::Sequence { sequence_id }
    })
}

fn headers(value: Mp) -> Result<(), ProtocolError> {
    match value {
        Mp::Map(entries) if entries.iter().all(|(k, v)| k.is_str() && v.is_str()) => Ok(()),
        _ => Err(err("Expected 'headers' to be a map of strings.")),
    }
}

fn string(value: Mp, name: &str) -> Result<String, ProtocolError> {
    match value {
        Mp::String(s) => s
            .into_str()
            .ok_or_else(|| err(format!("Expected '{name}' to be UTF-8 text."))),
        _ => Err(err(format!("Expected '{name}' to be a string."))),
    }
}

/// A payload as it arrived, checked to have a JSON form (what fan-out, client streams and client results
/// use) with the same errors the translation to JSON always gave.
fn payload_in(value: Mp) -> Result<Payload, ProtocolError> {
    from_msgpack(value).map(Payload::MsgPack)
}

/// A MessagePack value as a [`HubValue`].
fn from_msgpack(value: Mp) -> Result<HubValue, ProtocolError> {
    Ok(match value {
        Mp::Nil => HubValue::Null,
        Mp::Boolean(b) => HubValue::Bool(b),
        Mp::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(s), _) => HubValue::Int(s),
            (None, Some(u)) => HubValue::UInt(u),
            (None, None) => return Err(err("Invalid message: integer out of range.")),
        },
        Mp::F32(f) => float(f64::from(f))?,
        Mp::F64(f) => float(f)?,
        Mp::String(s) => HubValue::String(
            s.into_str()
                .ok_or_else(|| err("Invalid message: a string is not UTF-8 text."))?,
        ),
        Mp::Binary(b) => HubValue::Binary(b),
        Mp::Array(items) => HubValue::Array(
            items
                .into_iter()
                .map(from_msgpack)
                .collect::<Result<_, _>>()?,
        ),
        Mp::Map(entries) => {
            let mut map = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let key = match key {
                    Mp::String(s) => s
                        .into_str()
                        .ok_or_else(|| err("Invalid message: a map key is not UTF-8 text."))?,
                    Mp::Integer(i) => i.to_string(),
                    _ => return Err(err("Invalid message: map keys must be strings.")),
                };
                map.push((key, from_msgpack(value)?));
            }
            refuse_repeated_keys(&map)?;
            HubValue::Map(map)
        }
        Mp::Ext(-1, data) => HubValue::Timestamp(
            Timestamp::from_ext(&data).map_err(|e| err(format!("Invalid message: {e}.")))?,
        ),
        Mp::Ext(kind, _) => {
            return Err(err(format!(
                "Invalid message: MessagePack extension type {kind} is not supported."
            )))
        }
    })
}

/// A map whose keys repeat (`"a"` twice, or `"0"` and the integer 0) has no JSON object form: JSON
/// readers keep one of the values, so the message would change on its way through the JSON form.
/// MessagePack leaves repeated keys undefined; .NET's reader refuses them, and so does this one.
fn refuse_repeated_keys(map: &[(String, HubValue)]) -> Result<(), ProtocolError> {
    let mut keys: Vec<&str> = map.iter().map(|(key, _)| key.as_str()).collect();
    keys.sort_unstable();
    match keys.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(err(format!(
            "Invalid message: the map key '{}' appears twice.",
            pair[0]
        ))),
        None => Ok(()),
    }
}

fn float(f: f64) -> Result<HubValue, ProtocolError> {
    if f.is_finite() {
        Ok(HubValue::Float(f))
    } else {
        Err(err(
            "Invalid message: NaN and infinite numbers have no JSON form.",
        ))
    }
}

/// A [`HubValue`] as MessagePack: binary data as `bin`, timestamps as extension -1.
pub(crate) fn to_msgpack(value: &HubValue) -> Mp {
    match value {
        HubValue::Null => Mp::Nil,
        HubValue::Bool(b) => Mp::Boolean(*b),
        HubValue::Int(i) => Mp::from(*i),
        HubValue::UInt(u) => Mp::from(*u),
        HubValue::Float(f) => Mp::F64(*f),
        HubValue::String(s) => Mp::from(s.as_str()),
        HubValue::Binary(b) => Mp::Binary(b.clone()),
        HubValue::Timestamp(t) => Mp::Ext(-1, t.to_ext()),
        HubValue::Array(items) => Mp::Array(items.iter().map(to_msgpack).collect()),
        HubValue::Map(entries) => Mp::Map(
            entries
                .iter()
                .map(|(k, v)| (Mp::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// Encodes a serialisable value as a MessagePack payload, as a hub method result or stream item on a
/// MessagePack connection: structs become maps with their field names, [`HubValue`]s keep binary data and
/// timestamps.
pub(crate) fn encode_payload<T: serde::Serialize + ?Sized>(value: &T) -> Result<Payload, String> {
    let bytes = rmp_serde::to_vec_named(value).map_err(|e| e.to_string())?;
    let mp = rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| e.to_string())?;
    from_msgpack(mp).map(Payload::MsgPack).map_err(|e| e.0)
}

/// A JSON value as MessagePack.
fn from_json(value: Js) -> Mp {
    match value {
        Js::Null => Mp::Nil,
        Js::Bool(b) => Mp::Boolean(b),
        Js::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Mp::from(u),
            (None, Some(i), _) => Mp::from(i),
            (None, None, Some(f)) => Mp::F64(f),
            (None, None, None) => Mp::Nil,
        },
        Js::String(s) => Mp::from(s),
        Js::Array(items) => Mp::Array(items.into_iter().map(from_json).collect()),
        Js::Object(entries) => Mp::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Mp::from(k), from_json(v)))
                .collect(),
        ),
    }
}

fn payload(payload: &Payload) -> Mp {
    match payload {
        // Raw values come from the hub's own JSON encoding or from a parsed message: always valid JSON.
        Payload::Json(raw) => serde_json::from_str(raw.get()).map_or(Mp::Nil, from_json),
        Payload::MsgPack(value) => to_msgpack(value),
    }
}

fn no_headers() -> Mp {
    Mp::Map(Vec::new())
}

fn opt_str(s: Option<&str>) -> Mp {
    s.map_or(Mp::Nil, Mp::from)
}

fn ids(stream_ids: &[String]) -> Mp {
    Mp::Array(stream_ids.iter().map(|s| Mp::from(s.as_str())).collect())
}

/// Encodes one message with its length prefix, appending to `out`. Unknown messages write nothing.
pub(crate) fn write_message_msgpack(message: &HubMessage, out: &mut Vec<u8>) {
    let value = match message {
        HubMessage::Invocation {
            invocation_id,
            target,
            arguments,
            stream_ids,
        } => Mp::Array(vec![
            Mp::from(1),
            no_headers(),
            opt_str(invocation_id.as_deref()),
            Mp::from(target.as_str()),
            payload(arguments),
            ids(stream_ids),
        ]),
        HubMessage::StreamItem {
            invocation_id,
            item,
        } => Mp::Array(vec![
            Mp::from(2),
            no_headers(),
            Mp::from(invocation_id.as_str()),
            payload(item),
        ]),
        HubMessage::Completion {
            invocation_id,
            outcome,
        } => {
            let mut fields = vec![Mp::from(3), no_headers(), Mp::from(invocation_id.as_str())];
            match outcome {
                CompletionOutcome::Error(e) => fields.extend([Mp::from(1), Mp::from(e.as_str())]),
                CompletionOutcome::Void => fields.push(Mp::from(2)),
                CompletionOutcome::Result(r) => fields.extend([Mp::from(3), payload(r)]),
            }
            Mp::Array(fields)
        }
        HubMessage::StreamInvocation {
            invocation_id,
            target,
            arguments,
            stream_ids,
        } => Mp::Array(vec![
            Mp::from(4),
            no_headers(),
            Mp::from(invocation_id.as_str()),
            Mp::from(target.as_str()),
            payload(arguments),
            ids(stream_ids),
        ]),
        HubMessage::CancelInvocation { invocation_id } => Mp::Array(vec![
            Mp::from(5),
            no_headers(),
            Mp::from(invocation_id.as_str()),
        ]),
        HubMessage::Ping => Mp::Array(vec![Mp::from(6)]),
        HubMessage::Close {
            error,
            allow_reconnect,
        } => Mp::Array(vec![
            Mp::from(7),
            opt_str(error.as_deref()),
            Mp::Boolean(*allow_reconnect),
        ]),
        HubMessage::Ack { sequence_id } => Mp::Array(vec![Mp::from(8), Mp::from(*sequence_id)]),
        HubMessage::Sequence { sequence_id } => {
            Mp::Array(vec![Mp::from(9), Mp::from(*sequence_id)])
        }
        HubMessage::Unknown(_) => return,
    };
    let mut body = Vec::new();
    // Writing a value into a Vec cannot fail.
    rmpv::encode::write_value(&mut body, &value).expect("writing to a Vec is infallible");
    write_length_prefixed(out, &body);
}

/// Translates a frame of JSON records (each ending with the record separator), as the hub writes them,
/// into MessagePack messages.
pub(crate) fn json_frame_to_msgpack(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len());
    for record in frame.split(|b| *b == super::RECORD_SEPARATOR) {
        if record.is_empty() {
            continue;
        }
        match std::str::from_utf8(record)
            .map_err(|_| err("not UTF-8"))
            .and_then(super::parse_message)
        {
            Ok(message) => write_message_msgpack(&message, &mut out),
            // The hub writes these records itself; one that does not parse is a bug, not the client's doing.
            Err(e) => tracing::error!(
                "an outbound hub message could not be translated to MessagePack: {e}"
            ),
        }
    }
    out
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
