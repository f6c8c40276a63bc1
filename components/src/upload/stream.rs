//! The byte stream of one uploaded file, and the reader behind it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::stream::{FuturesOrdered, StreamExt};

use super::spec::FileInfo;

/// Bytes per chunk request (16 KiB: as base64 it fits the hub's default 32 KB message limit).
pub const CHUNK_BYTES: u32 = 16 * 1024;
/// Chunk requests a stream keeps in flight by default (256 KiB of file data at most): enough to keep a
/// loopback connection busy through a few milliseconds of scheduling delay on either side, and the bound
/// on what one upload holds in server memory. Change it per stream with [`FileStream::with_window`].
pub const WINDOW: usize = 16;

/// A pending chunk read.
pub type ChunkFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, UploadError>> + Send>>;

/// Where uploaded bytes come from: the host's link to the browser's files.
pub trait ChunkReader: Send + Sync + 'static {
    /// Reads `len` bytes of file `file` from `offset`. The request goes out when the future is first
    /// polled; the answer must hold exactly `len` bytes.
    fn read(&self, file: u64, offset: u64, len: u32) -> ChunkFuture;
    /// Tells the browser to forget `file` (no more chunks will be asked for). Must not block.
    fn cancel(&self, file: u64);
}

/// The host's [`ChunkReader`], as the service components read (`cx.service::<UploadSource>()`).
#[derive(Clone)]
pub struct UploadSource(Arc<dyn ChunkReader>);

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadSource")
    }
}

impl UploadSource {
    /// Wraps a reader.
    pub fn new(reader: impl ChunkReader) -> Self {
        UploadSource(Arc::new(reader))
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

    /// The file's bytes, pulled chunk by chunk as they are read.
    pub fn stream(self) -> FileStream {
        FileStream {
            info: self.info,
            source: self.source,
            requested: 0,
            received: 0,
            in_flight: FuturesOrdered::new(),
            window: WINDOW,
            chunk: CHUNK_BYTES,
            finished: false,
        }
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

/// One file's bytes, pulled from the browser with a bounded window (see the module docs).
///
/// Read it with [`next_chunk`](FileStream::next_chunk) until `None`. Dropping it before the end cancels the
/// upload in the browser.
pub struct FileStream {
    info: FileInfo,
    source: UploadSource,
    /// Bytes asked for so far.
    requested: u64,
    /// Bytes handed to the reader so far.
    received: u64,
    in_flight: FuturesOrdered<ChunkFuture>,
    window: usize,
    chunk: u32,
    /// The last chunk was handed out, or an error was.
    finished: bool,
}

impl fmt::Debug for FileStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStream")
            .field("info", &self.info)
            .field("received", &self.received)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

impl FileStream {
    /// Keeps up to `chunks` requests of `chunk_bytes` each in flight (at least one of one byte).
    pub fn with_window(mut self, chunks: usize, chunk_bytes: u32) -> Self {
        self.window = chunks.max(1);
        self.chunk = chunk_bytes.max(1);
        self
    }

    /// How many chunk requests may be in flight.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Name, size and type.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Chunk requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The next chunk, in file order; `None` after the last one (or after an error was returned).
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, UploadError>> {
        if self.finished {
            return None;
        }
        while self.in_flight.len() < self.window && self.requested < self.info.size {
            let len = (self.info.size - self.requested).min(u64::from(self.chunk)) as u32;
            let read = self.source.0.read(self.info.id, self.requested, len);
            self.in_flight.push_back(Box::pin(async move {
                let bytes = read.await?;
                if bytes.len() != len as usize {
                    return Err(UploadError::Protocol(format!(
                        "asked for {len} bytes, got {}",
                        bytes.len()
                    )));
                }
                Ok(bytes)
            }));
            self.requested += u64::from(len);
        }
        match self.in_flight.next().await {
            None => {
                self.finished = true;
                None
            }
            Some(Ok(bytes)) => {
                self.received += bytes.len() as u64;
                self.finished = self.received >= self.info.size;
                Some(Ok(bytes))
            }
            Some(Err(error)) => {
                self.finished = true;
                self.in_flight = FuturesOrdered::new();
                self.source.0.cancel(self.info.id);
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
            self.in_flight = FuturesOrdered::new();
            self.source.0.cancel(self.info.id);
        }
    }
}

impl Drop for FileStream {
    fn drop(&mut self) {
        self.stop();
    }
}
