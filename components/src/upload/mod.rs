//! File uploads: what a component declares ([`UploadSpec`]), what the browser reports ([`UploadEvent`]),
//! and each accepted file as an async byte stream ([`FileStream`]) that pulls its bytes from the browser.
//!
//! The flow: the component renders a file input (or a drop zone) with a `t-upload` binding; the browser's
//! upload module reports the chosen files' names, sizes and types (no bytes) as an `upload` event; the
//! handler checks them against its [`UploadSpec`] ([`UploadSpec::check`]), so a file over the limit or of
//! a type not accepted is refused before any byte moves; each accepted [`IncomingFile`] becomes a
//! [`FileStream`] the component reads in a spawned task, writing the bytes where they belong.
//!
//! Flow control: the server pulls. A stream asks the browser for one chunk at a time and keeps at most
//! [`FileStream::window`] requests in flight; nothing else is buffered, so a file never sits whole in server
//! memory (a stream holds at most `window × chunk` bytes). Where the bytes come from is the host's
//! [`ChunkReader`], provided to components as the [`UploadSource`] service (the circuit runtime reads over
//! the circuit's connection; tests use an in-memory one).
//!
//! Cancelling: dropping a stream before its end, or [`FileStream::cancel`], tells the browser to forget
//! the file; a browser-side cancel (or a lost connection) makes the next chunk an [`UploadError`].

mod spec;
mod stream;

pub use spec::{FileInfo, UploadEvent, UploadRefusal, UploadSpec};
pub use stream::{
    ChunkFuture, ChunkReader, FileStream, IncomingFile, UploadError, UploadSource, CHUNK_BYTES,
    WINDOW,
};

#[cfg(test)]
mod tests;
