//! The byte stream of one uploaded file, and the host transport behind it.

use std::fmt;
use std::sync::Arc;

use super::inbox::{ChunkInbox, Credit};
use super::spec::FileInfo;

/// The largest chunk the browser sends (16 KiB: as base64 in a hub message it fits the hub's default
/// 32 KB message limit).
pub const CHUNK_BYTES: u32 = 16 * 1024;
/// Credit kept granted past the bytes that have arrived (256 KiB): what the browser may have on its way.
/// Throughput does not depend on it between 128 KiB and 2 MiB (docs/performance.md), memory does.
pub const CREDIT_BYTES: u64 = 256 * 1024;
/// The smallest grant (64 KiB): credit goes out in steps of this, so a grant is a message per four chunks.
pub const TOP_UP_BYTES: u64 = 64 * 1024;
/// How far arrived bytes may run ahead of the reader before grants pause (128 KiB). With the credit, the
/// bound on what one stream holds: `QUEUE_BYTES + CREDIT_BYTES` (384 KiB).
pub const QUEUE_BYTES: u64 = 128 * 1024;

/// Where uploaded bytes come from: the host's link to the browser's files (see the module docs).
///
/// The stream opens a transfer with [`open`](Self::open); its inbox then grants credit with
/// [`grant`](Self::grant), and the host has the browser send the bytes under that credit and hands every
/// chunk that arrives for the file to [`ChunkInbox::deliver`], which enforces the credit (and grants more). When the browser cannot send (the file was
/// cancelled there, the connection dropped), the host calls [`ChunkInbox::fail`].
pub trait UploadTransport: Send + Sync + 'static {
    /// Routes the chunks of `inbox`'s file to it from now on. Must not block.
    fn open(&self, inbox: &ChunkInbox);
    /// Lets the browser send the file's bytes up to offset `to`, in chunks of at most `chunk` bytes. Grants
    /// only rise; the inbox already knows the new credit. Called from the reader's task or from
    /// [`ChunkInbox::deliver`]; must not block.
    fn grant(&self, inbox: &ChunkInbox, to: u64, chunk: u32);
    /// Tells the browser to forget `file` (no more bytes are wanted) and stops routing its chunks once
    /// the browser has heard. Must not block.
    fn cancel(&self, file: u64);
}

/// The host's [`UploadTransport`], as the service components read (`cx.service::<UploadSource>()`).
#[derive(Clone)]
pub struct UploadSource(Arc<dyn UploadTransport>);

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadSource")
    }
}

impl UploadSource {
    /// Wraps a transport.
    pub fn new(transport: impl UploadTransport) -> Self {
        UploadSource(Arc::new(transport))
    }

    /// A file the browser reported, ready to stream.
    pub fn file(&self, info: FileInfo) -> IncomingFile {
        IncomingFile {
            info,
            source: self.clone(),
        }
    }
}

/// An accepted file whose bytes are still in the browser.
#[derive(Debug)]
pub struct IncomingFile {
    info: FileInfo,
    source: UploadSource,
}

impl IncomingFile {
    /// Name, size and type.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// The file's bytes, sent by the browser under the stream's credit as they are read.
    pub fn stream(self) -> FileStream {
        FileStream::new(
            self.info,
            self.source,
            Credit {
                window: CREDIT_BYTES,
                step: TOP_UP_BYTES,
                max_queued: QUEUE_BYTES,
                chunk: CHUNK_BYTES,
            },
        )
    }

    /// Drops the file without reading it (the browser forgets it).
    pub fn cancel(self) {
        self.source.0.cancel(self.info.id);
    }
}

/// Why a file's stream ended before its last byte.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadError {
    /// The browser cancelled the upload, or no longer has the file.
    Cancelled,
    /// The browser's connection was lost (the circuit may live on; this upload is over).
    Disconnected,
    /// The browser answered with something other than the bytes asked for.
    Protocol(String),
    /// Reading failed in the browser or on the way; the message says why.
    Failed(String),
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadError::Cancelled => f.write_str("the upload was cancelled"),
            UploadError::Disconnected => f.write_str("the connection was lost during the upload"),
            UploadError::Protocol(why) => write!(f, "bad upload data from the browser: {why}"),
            UploadError::Failed(why) => write!(f, "the upload failed: {why}"),
        }
    }
}

impl std::error::Error for UploadError {}

/// One file's bytes, sent by the browser under a bounded credit (see the module docs).
///
/// Read it with [`next_chunk`](FileStream::next_chunk) until `None`. Dropping it before the end cancels the
/// upload in the browser.
pub struct FileStream {
    info: FileInfo,
    source: UploadSource,
    inbox: ChunkInbox,
    /// Bytes handed to the reader so far.
    received: u64,
    credit: Credit,
    /// The transfer was opened (at the first read).
    opened: bool,
    /// The last chunk was handed out, or an error was.
    finished: bool,
}

impl fmt::Debug for FileStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStream")
            .field("info", &self.info)
            .field("received", &self.received)
            .field("inbox", &self.inbox)
            .finish()
    }
}

impl FileStream {
    fn new(info: FileInfo, source: UploadSource, credit: Credit) -> Self {
        let transport = Arc::downgrade(&source.0);
        FileStream {
            inbox: ChunkInbox::new(info.id, info.size, credit, transport),
            info,
            source,
            received: 0,
            credit,
            opened: false,
            finished: false,
        }
    }

    /// Keeps `credit` bytes granted past what has arrived, in grants of at least `top_up` bytes, pausing
    /// once arrived bytes are `queued` ahead of the reader, with chunks of at most `chunk_bytes` (each at
    /// least 1; `top_up` at most `credit`). What the stream holds stays under `credit + queued`. Call
    /// before the first read.
    pub fn with_credit(mut self, credit: u64, top_up: u64, queued: u64, chunk_bytes: u32) -> Self {
        let window = credit.max(1);
        let credit = Credit {
            window,
            step: top_up.clamp(1, window),
            max_queued: queued,
            chunk: chunk_bytes.max(1),
        };
        // Not opened yet: the inbox made with the default credit was never seen by the host.
        self.inbox = ChunkInbox::new(
            self.info.id,
            self.info.size,
            credit,
            Arc::downgrade(&self.source.0),
        );
        self.credit = credit;
        self
    }

    /// The most bytes the stream holds: the credit plus how far arrived bytes may run ahead of the reader.
    pub fn credit(&self) -> u64 {
        self.credit.window + self.credit.max_queued
    }

    /// Name, size and type.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The end of the credit granted so far (the browser may have sent up to this offset).
    pub fn granted(&self) -> u64 {
        self.inbox.granted()
    }

    /// The next chunk, in file order; `None` after the last one (or after an error was returned).
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, UploadError>> {
        if self.finished {
            return None;
        }
        if self.received >= self.info.size {
            self.finished = true;
            return None;
        }
        if !self.opened {
            self.opened = true;
            self.source.0.open(&self.inbox);
            self.inbox.top_up();
        }
        let inbox = self.inbox.clone();
        match std::future::poll_fn(|cx| inbox.poll_next(cx)).await {
            Ok(bytes) => {
                self.received += bytes.len() as u64;
                self.finished = self.received >= self.info.size;
                if !self.finished {
                    // Taking bytes may bring a reader that fell behind back under the queue cap.
                    self.inbox.top_up();
                }
                Some(Ok(bytes))
            }
            Err(error) => {
                self.stop();
                Some(Err(error))
            }
        }
    }

    /// Stops the upload: the browser forgets the file.
    pub fn cancel(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if !self.finished {
            self.finished = true;
            self.inbox.close();
            self.source.0.cancel(self.info.id);
        }
    }
}

impl Drop for FileStream {
    fn drop(&mut self) {
        self.stop();
    }
}
