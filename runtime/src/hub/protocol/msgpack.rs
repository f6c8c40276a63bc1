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
//! Design: the connection task, the replay buffer, fan-out and backplanes all carry JSON records, so a
//! MessagePack connection translates at its edge: an inbound message becomes one JSON record
//! ([`record_to_json`]) before anything else sees it, and an outbound JSON frame becomes MessagePack
//! ([`json_frame_to_msgpack`]) as it is written. Every limit and error text of the JSON protocol therefore
//! holds unchanged (the size limits apply to the MessagePack bytes). Payload values translate losslessly
//! except for two MessagePack types JSON lacks, which arrive as .NET's JSON writes them: binary data as a
//! base64 string and a timestamp (extension -1) as an ISO 8601 UTC string. Values the server sends are
//! JSON-shaped, so a client receives strings for those.

use base64::Engine;
use rmpv::Value as Mp;
use serde_json::value::RawValue;
use serde_json::Value as Js;

use super::{write_message, CompletionOutcome, HubMessage, ProtocolError};

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
pub(crate) fn record_to_json(bytes: &[u8]) -> Result<Option<String>, ProtocolError> {
    let message = parse_message(bytes)?;
    if let HubMessage::Unknown(_) = message {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(bytes.len() + 32);
    write_message(&message, &mut out);
    out.pop();
    String::from_utf8(out)
        .map(Some)
        .map_err(|_| err("Invalid message: text is not UTF-8."))
}

/// Parses one MessagePack message into the protocol's message type (payloads become raw JSON).
pub(crate) fn parse_message(bytes: &[u8]) -> Result<HubMessage, ProtocolError> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|e| err(format!("Message is not valid MessagePack: {e}.")))?;
    let Mp::Array(items) = value else {
        return Err(err("Message must be a MessagePack array."));
    };
    let mut fields = items.into_iter();
    let kind = fields
        .next()
        .ok_or_else(|| err("Missing required property 'type'."))?
        .as_u64()
        .ok_or_else(|| err("Expected 'type' to be a non-negative integer."))?;
    let mut next = |name: &str| {
        fields
            .next()
            .ok_or_else(|| err(format!("Missing required property '{name}'.")))
    };
    Ok(match kind {
        1 | 4 => {
            headers(next("headers")?)?;
            let invocation_id = match next("invocationId")? {
                Mp::Nil if kind == 1 => None,
                v => Some(string(v, "invocationId")?),
            };
            let target = string(next("target")?, "target")?;
            let arguments = match next("arguments")? {
                v @ Mp::Array(_) => raw(v)?,
                _ => return Err(err("Expected 'arguments' to be an array.")),
            };
            // Clients older than client-to-server streaming leave the stream ids out.
            let stream_ids = match next("streamIds") {
                Err(_) | Ok(Mp::Nil) => Vec::new(),
                Ok(Mp::Array(ids)) => ids
                    .into_iter()
                    .map(|id| string(id, "streamIds"))
                    .collect::<Result<_, _>>()?,
                Ok(_) => return Err(err("Expected 'streamIds' to be an array of strings.")),
            };
            match invocation_id {
                Some(invocation_id) if kind == 4 => HubMessage::StreamInvocation {
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
            }
        }
        2 => {
            headers(next("headers")?)?;
            HubMessage::StreamItem {
                invocation_id: string(next("invocationId")?, "invocationId")?,
                item: raw(next("item")?)?,
            }
        }
        3 => {
            headers(next("headers")?)?;
            let invocation_id = string(next("invocationId")?, "invocationId")?;
            let outcome = match next("resultKind")?.as_u64() {
                Some(1) => CompletionOutcome::Error(string(next("error")?, "error")?),
                Some(2) => CompletionOutcome::Void,
                Some(3) => CompletionOutcome::Result(raw(next("result")?)?),
                _ => return Err(err("Invalid invocation result kind.")),
            };
            HubMessage::Completion {
                invocation_id,
                outcome,
            }
        }
        5 => {
            headers(next("headers")?)?;
            HubMessage::CancelInvocation {
                invocation_id: string(next("invocationId")?, "invocationId")?,
            }
        }
        6 => HubMessage::Ping,
        7 => {
            let error = match next("error") {
                Err(_) | Ok(Mp::Nil) => None,
                Ok(v) => Some(string(v, "error")?),
            };
            let allow_reconnect = match next("allowReconnect") {
                Err(_) | Ok(Mp::Nil) => false,
                Ok(Mp::Boolean(b)) => b,
                Ok(_) => return Err(err("Expected 'allowReconnect' to be a boolean.")),
            };
            HubMessage::Close {
                error,
                allow_reconnect,
            }
        }
        8 | 9 => {
            let sequence_id = next("sequenceId")?
                .as_u64()
                .ok_or_else(|| err("Expected 'sequenceId' to be a non-negative integer."))?;
            if kind == 8 {
                HubMessage::Ack { sequence_id }
            } else {
                HubMessage::Sequence { sequence_id }
            }
        }
        other => HubMessage::Unknown(other),
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

fn raw(value: Mp) -> Result<Box<RawValue>, ProtocolError> {
    let json = to_json(value)?;
    serde_json::value::to_raw_value(&json).map_err(|e| err(format!("Invalid message: {e}.")))
}

/// A MessagePack value as the JSON value .NET's JSON protocol would carry for it.
fn to_json(value: Mp) -> Result<Js, ProtocolError> {
    Ok(match value {
        Mp::Nil => Js::Null,
        Mp::Boolean(b) => Js::Bool(b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Js::from(u),
            (None, Some(s)) => Js::from(s),
            (None, None) => return Err(err("Invalid message: integer out of range.")),
        },
        Mp::F32(f) => float(f64::from(f))?,
        Mp::F64(f) => float(f)?,
        Mp::String(s) => Js::String(
            s.into_str()
                .ok_or_else(|| err("Invalid message: a string is not UTF-8 text."))?,
        ),
        Mp::Binary(b) => Js::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Mp::Array(items) => Js::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Mp::Map(entries) => {
            let mut object = serde_json::Map::with_capacity(entries.len());
            for (key, value) in entries {
                let key = match key {
                    Mp::String(s) => s
                        .into_str()
                        .ok_or_else(|| err("Invalid message: a map key is not UTF-8 text."))?,
                    Mp::Integer(i) => i.to_string(),
                    _ => return Err(err("Invalid message: map keys must be strings.")),
                };
                object.insert(key, to_json(value)?);
            }
            Js::Object(object)
        }
        Mp::Ext(-1, data) => Js::String(timestamp(&data)?),
        Mp::Ext(kind, _) => {
            return Err(err(format!(
                "Invalid message: MessagePack extension type {kind} is not supported."
            )))
        }
    })
}

fn float(f: f64) -> Result<Js, ProtocolError> {
    serde_json::Number::from_f64(f)
        .map(Js::Number)
        .ok_or_else(|| err("Invalid message: NaN and infinite numbers have no JSON form."))
}

/// The MessagePack timestamp extension (4, 8 or 12 bytes) as `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`.
fn timestamp(data: &[u8]) -> Result<String, ProtocolError> {
    let (seconds, nanos): (i64, u32) = match data.len() {
        4 => (
            i64::from(u32::from_be_bytes(data.try_into().expect("4 bytes"))),
            0,
        ),
        8 => {
            let v = u64::from_be_bytes(data.try_into().expect("8 bytes"));
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(data[4..].try_into().expect("8 bytes")),
            u32::from_be_bytes(data[..4].try_into().expect("4 bytes")),
        ),
        _ => return Err(err("Invalid message: a timestamp has 4, 8 or 12 bytes.")),
    };
    if nanos >= 1_000_000_000 || !(-62_135_596_800..=253_402_300_799).contains(&seconds) {
        return Err(err("Invalid message: timestamp out of range."));
    }
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), by 400-year eras.
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    Ok(text)
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

fn payload(raw: &RawValue) -> Mp {
    // Raw values come from the hub's own JSON encoding or from a parsed message: always valid JSON.
    serde_json::from_str(raw.get()).map_or(Mp::Nil, from_json)
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
