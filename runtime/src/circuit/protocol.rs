//! The circuit hub's method and message names and argument shapes (docs/protocol.md, section 6). The
//! browser side mirrors these in `client-js/src/protocol.ts`.

use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tether_components::RenderBatch;

use super::acks::EncodedBatch;
use crate::hub::protocol::invocation_frame;

/// The protocol version this server speaks (sent by the boot script in `StartCircuit`).
pub const PROTOCOL_VERSION: u32 = 4;

/// The default path of the circuit hub.
pub const DEFAULT_HUB_PATH: &str = "/_tether";

/// Browser → server hub methods.
pub(crate) mod method {
    pub(crate) const START_CIRCUIT: &str = "StartCircuit";
    pub(crate) const CONNECT_CIRCUIT: &str = "ConnectCircuit";
    pub(crate) const DISPATCH_EVENT: &str = "DispatchEvent";
    pub(crate) const ON_RENDER_COMPLETED: &str = "OnRenderCompleted";
    pub(crate) const INVOKE_SERVER: &str = "InvokeServer";
    pub(crate) const END_INVOKE_JS: &str = "EndInvokeJS";
    pub(crate) const LOCATION_CHANGED: &str = "LocationChanged";
    pub(crate) const CHUNKED: &str = "Chunked";
    pub(crate) const RESUME_CIRCUIT: &str = "ResumeCircuit";
    pub(crate) const PAUSE_CIRCUIT: &str = "PauseCircuit";
    pub(crate) const UPLOAD_CHUNK: &str = "UploadChunk";
}

/// Server → browser invocation targets.
pub(crate) mod target {
    pub(crate) const BATCH: &str = "T.Batch";
    pub(crate) const ERROR: &str = "T.Error";
    pub(crate) const INVOKE_JS: &str = "T.InvokeJS";
    pub(crate) const END_INVOKE_SERVER: &str = "T.EndInvokeServer";
    pub(crate) const NAVIGATE: &str = "T.Navigate";
    pub(crate) const PERSISTED: &str = "T.Persisted";
}

/// `T.Batch(id, edits)` for `batch`, encoded once into the hub frame that goes on the wire;
/// `T.Batch(id, edits, true)` when `ack_now` (the batch fills the unacknowledged buffer, so the browser must
/// not defer its acknowledgement).
pub(crate) fn batch_frame(batch: &RenderBatch, ack_now: bool) -> EncodedBatch {
    let frame = invocation_frame(target::BATCH, |out| {
        // Writing into a String cannot fail.
        let _ = write!(out, "[{},", batch.id);
        batch.write_json(out);
        out.push_str(if ack_now { ",true]" } else { "]" });
    });
    EncodedBatch {
        id: batch.id,
        frame: Bytes::from(frame),
    }
}

/// The arguments of `StartCircuit`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct StartArgs(
    pub(crate) u32,
    pub(crate) String,
    pub(crate) String,
    pub(crate) Vec<String>,
);

/// The arguments of `DispatchEvent`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct EventArgs(
    pub(crate) u64,
    pub(crate) String,
    #[serde(default)] pub(crate) Value,
);

/// The arguments of `OnRenderCompleted`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct AckArgs(pub(crate) u64, #[serde(default)] pub(crate) Option<String>);

/// The arguments of `InvokeServer`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct InvokeServerArgs(
    pub(crate) u64,
    pub(crate) String,
    #[serde(default)] pub(crate) Vec<Value>,
);

/// The arguments of `EndInvokeJS`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct EndInvokeJsArgs(
    pub(crate) u64,
    pub(crate) bool,
    #[serde(default)] pub(crate) Value,
);

/// The arguments of `LocationChanged`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct LocationArgs(pub(crate) String, #[serde(default)] pub(crate) bool);

/// The arguments of `UploadChunk`: the file id, the chunk's offset in the file, and its bytes.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct UploadChunkArgs(
    pub(crate) u64,
    pub(crate) u64,
    pub(crate) crate::upload::ChunkBytes,
);

/// The arguments of `ConnectCircuit`: the secret. (A one-field tuple struct would decode from a bare string,
/// not from the one-element argument array.)
pub(crate) type ConnectArgs = (String,);

/// One call of a circuit hub method, its arguments decoded (once, from the raw JSON) into their final types.
/// `Chunked` is not one of them: it carries one of these, reassembled from its stream.
#[derive(Debug)]
pub(crate) enum Call {
    Start(StartArgs),
    Connect(ConnectArgs),
    Event(EventArgs),
    Ack(AckArgs),
    InvokeServer(InvokeServerArgs),
    EndInvokeJs(EndInvokeJsArgs),
    Location(LocationArgs),
    UploadChunk(UploadChunkArgs),
}

/// The circuit hub methods a call can name (every one but `Chunked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Start,
    Connect,
    Event,
    Ack,
    InvokeServer,
    EndInvokeJs,
    Location,
    UploadChunk,
}

impl Method {
    pub(crate) const ALL: [Method; 8] = [
        Method::Start,
        Method::Connect,
        Method::Event,
        Method::Ack,
        Method::InvokeServer,
        Method::EndInvokeJs,
        Method::Location,
        Method::UploadChunk,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Start => method::START_CIRCUIT,
            Method::Connect => method::CONNECT_CIRCUIT,
            Method::Event => method::DISPATCH_EVENT,
            Method::Ack => method::ON_RENDER_COMPLETED,
            Method::InvokeServer => method::INVOKE_SERVER,
            Method::EndInvokeJs => method::END_INVOKE_JS,
            Method::Location => method::LOCATION_CHANGED,
            Method::UploadChunk => method::UPLOAD_CHUNK,
        }
    }

    /// The method named `name` (`Chunked`'s target), as the hub matches names: ignoring ASCII case.
    pub(crate) fn from_name(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Decodes this method's arguments from their JSON text (a reassembled `Chunked` call).
    pub(crate) fn decode(self, json: &str) -> Result<Call, serde_json::Error> {
        Ok(match self {
            Method::Start => Call::Start(serde_json::from_str(json)?),
            Method::Connect => Call::Connect(serde_json::from_str(json)?),
            Method::Event => Call::Event(serde_json::from_str(json)?),
            Method::Ack => Call::Ack(serde_json::from_str(json)?),
            Method::InvokeServer => Call::InvokeServer(serde_json::from_str(json)?),
            Method::EndInvokeJs => Call::EndInvokeJs(serde_json::from_str(json)?),
            Method::Location => Call::Location(serde_json::from_str(json)?),
            Method::UploadChunk => Call::UploadChunk(serde_json::from_str(json)?),
        })
    }
}

impl Call {
    pub(crate) fn method(&self) -> Method {
        match self {
            Call::Start(_) => Method::Start,
            Call::Connect(_) => Method::Connect,
            Call::Event(_) => Method::Event,
            Call::Ack(_) => Method::Ack,
            Call::InvokeServer(_) => Method::InvokeServer,
            Call::EndInvokeJs(_) => Method::EndInvokeJs,
            Call::Location(_) => Method::Location,
            Call::UploadChunk(_) => Method::UploadChunk,
        }
    }
}

/// Bytes held by one connection's `Chunked` calls under reassembly, shared by its assemblers
/// (`CircuitOptions::max_chunked_bytes_per_connection`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkBudget(Arc<AtomicUsize>);

/// Collects the string chunks of a `Chunked` call, refusing to grow past `limit` bytes, or past the
/// connection's budget when it has one. What it holds is charged to the budget until it is finished or
/// dropped.
#[derive(Debug)]
pub(crate) struct ChunkAssembler {
    text: String,
    limit: usize,
    budget: Option<(ChunkBudget, usize)>,
}

/// Why a `Chunked` call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// The reassembled call is larger than `CircuitOptions::max_chunked_call_size`.
    TooLarge { limit: usize },
    /// The connection's `Chunked` calls together hold more than
    /// `CircuitOptions::max_chunked_bytes_per_connection`.
    ConnectionFull { limit: usize },
    /// A stream item was not a string.
    NotText,
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(
                f,
                "chunked call larger than {limit} bytes (raise CircuitOptions::max_chunked_call_size to allow it)"
            ),
            Self::ConnectionFull { limit } => write!(
                f,
                "chunked calls of this connection hold more than {limit} bytes together (raise \
                 CircuitOptions::max_chunked_bytes_per_connection to allow it)"
            ),
            Self::NotText => f.write_str("chunked call stream items must be strings"),
        }
    }
}

impl ChunkAssembler {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            text: String::new(),
            limit,
            budget: None,
        }
    }

    /// Charges what this assembler holds to `budget`, which may hold at most `max` bytes.
    pub(crate) fn with_budget(mut self, budget: ChunkBudget, max: usize) -> Self {
        self.budget = Some((budget, max));
        self
    }

    /// Adds one stream item.
    pub(crate) fn push(&mut self, item: &Value) -> Result<(), ChunkError> {
        let chunk = item.as_str().ok_or(ChunkError::NotText)?;
        if self.text.len() + chunk.len() > self.limit {
            return Err(ChunkError::TooLarge { limit: self.limit });
        }
        if let Some((budget, max)) = &self.budget {
            let before = budget.0.fetch_add(chunk.len(), Ordering::AcqRel);
            if before + chunk.len() > *max {
                budget.0.fetch_sub(chunk.len(), Ordering::AcqRel);
                return Err(ChunkError::ConnectionFull { limit: *max });
            }
        }
        self.text.push_str(chunk);
        Ok(())
    }

    /// The reassembled arguments: the JSON text of the target's argument array.
    pub(crate) fn finish(mut self) -> String {
        self.release()
    }

    /// Takes the text and returns its bytes to the budget.
    fn release(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        if let Some((budget, _)) = &self.budget {
            budget.0.fetch_sub(text.len(), Ordering::AcqRel);
        }
        text
    }
}

impl Drop for ChunkAssembler {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_decode_from_the_documented_arrays() {
        let start: StartArgs =
            serde_json::from_value(json!([1, "http://h/", "http://h/x", ["a.b"]])).unwrap();
        assert_eq!(start.3, ["a.b"]);
        let event: EventArgs = serde_json::from_value(json!([4, "click", {"button": 0}])).unwrap();
        assert_eq!((event.0, event.1.as_str()), (4, "click"));
        let ack: AckArgs = serde_json::from_value(json!([3, null])).unwrap();
        assert_eq!(ack, AckArgs(3, None));
        let ack: AckArgs = serde_json::from_value(json!([3, "boom"])).unwrap();
        assert_eq!(ack.1.as_deref(), Some("boom"));
        let call: InvokeServerArgs = serde_json::from_value(json!([1, "add", [1, 2]])).unwrap();
        assert_eq!(call.2, [json!(1), json!(2)]);
        let end: EndInvokeJsArgs = serde_json::from_value(json!([2, false, "TypeError"])).unwrap();
        assert!(!end.1);
        let nav: LocationArgs = serde_json::from_value(json!(["http://h/y", true])).unwrap();
        assert!(nav.1);
        assert!(serde_json::from_value::<EventArgs>(json!(["x", "click", {}])).is_err());
        let chunk: UploadChunkArgs = serde_json::from_value(json!([3, 16384, "aGk="])).unwrap();
        assert_eq!(
            (chunk.0, chunk.1, chunk.2 .0.as_slice()),
            (3, 16384, &b"hi"[..])
        );
        let error = serde_json::from_value::<UploadChunkArgs>(json!([3, 0, "a!"])).unwrap_err();
        assert!(error.to_string().contains("not base64"), "{error}");
        assert!(serde_json::from_value::<UploadChunkArgs>(json!([3, 0, 12])).is_err());
    }

    #[test]
    fn chunks_reassemble_within_the_limit() {
        let mut assembler = ChunkAssembler::new(64);
        for part in ["[4,\"inp", "ut\",{\"value\":\"", "abc\"}]"] {
            assembler.push(&json!(part)).unwrap();
        }
        let call = Method::from_name("dispatchevent")
            .unwrap()
            .decode(&assembler.finish())
            .unwrap();
        let Call::Event(EventArgs(4, event, args)) = call else {
            panic!("{call:?}")
        };
        assert_eq!((event.as_str(), args), ("input", json!({"value": "abc"})));
        assert_eq!(Method::from_name("Chunked"), None);
    }

    #[test]
    fn a_connection_budget_bounds_its_assemblers_together_and_is_returned() {
        let budget = ChunkBudget::default();
        let mut a = ChunkAssembler::new(64).with_budget(budget.clone(), 10);
        let mut b = ChunkAssembler::new(64).with_budget(budget.clone(), 10);
        a.push(&json!("[1,2,3")).unwrap();
        let err = b.push(&json!("[4,5,6")).unwrap_err();
        assert_eq!(err, ChunkError::ConnectionFull { limit: 10 });
        assert!(err.to_string().contains("max_chunked_bytes_per_connection"));
        a.push(&json!("]")).unwrap();
        assert_eq!(a.finish(), "[1,2,3]");
        b.push(&json!("[4,5,6]")).unwrap();
        drop(b);
        assert_eq!(budget.0.load(Ordering::Acquire), 0);
    }

    #[test]
    fn chunks_past_the_limit_are_refused_with_the_option_named() {
        let mut assembler = ChunkAssembler::new(8);
        assembler.push(&json!("[1,2,3,")).unwrap();
        let err = assembler.push(&json!("4,5]")).unwrap_err();
        assert_eq!(err, ChunkError::TooLarge { limit: 8 });
        assert!(err.to_string().contains("max_chunked_call_size"));
        assert_eq!(
            ChunkAssembler::new(8).push(&json!(5)).unwrap_err(),
            ChunkError::NotText
        );
    }
}
