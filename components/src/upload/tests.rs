use std::sync::Arc;

use futures_util::FutureExt;
use parking_lot::Mutex;
use serde_json::json;

use super::*;
use crate::event::{EventData, EventKind};

/// An in-memory browser: files by id, the transfers opened, the grants and cancels it was sent, and how far
/// it has sent each file (`send_granted` sends what the grants allow, as the upload module does).
#[derive(Default)]
struct Browser {
    files: Mutex<Vec<(u64, Vec<u8>)>>,
    inboxes: Mutex<Vec<ChunkInbox>>,
    grants: Mutex<Vec<(u64, u64, u32)>>,
    cancels: Mutex<Vec<u64>>,
    /// Bytes sent per file so far.
    sent: Mutex<Vec<(u64, u64)>>,
}

#[derive(Clone, Default)]
struct Transport(Arc<Browser>);

impl Transport {
    /// Sends the bytes of the open transfer's file from where it stopped up to its latest grant, chunk by
    /// chunk (each arrival may grant more, which a later call sends).
    fn send_granted(&self) {
        let inbox = self.inbox();
        let (to, chunk) = {
            let grants = self.0.grants.lock();
            let (_, to, chunk) = *grants.last().unwrap();
            (to, chunk)
        };
        self.send_up_to(&inbox, to, chunk);
    }

    fn send_up_to(&self, inbox: &ChunkInbox, to: u64, chunk: u32) {
        let file = inbox.file();
        let bytes = self
            .0
            .files
            .lock()
            .iter()
            .find(|(id, _)| *id == file)
            .unwrap()
            .1
            .clone();
        loop {
            // Not under the lock: a delivery may grant more, which calls back into this transport.
            let at = {
                let mut sent = self.0.sent.lock();
                match sent.iter().find(|(id, _)| *id == file) {
                    Some(&(_, at)) => at,
                    None => {
                        sent.push((file, 0));
                        0
                    }
                }
            };
            if at >= to {
                return;
            }
            let end = (at + u64::from(chunk)).min(to);
            inbox
                .deliver(at, bytes[at as usize..end as usize].to_vec())
                .unwrap();
            let mut sent = self.0.sent.lock();
            sent.iter_mut().find(|(id, _)| *id == file).unwrap().1 = end;
        }
    }

    fn inbox(&self) -> ChunkInbox {
        self.0.inboxes.lock().last().unwrap().clone()
    }
}

impl UploadTransport for Transport {
    fn open(&self, inbox: &ChunkInbox) {
        self.0.inboxes.lock().push(inbox.clone());
    }

    fn grant(&self, inbox: &ChunkInbox, to: u64, chunk: u32) {
        self.0.grants.lock().push((inbox.file(), to, chunk));
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

fn setup(transport: Transport, size: usize) -> (Transport, UploadSource, Vec<u8>) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    transport.0.files.lock().push((1, bytes.clone()));
    let source = UploadSource::new(transport.clone());
    (transport, source, bytes)
}

#[test]
fn streams_the_file_in_order_granting_ahead_of_arrivals_and_never_holding_more_than_the_bound() {
    let size = 100 * CHUNK_BYTES as usize + 123;
    let (transport, source, bytes) = setup(Transport::default(), size);
    let mut stream = source.file(file(1, size as u64)).stream();
    assert_eq!(stream.credit(), CREDIT_BYTES + QUEUE_BYTES);
    assert!(
        stream.next_chunk().now_or_never().is_none(),
        "nothing sent yet"
    );
    assert_eq!(*transport.0.grants.lock(), [(1, CREDIT_BYTES, CHUNK_BYTES)]);
    // The browser sends everything granted; arrivals grant more on their own, until the bytes that arrived
    // run QUEUE_BYTES ahead of the reader, who has taken nothing yet.
    transport.send_granted();
    transport.send_granted();
    let held = transport.inbox().queued_bytes() as u64;
    assert_eq!(held, QUEUE_BYTES + CREDIT_BYTES);
    assert_eq!(
        stream.granted(),
        QUEUE_BYTES + CREDIT_BYTES,
        "grants paused"
    );
    let mut got = Vec::new();
    while let Some(chunk) = stream.next_chunk().now_or_never().expect("ready") {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= CHUNK_BYTES as usize);
        got.extend_from_slice(&chunk);
        transport.send_granted();
        // Neither what arrived and was not taken nor the credit outstanding passes the bound.
        let held = transport.inbox().queued_bytes() as u64;
        assert!(held <= stream.credit(), "{held} bytes held");
        assert!(stream.granted() - stream.received() <= stream.credit());
    }
    assert_eq!(got, bytes);
    assert_eq!(stream.received(), size as u64);
    let grants = transport.0.grants.lock().clone();
    assert_eq!(grants.last().unwrap().1, size as u64);
    assert!(grants.windows(2).all(|g| g[0].1 < g[1].1), "{grants:?}");
    assert!(
        grants
            .windows(2)
            .all(|g| g[1].1 - g[0].1 >= TOP_UP_BYTES || g[1].1 == size as u64),
        "grants go in steps: {grants:?}"
    );
    assert!(transport.inbox().is_complete());
    drop(stream);
    assert!(
        transport.0.cancels.lock().is_empty(),
        "a finished stream cancels nothing"
    );
}

#[test]
fn credit_follows_arrivals_and_a_reader_behind_pauses_it_until_it_takes_bytes() {
    let size = 10 * 1000;
    let (transport, source, bytes) = setup(Transport::default(), size);
    let mut stream = source
        .file(file(1, size as u64))
        .stream()
        .with_credit(3000, 1000, 1000, 1000);
    assert_eq!(stream.credit(), 4000);
    assert!(
        stream.next_chunk().now_or_never().is_none(),
        "nothing sent yet"
    );
    assert_eq!(*transport.0.grants.lock(), [(1, 3000, 1000)]);
    let inbox = transport.inbox();
    let deliver = |at: usize| {
        inbox
            .deliver(at as u64, bytes[at..at + 1000].to_vec())
            .unwrap()
    };
    deliver(0);
    assert_eq!(
        transport.0.grants.lock()[1],
        (1, 4000, 1000),
        "an arrival grants a step more, before the reader takes anything"
    );
    deliver(1000);
    deliver(2000);
    deliver(3000);
    assert_eq!(
        transport.0.grants.lock().len(),
        2,
        "arrivals 1,000 ahead of the reader: no more credit"
    );
    // Each 1,000 bytes the reader takes moves the cap, and a step of credit goes out.
    stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(transport.0.grants.lock()[2], (1, 5000, 1000));
    stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(transport.0.grants.lock()[3], (1, 6000, 1000));
    assert_eq!(stream.granted(), 6000);

    let mut empty = source.file(file(2, 0)).stream();
    assert!(empty.next_chunk().now_or_never().unwrap().is_none());
    assert_eq!(
        transport.0.inboxes.lock().len(),
        1,
        "an empty file opens no transfer"
    );
}

#[test]
fn a_chunk_beyond_the_credit_fails_the_upload_with_a_protocol_error() {
    let size = 10 * 1000;
    let (transport, source, bytes) = setup(Transport::default(), size);
    let mut stream = source
        .file(file(1, size as u64))
        .stream()
        .with_credit(3000, 1000, 0, 1000);
    assert!(stream.next_chunk().now_or_never().is_none());
    let inbox = transport.inbox();
    inbox.deliver(0, bytes[..1000].to_vec()).unwrap();
    let refusal = inbox.deliver(1000, bytes[1000..4000].to_vec()).unwrap_err();
    assert_eq!(
        refusal,
        ChunkRefusal::BadSize {
            len: 3000,
            max: 1000
        }
    );
    let refusal = inbox.deliver(1000, bytes[1000..2000].to_vec()).unwrap_err();
    assert_eq!(
        refusal,
        ChunkRefusal::Closed,
        "the transfer already failed: later chunks are not needed"
    );
    let error = stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "bad upload data from the browser: a chunk of 3000 bytes (chunks hold 1 to 1000 bytes)"
    );
    assert!(stream.next_chunk().now_or_never().unwrap().is_none());
    assert_eq!(
        *transport.0.cancels.lock(),
        [1],
        "the browser is told to stop"
    );

    // Past the credit, and out of order, on fresh streams.
    let mut stream = source
        .file(file(1, size as u64))
        .stream()
        .with_credit(3000, 1000, 0, 1000);
    assert!(stream.next_chunk().now_or_never().is_none());
    let inbox = transport.inbox();
    for at in [0, 1000, 2000] {
        inbox
            .deliver(at, bytes[at as usize..at as usize + 1000].to_vec())
            .unwrap();
    }
    let refusal = inbox.deliver(3000, bytes[3000..4000].to_vec()).unwrap_err();
    assert_eq!(
        refusal,
        ChunkRefusal::BeyondCredit {
            end: 4000,
            granted: 3000
        }
    );
    assert!(refusal.is_protocol_error());
    assert!(
        matches!(
            stream.next_chunk().now_or_never().unwrap().unwrap(),
            Err(UploadError::Protocol(_))
        ),
        "a refused chunk fails the upload at once, before the chunks queued ahead of it"
    );
    let mut stream = source
        .file(file(1, size as u64))
        .stream()
        .with_credit(3000, 1000, 0, 1000);
    assert!(stream.next_chunk().now_or_never().is_none());
    let refusal = transport
        .inbox()
        .deliver(1000, bytes[1000..2000].to_vec())
        .unwrap_err();
    assert_eq!(
        refusal,
        ChunkRefusal::OutOfOrder {
            expected: 0,
            offset: 1000
        }
    );
    assert!(stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .is_err());
}

#[test]
fn dropping_or_cancelling_a_stream_early_tells_the_browser_and_late_chunks_are_not_errors() {
    let size = 3 * CHUNK_BYTES as usize;
    let (transport, source, bytes) = setup(Transport::default(), size);
    let mut stream = source.file(file(1, size as u64)).stream();
    assert!(stream.next_chunk().now_or_never().is_none());
    drop(stream);
    assert_eq!(*transport.0.cancels.lock(), vec![1]);
    // A chunk the browser sent before it heard: refused as not needed, not as a protocol error.
    let late = transport
        .inbox()
        .deliver(0, bytes[..100].to_vec())
        .unwrap_err();
    assert_eq!(late, ChunkRefusal::Closed);
    assert!(!late.is_protocol_error());
    source.file(file(1, size as u64)).stream().cancel();
    source.file(file(1, size as u64)).cancel();
    assert_eq!(*transport.0.cancels.lock(), vec![1, 1, 1]);
}

#[test]
fn a_failed_transfer_ends_the_stream_after_the_chunks_that_arrived_first() {
    let size = 3 * CHUNK_BYTES as usize;
    let (transport, source, bytes) = setup(Transport::default(), size);
    let mut stream = source.file(file(1, size as u64)).stream();
    assert!(stream.next_chunk().now_or_never().is_none());
    let inbox = transport.inbox();
    inbox.deliver(0, bytes[..100].to_vec()).unwrap();
    inbox.fail(UploadError::Disconnected);
    inbox.fail(UploadError::Cancelled);
    assert_eq!(
        stream
            .next_chunk()
            .now_or_never()
            .unwrap()
            .unwrap()
            .unwrap()
            .len(),
        100
    );
    let error = stream
        .next_chunk()
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(error, UploadError::Disconnected, "the first failure counts");
    assert!(stream.next_chunk().now_or_never().unwrap().is_none());
    assert_eq!(*transport.0.cancels.lock(), vec![1]);
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
