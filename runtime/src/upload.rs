//! Uploads over the circuit's connection: the [`UploadTransport`] every circuit provides to its components
//! as their [`UploadSource`], the routing of `UploadChunk` messages to the transfers in progress, and the
//! browser's upload module served at `{hub}/upload.js`.
//!
//! The server grants credit and the browser pushes: a grant is a browser call (`T.InvokeJS` of
//! [`SEND_FUNCTION`] with the file id, the offset the browser may send up to, and the chunk size) that the
//! browser answers once it has sent every byte up to that offset; the bytes travel as fire-and-forget
//! `UploadChunk(fileId, offset, data)` hub messages, sent back to back. Each chunk goes straight to its
//! file's [`ChunkInbox`], which accepts it only within the credit and in order, so what the server holds
//! of a file is bounded by the credit whatever the browser sends. The connection stays free for events
//! and acks: chunks are small messages like any other.
//!
//! Failure: while bytes are owed (`arrived < granted`), the grant that covers them is an unanswered
//! browser call, because the browser answers a grant only after sending its last chunk, on the same
//! ordered connection. A lost connection fails pending calls at once (the circuit does that), which fails
//! the transfer with [`UploadError::Disconnected`] while the circuit lives on and reconnects; a browser
//! that dropped the file answers the grant with `cancelled`. A chunk for no transfer, past the credit, out
//! of order or of the wrong size is refused with a logged warning naming the circuit, and unless the
//! transfer was already stopping it fails that upload with [`UploadError::Protocol`]; the circuit lives on.
//!
//! [`FileStream`]: tether_components::upload::FileStream

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tether_components::upload::{
    ChunkInbox, ChunkRefusal, UploadError, UploadSource, UploadTransport,
};

use crate::circuit::{BrowserCallError, CircuitHandle};

/// The upload module (`client-js/dist/upload.js`), loaded by the boot script on pages with `t-upload`.
pub const UPLOAD_SCRIPT: &str = include_str!("../../client-js/dist/upload.js");

/// The browser function that grants credit, `(id, upTo, chunkBytes)`: the browser sends the file's bytes
/// up to offset `upTo` as `UploadChunk` messages of at most `chunkBytes`, and answers once they are sent.
pub const SEND_FUNCTION: &str = "tether.upload.send";
/// The browser function that forgets a file `(id)`.
pub const CANCEL_FUNCTION: &str = "tether.upload.cancel";

/// The bytes of one `UploadChunk`: a base64 string from a JSON client (the boot script), or binary data
/// from a MessagePack one. Decoded once, as the hub reads the message's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkBytes(pub(crate) Vec<u8>);

impl<'de> serde::Deserialize<'de> for ChunkBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ChunkBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chunk as a base64 string or binary data")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ChunkBytes, E> {
                base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map(ChunkBytes)
                    .map_err(|e| E::custom(format!("a chunk is not base64: {e}")))
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<ChunkBytes, E> {
                Ok(ChunkBytes(bytes.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<ChunkBytes, E> {
                Ok(ChunkBytes(bytes))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The uploads of one circuit in progress: each open transfer's inbox, by the browser's file id.
#[derive(Default)]
pub(crate) struct UploadTransfers(Mutex<HashMap<u64, ChunkInbox>>);

/// Why an `UploadChunk` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// No transfer of that file is open (never granted, finished, or cancelled and forgotten).
    UnknownUpload { file: u64 },
    /// The transfer refused it (see [`ChunkRefusal`]).
    Refused { file: u64, refusal: ChunkRefusal },
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownUpload { file } => write!(
                f,
                "a chunk for file {file}, which has no upload in progress (never granted credit, finished or cancelled)"
            ),
            Self::Refused { file, refusal } => write!(f, "{refusal} (file {file})"),
        }
    }
}

impl ChunkError {
    /// Whether the browser broke the protocol (as opposed to a chunk it sent before hearing of a cancel).
    pub(crate) fn is_protocol_error(&self) -> bool {
        match self {
            Self::UnknownUpload { .. } => true,
            Self::Refused { refusal, .. } => refusal.is_protocol_error(),
        }
    }
}

impl UploadTransfers {
    /// Hands the chunk of `file` at `offset` to its transfer. A transfer that has all its bytes is
    /// forgotten: a chunk after that is for an unknown upload.
    pub(crate) fn deliver(&self, file: u64, offset: u64, bytes: Vec<u8>) -> Result<(), ChunkError> {
        let inbox = self.0.lock().get(&file).cloned();
        let Some(inbox) = inbox else {
            return Err(ChunkError::UnknownUpload { file });
        };
        inbox
            .deliver(offset, bytes)
            .map_err(|refusal| ChunkError::Refused { file, refusal })?;
        if inbox.is_complete() {
            self.0.lock().remove(&file);
        }
        Ok(())
    }

    fn open(&self, inbox: &ChunkInbox) {
        self.0.lock().insert(inbox.file(), inbox.clone());
    }

    fn forget(&self, file: u64) {
        self.0.lock().remove(&file);
    }
}

/// Receives uploaded files from the browser of one circuit.
struct BrowserFiles {
    circuit: CircuitHandle,
}

/// The upload source of `circuit`'s components, receiving through the circuit's own transfers (made by its
/// first upload).
pub(crate) fn browser_source(circuit: CircuitHandle) -> UploadSource {
    UploadSource::new(BrowserFiles { circuit })
}

/// The arguments of the browser call that grants credit for file `file` up to offset `up_to`, in chunks of
/// at most `chunk` bytes (tests/fixtures/events/upload.json).
fn send_args(file: u64, up_to: u64, chunk: u32) -> Vec<Value> {
    vec![Value::from(file), Value::from(up_to), Value::from(chunk)]
}

/// The arguments of the browser call that forgets file `file`.
fn cancel_args(file: u64) -> Vec<Value> {
    vec![Value::from(file)]
}

/// What a failed grant means for its transfer.
fn grant_failure(error: BrowserCallError) -> UploadError {
    match error {
        BrowserCallError::Disconnected | BrowserCallError::CircuitEnded => {
            UploadError::Disconnected
        }
        BrowserCallError::Failed(message) if message == "cancelled" => UploadError::Cancelled,
        other => UploadError::Failed(other.to_string()),
    }
}

impl UploadTransport for BrowserFiles {
    fn open(&self, inbox: &ChunkInbox) {
        match self.circuit.uploads() {
            Some(transfers) => transfers.open(inbox),
            None => inbox.fail(UploadError::Disconnected),
        }
    }

    fn grant(&self, inbox: &ChunkInbox, to: u64, chunk: u32) {
        // Called from the reader's task, possibly while the circuit's lock is held elsewhere: the call goes
        // out from a task of its own. Grants may reach the browser in any order (each names an absolute
        // offset, and the browser keeps the highest).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            inbox.fail(UploadError::Failed(
                "no async runtime to grant credit from".into(),
            ));
            return;
        };
        let circuit = self.circuit.clone();
        let inbox = inbox.clone();
        runtime.spawn(async move {
            let args = send_args(inbox.file(), to, chunk);
            if let Err(error) = circuit.call_browser(SEND_FUNCTION, args).await {
                inbox.fail(grant_failure(error));
            }
        });
    }

    fn cancel(&self, file: u64) {
        // Called from `Drop`, possibly under the circuit's lock: the call goes out from a task of its own.
        // The transfer stays routed until the browser has heard, so the chunks it sent before are refused
        // quietly as late rather than as chunks for an unknown upload.
        let Some(transfers) = self.circuit.uploads() else {
            return; // The circuit is gone, and its transfers with it.
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            transfers.forget(file);
            return;
        };
        let circuit = self.circuit.clone();
        runtime.spawn(async move {
            if circuit.is_connected() {
                let _ = circuit
                    .call_browser(CANCEL_FUNCTION, cancel_args(file))
                    .await;
            }
            transfers.forget(file);
        });
    }
}

/// Serves [`UPLOAD_SCRIPT`] with a content `ETag`, revalidated on every load (`no-cache`): the boot script
/// asks for it without a version, and a stale module must never pair with a newer boot script.
pub(crate) async fn serve_upload_script(headers: HeaderMap) -> Response {
    static ETAG: OnceLock<HeaderValue> = OnceLock::new();
    let etag = ETAG.get_or_init(|| {
        let digest = Sha256::digest(UPLOAD_SCRIPT.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex digits make a header value")
    });
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let hit = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag.to_str().unwrap_or_default() || tag.trim() == "*");
    if hit {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag.clone()), cache],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::ETAG, etag.clone()),
            cache,
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        UPLOAD_SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::FutureExt;
    use serde_json::{json, Value};
    use tether_components::upload::FileInfo;

    use super::*;
    use crate::circuit::protocol::UploadChunkArgs;

    /// The calls of the shared fixture (also checked against the upload module in client-js) are the ones
    /// the server makes, and the chunks the browser sends for them decode, as `UploadChunk` arguments, to
    /// the chosen file's bytes, in order and within each grant.
    #[test]
    fn browser_calls_and_chunks_match_the_shared_fixture() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/events/upload.json")).unwrap();
        let content = |id: u64| {
            let index = fixture["args"]["files"]
                .as_array()
                .unwrap()
                .iter()
                .position(|f| f["id"] == id)
                .unwrap();
            fixture["files"][index]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let calls = fixture["calls"].as_array().unwrap();
        assert!(calls.iter().any(|c| c["function"] == SEND_FUNCTION));
        let mut sent = 0u64;
        for call in calls {
            let args = call["args"].as_array().unwrap();
            let file = args[0].as_u64().unwrap();
            match call["function"].as_str().unwrap() {
                SEND_FUNCTION => {
                    let (up_to, chunk) = (args[1].as_u64().unwrap(), args[2].as_u64().unwrap());
                    assert_eq!(&send_args(file, up_to, chunk as u32), args);
                    for message in call["chunks"].as_array().unwrap() {
                        let UploadChunkArgs(id, offset, ChunkBytes(bytes)) =
                            serde_json::from_value(message.clone()).unwrap();
                        assert_eq!((id, offset), (file, sent));
                        assert!(bytes.len() as u64 <= chunk);
                        let end = offset as usize + bytes.len();
                        assert_eq!(bytes, &content(file).as_bytes()[offset as usize..end]);
                        sent = end as u64;
                    }
                    assert_eq!(sent, up_to, "a grant is answered once its bytes are sent");
                }
                CANCEL_FUNCTION => assert_eq!(&cancel_args(file), args),
                other => panic!("unknown browser function {other}"),
            }
        }
    }

    /// Registers transfers in a routing table as the circuit's transport does, without a browser.
    struct Routing(Arc<UploadTransfers>);

    impl UploadTransport for Routing {
        fn open(&self, inbox: &ChunkInbox) {
            self.0.open(inbox);
        }
        fn grant(&self, _: &ChunkInbox, _: u64, _: u32) {}
        fn cancel(&self, file: u64) {
            self.0.forget(file);
        }
    }

    /// The routing of chunks: only to an open transfer, only within its credit; a transfer is forgotten
    /// once complete.
    #[test]
    fn chunks_reach_open_transfers_only_and_within_their_credit() {
        let transfers = Arc::new(UploadTransfers::default());
        let refused = transfers.deliver(9, 0, vec![1]).unwrap_err();
        assert_eq!(refused, ChunkError::UnknownUpload { file: 9 });
        assert!(refused.is_protocol_error());
        assert!(
            refused.to_string().contains("no upload in progress"),
            "{refused}"
        );

        let source = UploadSource::new(Routing(transfers.clone()));
        let info = FileInfo {
            id: 9,
            name: "a".into(),
            size: 5,
            content_type: String::new(),
        };
        let mut stream = source.file(info.clone()).stream().with_credit(2, 1, 0, 2);
        assert!(
            stream.next_chunk().now_or_never().is_none(),
            "waiting for bytes"
        );
        transfers.deliver(9, 0, vec![1, 2]).unwrap();
        let refused = transfers.deliver(9, 2, vec![3]).unwrap_err();
        assert!(refused.is_protocol_error());
        assert_eq!(
            refused.to_string(),
            "a chunk ending at byte 3, past the credit granted (up to byte 2) (file 9)"
        );
        assert!(stream
            .next_chunk()
            .now_or_never()
            .unwrap()
            .unwrap()
            .is_err());
        drop(stream);
        assert_eq!(
            transfers.deliver(9, 2, vec![3]).unwrap_err(),
            ChunkError::UnknownUpload { file: 9 },
            "a stopped transfer is forgotten"
        );

        let mut stream = source.file(info).stream().with_credit(5, 5, 0, 5);
        assert!(stream.next_chunk().now_or_never().is_none());
        transfers.deliver(9, 0, vec![1, 2, 3, 4, 5]).unwrap();
        assert_eq!(
            transfers.deliver(9, 5, vec![6]).unwrap_err(),
            ChunkError::UnknownUpload { file: 9 },
            "a complete transfer is forgotten"
        );
        assert_eq!(
            stream
                .next_chunk()
                .now_or_never()
                .unwrap()
                .unwrap()
                .unwrap(),
            [1, 2, 3, 4, 5]
        );
        assert!(stream.next_chunk().now_or_never().unwrap().is_none());
    }

    #[test]
    fn chunks_decode_from_base64_text_and_from_binary_data() {
        let text: ChunkBytes = serde_json::from_value(json!("aGk=")).unwrap();
        assert_eq!(text.0, b"hi");
        let binary: ChunkBytes =
            crate::hub::value::from_value(crate::hub::HubValue::Binary(vec![1, 2])).unwrap();
        assert_eq!(binary.0, [1, 2]);
        let error = serde_json::from_value::<ChunkBytes>(json!("not base64!")).unwrap_err();
        assert!(error.to_string().contains("not base64"), "{error}");
    }
}
