use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::FutureExt;
use parking_lot::Mutex;
use serde_json::json;

use super::*;
use crate::event::{EventData, EventKind};

/// An in-memory browser: files by id, a log of requests and cancels, and an optional failure.
#[derive(Default)]
struct Browser {
    files: Mutex<Vec<(u64, Vec<u8>)>>,
    requests: AtomicU64,
    cancels: Mutex<Vec<u64>>,
    fail_at: Mutex<Option<(u64, UploadError)>>,
    short: AtomicU64,
}

#[derive(Clone, Default)]
struct Reader(Arc<Browser>);

impl ChunkReader for Reader {
    fn read(&self, file: u64, offset: u64, len: u32) -> ChunkFuture {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
        let browser = self.0.clone();
        Box::pin(async move {
            if let Some((at, error)) = browser.fail_at.lock().clone() {
                if offset >= at {
                    return Err(error);
                }
            }
            let files = browser.files.lock();
            let (_, bytes) = files
                .iter()
                .find(|(id, _)| *id == file)
                .ok_or(UploadError::Cancelled)?;
            let end =
                (offset + u64::from(len)) as usize - browser.short.load(Ordering::SeqCst) as usize;
            Ok(bytes[offset as usize..end].to_vec())
        })
    }

    fn cancel(&self, file: u64) {
        self.0.cancels.lock().push(file);
    }
}

fn file(id: u64, size: u64) -> FileInfo {
    FileInfo {
        id,
        name: format!("f{id}.bin"),
        size,
        content_type: "application/octet-stream".to_owned(),
    }
}

fn setup(size: usize) -> (Reader, UploadSource, Vec<u8>) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let reader = Reader::default();
    reader.0.files.lock().push((1, bytes.clone()));
    let source = UploadSource::new(reader.clone());
    (reader, source, bytes)
}

#[test]
fn streams_the_file_in_order_with_at_most_a_window_of_requests_in_flight() {
    let size = 5 * CHUNK_BYTES as usize + 123;
    let (reader, source, bytes) = setup(size);
    let mut stream = source.file(file(1, size as u64)).stream();
    let mut got = Vec::new();
    let mut chunks = 0u64;
    while let Some(chunk) = stream.next_chunk().now_or_never().expect("ready") {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= CHUNK_BYTES as usize);
        got.extend_from_slice(&chunk);
        chunks += 1;
        // Requests sent minus chunks handed out: the window, never more.
        let outstanding = reader.0.requests.load(Ordering::SeqCst) - chunks;
        assert!(
            outstanding <= (WINDOW - 1) as u64,
            "{outstanding} in flight"
        );
        assert!(stream.in_flight() < WINDOW);
    }
    assert_eq!(got, bytes);
    assert_eq!(stream.received(), size as u64);
    assert_eq!(reader.0.requests.load(Ordering::SeqCst), 6);
    drop(stream);
    assert!(
        reader.0.cancels.lock().is_empty(),
        "a finished stream cancels nothing"
    );
}

#[test]
fn a_wider_window_keeps_more_requests_in_flight_and_an_empty_file_ends_at_once() {
    let size = 10 * 1000;
    let (reader, source, _) = setup(size);
    let mut stream = source
        .file(file(1, size as u64))
        .stream()
        .with_window(3, 1000);
    stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reader.0.requests.load(Ordering::SeqCst), 3);
    assert_eq!(stream.in_flight(), 2);
    let mut empty = source.file(file(2, 0)).stream();
    assert!(empty.next_chunk().now_or_never().unwrap().is_none());
}

#[test]
fn dropping_or_cancelling_a_stream_early_tells_the_browser() {
    let size = 3 * CHUNK_BYTES as usize;
    let (reader, source, _) = setup(size);
    let mut stream = source.file(file(1, size as u64)).stream();
    stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap();
    drop(stream);
    assert_eq!(*reader.0.cancels.lock(), vec![1]);
    source.file(file(1, size as u64)).stream().cancel();
    source.file(file(1, size as u64)).cancel();
    assert_eq!(*reader.0.cancels.lock(), vec![1, 1, 1]);
}

#[test]
fn a_failed_or_short_chunk_ends_the_stream_with_an_error() {
    let size = 3 * CHUNK_BYTES as usize;
    let (reader, source, _) = setup(size);
    *reader.0.fail_at.lock() = Some((CHUNK_BYTES as u64, UploadError::Disconnected));
    let mut stream = source.file(file(1, size as u64)).stream();
    assert!(stream.next_chunk().now_or_never().unwrap().unwrap().is_ok());
    let error = stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(error, UploadError::Disconnected);
    assert!(stream.next_chunk().now_or_never().unwrap().is_none());
    assert_eq!(*reader.0.cancels.lock(), vec![1]);

    *reader.0.fail_at.lock() = None;
    reader.0.short.store(1, Ordering::SeqCst);
    let mut stream = source.file(file(1, size as u64)).stream();
    let error = stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, UploadError::Protocol(_)), "{error}");
}

#[test]
fn specs_refuse_by_count_type_and_size_before_any_byte() {
    let spec = UploadSpec::new()
        .accept(".PDF, image/*,text/plain")
        .max_size(20_000_000)
        .max_count(2);
    assert_eq!(
        spec.accept_attribute().as_deref(),
        Some(".pdf,image/*,text/plain")
    );
    let typed = |name: &str, mime: &str, size: u64| FileInfo {
        id: 1,
        name: name.to_owned(),
        size,
        content_type: mime.to_owned(),
    };
    assert!(spec.check(&[typed("a.pdf", "", 10)]).is_ok());
    assert!(spec
        .check(&[typed("a", "image/png", 10), typed("b", "text/plain", 1)])
        .is_ok());
    let too_many = spec.check(&vec![typed("a.pdf", "", 1); 3]).unwrap_err();
    assert_eq!(
        too_many.to_string(),
        "Choose at most 2 file(s); 3 were chosen."
    );
    let wrong = spec.check(&[typed("a.exe", "application/x-msdownload", 1)]);
    assert!(matches!(wrong, Err(UploadRefusal::WrongType { .. })));
    assert!(spec.check(&[typed("a", "imagex/png", 1)]).is_err());
    let large = spec.check(&[typed("big.pdf", "", 25_500_000)]).unwrap_err();
    assert_eq!(
        large.to_string(),
        "big.pdf is 25.5 MB and the limit is 20 MB."
    );
    let barely = spec.check(&[typed("b.pdf", "", 20_000_001)]).unwrap_err();
    assert_eq!(
        barely.to_string(),
        "b.pdf is 20000001 bytes and the limit is 20000000 bytes."
    );
    assert!(UploadSpec::new().accept("").accepts(&typed("x", "", 0)));
}

#[test]
fn upload_events_decode_the_browsers_file_list() {
    let event = UploadEvent::decode(
        EventKind::Upload,
        &json!({"files": [{"id": 3, "name": "dir/a.txt", "size": 12, "type": "text/plain"}, {"id": 4, "name": "b", "size": 0}]}),
    )
    .unwrap();
    assert_eq!(event.files[0].name, "a.txt");
    assert_eq!(event.files[1].content_type, "");
    assert!(UploadEvent::decode(EventKind::Upload, &json!({"files": [{"id": -1}]})).is_err());
    assert!(UploadEvent::decode(EventKind::Upload, &json!({})).is_err());
}
