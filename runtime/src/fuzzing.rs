//! Entry points for the fuzz targets in `fuzz/` (the `fuzzing` feature). Not a public API.
//!
//! Each function only calls the parser or state machine the server itself uses, so a target exercises the
//! real code; the crate-private types are wrapped or flattened into plain values here, and this file is the
//! only one that names their paths.

use serde_json::Value;

use crate::circuit::acks::{AckOutcome, EncodedBatch, RenderAcks};
use crate::circuit::protocol::{AckArgs, ChunkAssembler, EventArgs};
use crate::hub::protocol;

/// Feeds `frames` in order through the connection's record buffer: the complete records, then the length
/// of the unterminated tail left over.
pub fn split_records(frames: &[&str]) -> (Vec<String>, usize) {
    let mut buffer = protocol::RecordBuffer::default();
    let mut records = Vec::new();
    for frame in frames {
        records.extend(buffer.push(frame));
    }
    (records, buffer.pending_len())
}

/// Parses one record (without its separator). `Ok(Some(bytes))` is the message encoded again, separator
/// included; `Ok(None)` is a message of an unknown type (skipped by the server, never encoded); `Err` is the
/// protocol error text the server would close with.
pub fn parse_and_encode_message(record: &str) -> Result<Option<Vec<u8>>, String> {
    let message = protocol::parse_message(record).map_err(|e| e.0)?;
    if matches!(message, protocol::HubMessage::Unknown(_)) {
        return Ok(None);
    }
    let mut out = Vec::new();
    protocol::write_message(&message, &mut out);
    Ok(Some(out))
}

/// Parses a handshake request record: the protocol name and version, or the error text.
pub fn parse_handshake(record: &str) -> Result<(String, u32), String> {
    protocol::parse_handshake(record)
        .map(|h| (h.protocol.name().to_owned(), h.version))
        .map_err(|e| e.0)
}

/// The handshake answer the server writes, separator included.
pub fn handshake_response(error: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    protocol::write_handshake_response(&mut out, error);
    out
}

/// Feeds `frames` in order through a MessagePack connection's length-prefix splitter, refusing messages
/// over `max` bytes: every complete message (without its prefix), or the error that would end the
/// connection (`too large: N` or the protocol error text).
pub fn split_msgpack(frames: &[&[u8]], max: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut buffer = protocol::msgpack::LengthPrefixedBuffer::default();
    let mut messages = Vec::new();
    for frame in frames {
        match buffer.push(frame, max) {
            Ok(more) => messages.extend(more),
            Err(protocol::msgpack::Split::TooLarge(n)) => return Err(format!("too large: {n}")),
            Err(protocol::msgpack::Split::Malformed(e)) => return Err(e.0),
        }
    }
    Ok(messages)
}

/// Translates one MessagePack message (without its prefix) as the connection does: `Ok(Some(record))` is
/// the JSON record (without separator) the hub handles, `Ok(None)` a message of an unknown type, `Err` the
/// protocol error text.
pub fn msgpack_to_record(message: &[u8]) -> Result<Option<String>, String> {
    protocol::msgpack::record_to_json(message).map_err(|e| e.0)
}

/// Parses one MessagePack message (without its prefix) and writes it again natively, as the connection
/// answers on a MessagePack connection (payloads kept as MessagePack values): the written message with
/// its prefix, `Ok(None)` for an unknown type, `Err` the protocol error text.
pub fn reencode_msgpack(message: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let parsed = protocol::msgpack::parse_message(message).map_err(|e| e.0)?;
    if matches!(parsed, protocol::HubMessage::Unknown(_)) {
        return Ok(None);
    }
    let mut out = Vec::new();
    protocol::msgpack::write_message_msgpack(&parsed, &mut out);
    Ok(Some(out))
}

/// Translates a frame of JSON records (each ending with the separator), as the hub queues them, into the
/// length-prefixed MessagePack messages a MessagePack connection writes.
pub fn records_to_msgpack(frame: &[u8]) -> Vec<u8> {
    protocol::msgpack::json_frame_to_msgpack(frame)
}

/// Decodes the argument array of `DispatchEvent` as the circuit hub does: handler id, event name, payload.
pub fn decode_event_arguments(arguments: &str) -> Result<(u64, String, Value), String> {
    serde_json::from_str::<EventArgs>(arguments)
        .map(|EventArgs(handler, name, payload)| (handler, name, payload))
        .map_err(|e| e.to_string())
}

/// Decodes the argument array of `OnRenderCompleted`: batch id and the browser's error, if any.
pub fn decode_ack_arguments(arguments: &str) -> Result<(u64, Option<String>), String> {
    serde_json::from_str::<AckArgs>(arguments)
        .map(|AckArgs(batch, error)| (batch, error))
        .map_err(|e| e.to_string())
}

/// The `Chunked` reassembler of one call.
#[derive(Debug)]
pub struct Chunks(ChunkAssembler);

impl Chunks {
    /// A reassembler refusing to grow past `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self(ChunkAssembler::new(limit))
    }

    /// Adds one stream item; the error text when it is refused.
    pub fn push(&mut self, item: &Value) -> Result<(), String> {
        self.0.push(item).map_err(|e| e.to_string())
    }

    /// The reassembled text (the JSON argument array of the target, parsed by the hub afterwards).
    pub fn finish(self) -> String {
        self.0.finish()
    }
}

/// A circuit's render acknowledgement bookkeeping, with batch ids counted as the circuit's renderer does.
#[derive(Debug)]
pub struct Acks {
    acks: RenderAcks,
    last_id: u64,
}

impl Acks {
    /// Bookkeeping that pauses rendering at `limit` unacknowledged batches.
    pub fn new(limit: usize) -> Self {
        Self {
            acks: RenderAcks::new(limit),
            last_id: 0,
        }
    }

    /// Whether another batch may be produced now.
    pub fn has_room(&self) -> bool {
        self.acks.has_room()
    }

    /// Records the next batch (an empty frame) as sent and returns its id.
    pub fn record(&mut self) -> u64 {
        self.last_id += 1;
        self.acks.record(EncodedBatch {
            id: self.last_id,
            frame: bytes::Bytes::new(),
        });
        self.last_id
    }

    /// Applies an acknowledgement: `Ok(true)` released batches, `Ok(false)` was stale, `Err` ends the
    /// circuit (with the reason's text).
    pub fn acknowledge(&mut self, batch: u64, error: Option<String>) -> Result<bool, String> {
        self.acks
            .acknowledge(batch, error)
            .map(|outcome| outcome == AckOutcome::Released)
            .map_err(|e| e.to_string())
    }

    /// The ids of the batches a reconnect would send again, oldest first.
    pub fn unacknowledged(&self) -> Vec<u64> {
        self.acks.unacknowledged().map(|b| b.id).collect()
    }
}
