//! Uploads over the circuit's connection: the [`ChunkReader`] every circuit provides to its components as
//! their [`UploadSource`], and the browser's upload module served at `{hub}/upload.js`.
//!
//! The server pulls: a chunk is a browser call (`T.InvokeJS` of [`READ_FUNCTION`] with the file id, offset
//! and length) answered in `EndInvokeJS` with the bytes as base64; a [`FileStream`] keeps a few such calls
//! in flight and no more, so the hub's inbound path never has more than that window of a file to hold, and
//! the connection stays free for events and acks between chunks. A lost connection fails the pending calls
//! at once (the circuit's registry does that), which ends the upload with [`UploadError::Disconnected`]
//! while the circuit lives on and reconnects.
//!
//! [`FileStream`]: tether_components::upload::FileStream

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tether_components::upload::{ChunkFuture, ChunkReader, UploadError, UploadSource};

use crate::circuit::{BrowserCallError, CircuitHandle};

/// The upload module (`client-js/dist/upload.js`), loaded by the boot script on pages with `t-upload`.
pub const UPLOAD_SCRIPT: &str = include_str!("../../client-js/dist/upload.js");

/// The browser function that answers a chunk request `(id, offset, length)` with base64.
pub const READ_FUNCTION: &str = "tether.upload.read";
/// The browser function that forgets a file `(id)`.
pub const CANCEL_FUNCTION: &str = "tether.upload.cancel";

/// Reads uploaded files from the browser of one circuit.
struct BrowserFiles {
    circuit: CircuitHandle,
}

/// The upload source of `circuit`'s components.
pub(crate) fn browser_source(circuit: CircuitHandle) -> UploadSource {
    UploadSource::new(BrowserFiles { circuit })
}

/// The arguments of the browser call that reads `len` bytes of file `file` from `offset`
/// (tests/fixtures/events/upload.json).
fn read_args(file: u64, offset: u64, len: u32) -> Vec<Value> {
    vec![Value::from(file), Value::from(offset), Value::from(len)]
}

/// The arguments of the browser call that forgets file `file`.
fn cancel_args(file: u64) -> Vec<Value> {
    vec![Value::from(file)]
}

/// The bytes of the browser's answer to a read: a base64 string.
fn decode_chunk(answer: Value) -> Result<Vec<u8>, UploadError> {
    let Value::String(text) = answer else {
        return Err(UploadError::Protocol(
            "a chunk must be a base64 string".to_owned(),
        ));
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| UploadError::Protocol(format!("a chunk is not base64: {e}")))
}

impl ChunkReader for BrowserFiles {
    fn read(&self, file: u64, offset: u64, len: u32) -> ChunkFuture {
        let circuit = self.circuit.clone();
        Box::pin(async move {
            let answer = circuit
                .call_browser(READ_FUNCTION, read_args(file, offset, len))
                .await
                .map_err(|error| match error {
                    BrowserCallError::Disconnected | BrowserCallError::CircuitEnded => {
                        UploadError::Disconnected
                    }
                    BrowserCallError::Failed(message) if message == "cancelled" => {
                        UploadError::Cancelled
                    }
                    other => UploadError::Failed(other.to_string()),
                })?;
            decode_chunk(answer)
        })
    }

    fn cancel(&self, file: u64) {
        // Called from `Drop`, possibly under the circuit's lock: the call goes out from a task of its own.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let circuit = self.circuit.clone();
        runtime.spawn(async move {
            if circuit.is_connected() {
                let _ = circuit
                    .call_browser(CANCEL_FUNCTION, cancel_args(file))
                    .await;
            }
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
    use serde_json::{json, Value};

    use super::*;

    /// The calls of the shared fixture (also checked against the upload module in client-js) are the ones
    /// the server makes, and their answers decode to the chosen file's bytes.
    #[test]
    fn browser_calls_and_answers_match_the_shared_fixture() {
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
        assert!(calls.iter().any(|c| c["function"] == READ_FUNCTION));
        for call in calls {
            let args = call["args"].as_array().unwrap();
            let file = args[0].as_u64().unwrap();
            match call["function"].as_str().unwrap() {
                READ_FUNCTION => {
                    let (offset, len) = (args[1].as_u64().unwrap(), args[2].as_u64().unwrap());
                    assert_eq!(&read_args(file, offset, len as u32), args);
                    let bytes = decode_chunk(call["answer"].clone()).unwrap();
                    let start = offset as usize;
                    assert_eq!(
                        bytes,
                        &content(file).as_bytes()[start..start + len as usize]
                    );
                }
                CANCEL_FUNCTION => assert_eq!(&cancel_args(file), args),
                other => panic!("unknown browser function {other}"),
            }
        }
    }

    #[test]
    fn answers_that_are_not_base64_strings_are_protocol_errors() {
        assert!(matches!(
            decode_chunk(json!(12)),
            Err(UploadError::Protocol(_))
        ));
        let error = decode_chunk(json!("not base64!")).unwrap_err();
        assert!(error.to_string().contains("not base64"), "{error}");
    }
}
