//! The receiving end of one file's transfer: the chunks the browser sent and the stream has not taken yet,
//! and the credit that bounds them.
//!
//! Credit: the inbox keeps `window` bytes granted past what has arrived, so the next grant leaves as soon
//! as bytes arrive (from the host's delivering task), never waiting for the reader's task to be scheduled.
//! What arrives ahead of the reader is capped: grants count from `min(arrived, taken + max_queued)`, so
//! once the reader falls `max_queued` behind, no more credit goes out until it takes bytes. A grant goes out
//! in steps of at least `step` bytes (or for the rest of the file).
//!
//! Invariants: chunks are accepted only in file order (each starts where the previous one ended), only
//! within the credit granted (`offset + len <= granted`), and only up to the chunk size; `granted - taken`
//! never exceeds `max_queued + window`, so neither does what the inbox holds. A chunk that breaks a rule
//! fails the transfer with [`UploadError::Protocol`] (the stream's next read returns it); a chunk for a
//! stream that has gone away is refused without failing anything.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::stream::{UploadError, UploadTransport};

/// How an inbox grants credit (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Credit {
    pub(crate) window: u64,
    pub(crate) step: u64,
    pub(crate) max_queued: u64,
    pub(crate) chunk: u32,
}

/// Where the host delivers the chunks of one file, shared by the file's [`FileStream`] and the host.
///
/// [`FileStream`]: super::FileStream
#[derive(Clone)]
pub struct ChunkInbox(Arc<Inbox>);

struct Inbox {
    state: Mutex<InboxState>,
    credit: Credit,
    /// Where grants go (weak: the host's routing table holds inboxes, and the host holds the table).
    transport: Weak<dyn UploadTransport>,
}

struct InboxState {
    file: u64,
    size: u64,
    /// The end of the credit granted so far: the browser may send bytes before this offset.
    granted: u64,
    /// Bytes accepted so far (the offset the next chunk must start at).
    arrived: u64,
    /// Bytes the reader has taken.
    taken: u64,
    chunks: VecDeque<Vec<u8>>,
    waker: Option<Waker>,
    /// Why the transfer ended early, until the stream reads it.
    failed: Option<UploadError>,
    /// The stream has gone (cancelled, dropped or failed): chunks are refused.
    closed: bool,
}

impl fmt::Debug for ChunkInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0.state.lock();
        f.debug_struct("ChunkInbox")
            .field("file", &state.file)
            .field("granted", &state.granted)
            .field("arrived", &state.arrived)
            .field("queued", &state.chunks.len())
            .finish()
    }
}

/// Why the host's [`ChunkInbox::deliver`] refused a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkRefusal {
    /// The chunk does not start where the previous one ended.
    OutOfOrder {
        /// Where the next chunk must start.
        expected: u64,
        /// Where this one starts.
        offset: u64,
    },
    /// The chunk ends past the credit granted (or past the end of the file).
    BeyondCredit {
        /// Where the chunk ends.
        end: u64,
        /// The end of the credit.
        granted: u64,
    },
    /// The chunk is empty or larger than the host's chunk size.
    BadSize {
        /// The chunk's length.
        len: usize,
        /// The largest chunk allowed.
        max: u32,
    },
    /// The stream has gone (it was cancelled, dropped, or failed) or is about to fail; the chunk is not
    /// needed. Chunks the browser sent before it heard of a cancel arrive this way.
    Closed,
}

impl fmt::Display for ChunkRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfOrder { expected, offset } => {
                write!(
                    f,
                    "a chunk at offset {offset} where {expected} was expected"
                )
            }
            Self::BeyondCredit { end, granted } => write!(
                f,
                "a chunk ending at byte {end}, past the credit granted (up to byte {granted})"
            ),
            Self::BadSize { len, max } => {
                write!(f, "a chunk of {len} bytes (chunks hold 1 to {max} bytes)")
            }
            Self::Closed => f.write_str("a chunk for an upload that has stopped"),
        }
    }
}

impl std::error::Error for ChunkRefusal {}

impl ChunkRefusal {
    /// Whether the chunk broke the protocol (a misbehaving browser), rather than arriving late for a
    /// stopped upload.
    pub fn is_protocol_error(&self) -> bool {
        !matches!(self, Self::Closed)
    }
}

impl ChunkInbox {
    pub(crate) fn new(
        file: u64,
        size: u64,
        credit: Credit,
        transport: Weak<dyn UploadTransport>,
    ) -> Self {
        ChunkInbox(Arc::new(Inbox {
            state: Mutex::new(InboxState {
                file,
                size,
                granted: 0,
                arrived: 0,
                taken: 0,
                chunks: VecDeque::new(),
                waker: None,
                failed: None,
                closed: false,
            }),
            credit,
            transport,
        }))
    }

    /// The browser's id of the file.
    pub fn file(&self) -> u64 {
        self.0.state.lock().file
    }

    /// The end of the credit granted so far.
    pub fn granted(&self) -> u64 {
        self.0.state.lock().granted
    }

    /// Whether every byte of the file has arrived.
    pub fn is_complete(&self) -> bool {
        let state = self.0.state.lock();
        state.arrived >= state.size
    }

    /// Accepts the chunk of the file that starts at `offset`. A chunk that breaks the rules in the module
    /// docs is refused, and unless the stream has gone it also fails the transfer.
    pub fn deliver(&self, offset: u64, bytes: Vec<u8>) -> Result<(), ChunkRefusal> {
        let mut state = self.0.state.lock();
        let end = offset.saturating_add(bytes.len() as u64);
        let max_chunk = self.0.credit.chunk;
        let refusal = if bytes.is_empty() || bytes.len() > max_chunk as usize {
            Some(ChunkRefusal::BadSize {
                len: bytes.len(),
                max: max_chunk,
            })
        } else if end > state.granted {
            Some(ChunkRefusal::BeyondCredit {
                end,
                granted: state.granted,
            })
        } else if state.is_stopped() {
            Some(ChunkRefusal::Closed)
        } else if offset != state.arrived {
            Some(ChunkRefusal::OutOfOrder {
                expected: state.arrived,
                offset,
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if !state.is_stopped() {
                state.failed = Some(UploadError::Protocol(refusal.to_string()));
                state.chunks.clear();
                wake(&mut state);
            }
            return Err(refusal);
        }
        state.arrived = end;
        state.chunks.push_back(bytes);
        wake(&mut state);
        drop(state);
        self.top_up();
        Ok(())
    }

    /// Grants more credit when the rules in the module docs allow a step of it (the transport is called
    /// outside the lock: it may deliver at once).
    pub(crate) fn top_up(&self) {
        let Credit {
            window,
            step,
            max_queued,
            chunk,
        } = self.0.credit;
        let to = {
            let mut state = self.0.state.lock();
            if state.is_stopped() {
                return;
            }
            let base = state.arrived.min(state.taken + max_queued);
            let to = (base + window).min(state.size);
            if to < state.granted + step && !(to == state.size && to > state.granted) {
                return;
            }
            state.granted = to;
            to
        };
        if let Some(transport) = self.0.transport.upgrade() {
            transport.grant(self, to, chunk);
        }
    }

    /// Ends the transfer early: the stream's next read returns `error` (once the chunks that arrived
    /// before it are taken). A transfer that has already failed keeps its first error.
    pub fn fail(&self, error: UploadError) {
        let mut state = self.0.state.lock();
        if state.is_stopped() || state.arrived >= state.size {
            return;
        }
        state.failed = Some(error);
        wake(&mut state);
    }

    /// The stream has gone: drops what is queued and refuses what comes.
    pub(crate) fn close(&self) {
        let mut state = self.0.state.lock();
        state.closed = true;
        state.chunks.clear();
        state.waker = None;
    }

    /// The next chunk in file order (counted as taken), or why there will be none.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>, UploadError>> {
        let mut state = self.0.state.lock();
        if let Some(chunk) = state.chunks.pop_front() {
            state.taken += chunk.len() as u64;
            return Poll::Ready(Ok(chunk));
        }
        if let Some(error) = state.failed.take() {
            state.closed = true;
            return Poll::Ready(Err(error));
        }
        if state
            .waker
            .as_ref()
            .is_none_or(|w| !w.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Bytes queued and not yet taken.
    #[cfg(test)]
    pub(crate) fn queued_bytes(&self) -> usize {
        self.0.state.lock().chunks.iter().map(Vec::len).sum()
    }
}

impl InboxState {
    /// The stream has gone or the transfer has failed: no chunk is accepted and no credit granted.
    fn is_stopped(&self) -> bool {
        self.closed || self.failed.is_some()
    }
}

fn wake(state: &mut InboxState) {
    if let Some(waker) = state.waker.take() {
        waker.wake();
    }
}
