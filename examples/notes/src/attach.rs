//! A note's attachments: a file input and a drop zone (any type, 20 MB), the upload's progress with a
//! Cancel button, and each stored attachment as a download link.
//!
//! The bytes go from the browser's upload stream straight to a file on disk (in writes of 128 KiB); the
//! component only hears about progress (every 1% of the file, or 64 KiB if more), the end, or why the upload stopped.

use std::collections::HashMap;
use std::sync::Arc;

use maud::{html, Markup};
use tether::download::{CircuitDownloads, Download};
use tether_components::upload::{
    FileStream, UploadError, UploadEvent, UploadSource, UploadSpec, CHUNK_BYTES,
};
use tether_components::{Component, Context, Handle, RenderContext};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use crate::files::{Attachment, AttachmentStore};

/// The largest attachment: 20 MB.
pub const MAX_ATTACHMENT: u64 = 20_000_000;

/// The attachment limit: `NOTES_MAX_ATTACHMENT_BYTES` (for measurements with larger files), else
/// [`MAX_ATTACHMENT`].
fn max_attachment() -> u64 {
    std::env::var("NOTES_MAX_ATTACHMENT_BYTES")
        .ok()
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or(MAX_ATTACHMENT)
}

/// The upload credit, for measurements of other windows: `NOTES_UPLOAD_CREDIT_BYTES` (granted a quarter at a
/// time) and `NOTES_UPLOAD_QUEUE_BYTES` (how far arrivals may run ahead of the reader; default half the
/// credit); without them, the stream's defaults.
fn with_credit(stream: FileStream) -> FileStream {
    let bytes = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match bytes("NOTES_UPLOAD_CREDIT_BYTES") {
        Some(credit) => {
            let queued = bytes("NOTES_UPLOAD_QUEUE_BYTES").unwrap_or(credit / 2);
            stream.with_credit(credit, credit / 4, queued, CHUNK_BYTES)
        }
        None => stream,
    }
}

/// An upload in progress (or the last one, finished).
struct Progress {
    name: String,
    received: u64,
    size: u64,
    /// Notified by the Cancel button; the receiving task stops at once, even mid-chunk.
    cancel: Arc<Notify>,
    done: bool,
}

/// The attachments of note `Props`.
pub struct Attachments {
    spec: UploadSpec,
    store: Option<AttachmentStore>,
    source: Option<UploadSource>,
    downloads: Option<CircuitDownloads>,
    /// Download URLs by attachment id (offered once per circuit).
    links: HashMap<u64, String>,
    upload: Option<Progress>,
    /// Why the last choice of files was refused.
    refusal: Option<String>,
    /// How the last upload ended.
    status: Option<String>,
}

impl Attachments {
    fn offer(&mut self, attachment: &Attachment) {
        if let Some(downloads) = &self.downloads {
            let download = Download::file(
                &attachment.name,
                &attachment.content_type,
                attachment.path.clone(),
            );
            self.links.insert(attachment.id, downloads.offer(download));
        }
    }

    fn chosen(&mut self, note: u64, event: UploadEvent, handle: &Handle<Self>) {
        self.refusal = None;
        let (Some(source), Some(store)) = (self.source.clone(), self.store.clone()) else {
            return;
        };
        let busy = self.upload.as_ref().is_some_and(|p| !p.done);
        let check = if busy {
            Err("Wait until the current upload has finished.".to_owned())
        } else {
            self.spec.check(&event.files).map_err(|r| r.to_string())
        };
        if let Err(refusal) = check {
            // Refused before any byte moves: the browser forgets the files.
            for file in event.files {
                source.file(file).cancel();
            }
            self.refusal = Some(refusal);
            return;
        }
        let Some(file) = event.files.into_iter().next() else {
            return;
        };
        let cancel = Arc::new(Notify::new());
        self.status = None;
        self.upload = Some(Progress {
            name: file.name.clone(),
            received: 0,
            size: file.size,
            cancel: cancel.clone(),
            done: false,
        });
        let stream = with_credit(source.file(file).stream());
        handle.spawn(
            receive(stream, note, store, handle.clone(), cancel),
            |this: &mut Self, result| {
                if let Some(progress) = &mut this.upload {
                    progress.done = true;
                }
                match result {
                    Ok(attachment) => {
                        this.offer(&attachment);
                        this.status = Some(format!("Stored {}.", attachment.name));
                    }
                    Err(reason) => {
                        this.upload = None;
                        this.status = Some(reason);
                    }
                }
            },
        );
    }
}

/// Bytes gathered before each write to disk.
const WRITE_BUFFER_BYTES: usize = 128 * 1024;

/// The smallest progress step rendered: each step costs a render batch and its acknowledgement on the
/// connection the bytes travel on, so a file gets at most a hundred steps.
const MIN_PROGRESS_STEP: u64 = 64 * 1024;

/// Writes the stream to a new file, reporting progress; the attachment once stored, or why it was not.
async fn receive(
    mut stream: FileStream,
    note: u64,
    store: AttachmentStore,
    handle: Handle<Attachments>,
    cancel: Arc<Notify>,
) -> Result<Attachment, String> {
    let info = stream.info().clone();
    let (id, path) = store.reserve();
    let result = async {
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("Could not store {}: {e}", info.name))?;
        // Each write of a tokio file is a trip to a blocking thread and back; gathering chunks into larger
        // writes keeps those trips from pacing the upload.
        let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        let step = (info.size / 100).max(MIN_PROGRESS_STEP);
        let mut reported = 0u64;
        loop {
            let chunk = tokio::select! {
                _ = cancel.notified() => return Err(format!("Upload of {} cancelled.", info.name)),
                chunk = stream.next_chunk() => chunk,
            };
            let Some(chunk) = chunk else { break };
            let chunk = chunk.map_err(|e| match e {
                UploadError::Cancelled => format!("Upload of {} cancelled.", info.name),
                other => format!("Upload of {} failed: {other}.", info.name),
            })?;
            file.write_all(&chunk)
                .await
                .map_err(|e| format!("Could not store {}: {e}", info.name))?;
            let received = stream.received();
            if received - reported >= step || received == info.size {
                reported = received;
                handle.update(move |this: &mut Attachments| {
                    if let Some(progress) = &mut this.upload {
                        progress.received = received;
                    }
                });
            }
        }
        file.flush()
            .await
            .map_err(|e| format!("Could not store {}: {e}", info.name))?;
        Ok(())
    }
    .await;
    // Dropping the stream here (on every path) tells the browser to forget an unfinished file.
    drop(stream);
    match result {
        Ok(()) => {
            let attachment = Attachment {
                id,
                note,
                name: info.name,
                content_type: if info.content_type.is_empty() {
                    "application/octet-stream".to_owned()
                } else {
                    info.content_type
                },
                size: info.size,
                path,
            };
            store.add(attachment.clone());
            Ok(attachment)
        }
        Err(reason) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(reason)
        }
    }
}

impl Component for Attachments {
    type Props = u64;
    fn create(_: &u64) -> Self {
        Attachments {
            spec: UploadSpec::new().max_size(max_attachment()).max_count(1),
            store: None,
            source: None,
            downloads: None,
            links: HashMap::new(),
            upload: None,
            refusal: None,
            status: None,
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.store = cx.service();
        self.source = cx.service();
        self.downloads = cx.service();
        let note = *cx.props();
        if let Some(store) = self.store.clone() {
            for attachment in store.of_note(note) {
                self.offer(&attachment);
            }
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let note = *cx.props();
        let attachments = self
            .store
            .as_ref()
            .map(|s| s.of_note(note))
            .unwrap_or_default();
        let handle = cx.handle();
        let chosen = cx.on_upload(move |this: &mut Self, event| this.chosen(note, event, &handle));
        let handle = cx.handle();
        let dropped = cx.on_upload(move |this: &mut Self, event| this.chosen(note, event, &handle));
        let cancel = cx.on_click(|this: &mut Self, _| {
            if let Some(progress) = &this.upload {
                progress.cancel.notify_one();
            }
        });
        html! {
            section #attachments {
                h2 { "Attachments" }
                ul.attachments {
                    @for a in &attachments {
                        li {
                            @if let Some(url) = self.links.get(&a.id) {
                                a.attachment href=(url) download=(a.name) { (a.name) }
                            } @else {
                                span.attachment-name { (a.name) }
                            }
                            " " span.muted { "(" (a.size) " bytes)" }
                        }
                    }
                }
                label for="attachment" { "Attach a file (up to 20 MB)" }
                input #attachment type="file" name="attachment" t-upload=(chosen);
                @if let Some(refusal) = &self.refusal { div.validation-message { (refusal) } }
                div #dropzone.dropzone t-upload=(dropped) { "…or drop a file here" }
                @if let Some(p) = &self.upload {
                    div.upload {
                        progress #upload-progress max=(p.size) value=(p.received) {}
                        " " span.upload-name { (p.name) }
                        @if !p.done { " " button #cancel-upload type="button" t-click=(cancel) { "Cancel" } }
                    }
                }
                @if let Some(status) = &self.status { p.upload-status { (status) } }
            }
        }
    }
}
