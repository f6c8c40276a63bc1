//! File uploads: what a component declares ([`UploadSpec`]), what the browser reports ([`UploadEvent`]),
//! and each accepted file as an async byte stream ([`FileStream`]) whose bytes the browser sends under credit.
//!
//! The flow: the component renders a file input (or a drop zone) with a `t-upload` binding; the browser's
//! upload module reports the chosen files' names, sizes and types (no bytes) as an `upload` event; the
//! handler checks them against its [`UploadSpec`] ([`UploadSpec::check`]), so a file over the limit or of
//! a type not accepted is refused before any byte moves; each accepted [`IncomingFile`] becomes a
//! [`FileStream`] the component reads in a spawned task, writing the bytes where they belong.
//!
//! Flow control: the server grants credit. A stream grants the browser credit for [`CREDIT_BYTES`] of the
//! file at once, and the browser sends chunks back to back up to that offset without waiting for anything;
//! as bytes arrive, the file's [`ChunkInbox`] keeps the credit that far ahead of them, in steps of at least
//! [`TOP_UP_BYTES`], until the arrived bytes run [`QUEUE_BYTES`] ahead of the reader. A chunk's bytes wait in
//! the inbox until the reader takes them, and the inbox accepts only chunks within the credit, in file
//! order, so a file never sits whole in server memory: a stream holds at most `QUEUE_BYTES + CREDIT_BYTES`
//! (384 KiB by default), and a slow reader (a slow disk, a slow upstream) slows the browser down. Where the bytes come from is the host's [`UploadTransport`], provided to
//! components as the [`UploadSource`] service (the circuit runtime receives them over the circuit's
//! connection; tests use an in-memory one).
//!
//! Cancelling: dropping a stream before its end, or [`FileStream::cancel`], tells the browser to forget
//! the file; a browser-side cancel (or a lost connection, or a chunk that breaks the rules) makes the next
//! chunk an [`UploadError`].

mod inbox;
mod spec;
mod stream;

pub use inbox::{ChunkInbox, ChunkRefusal};
pub use spec::{FileInfo, UploadEvent, UploadRefusal, UploadSpec};
pub use stream::{
    FileStream, IncomingFile, UploadError, UploadSource, UploadTransport, CHUNK_BYTES,
    CREDIT_BYTES, QUEUE_BYTES, TOP_UP_BYTES,
};

#[cfg(test)]
mod tests;
