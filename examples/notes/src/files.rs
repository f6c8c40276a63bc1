//! Attachments: files stored on disk (one file each, under [`AttachmentStore::dir`]), listed per note.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One stored attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// Its id.
    pub id: u64,
    /// The note it belongs to.
    pub note: u64,
    /// The file name the user uploaded.
    pub name: String,
    /// Its MIME type ("application/octet-stream" when the browser did not know).
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where its bytes are.
    pub path: PathBuf,
}

/// Every attachment, shared by every circuit (a service). Cheap to clone.
#[derive(Clone, Debug)]
pub struct AttachmentStore {
    dir: PathBuf,
    next: Arc<AtomicU64>,
    items: Arc<RwLock<Vec<Attachment>>>,
}

impl AttachmentStore {
    /// A store writing into `dir` (created when missing): `NOTES_ATTACHMENTS_DIR`, or a folder of this
    /// process under the system's temporary directory.
    pub fn from_env() -> std::io::Result<Self> {
        let dir = std::env::var_os("NOTES_ATTACHMENTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("tether-notes-{}", std::process::id()))
            });
        std::fs::create_dir_all(&dir)?;
        Ok(AttachmentStore {
            dir,
            next: Arc::new(AtomicU64::new(1)),
            items: Arc::default(),
        })
    }

    /// The folder the files are in.
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// A fresh path for an upload in progress (its id is the attachment's once stored).
    pub fn reserve(&self) -> (u64, PathBuf) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        (id, self.dir.join(format!("{id}.bin")))
    }

    /// Records a complete upload.
    pub fn add(&self, attachment: Attachment) {
        self.items.write().expect("lock").push(attachment);
    }

    /// A note's attachments, oldest first.
    pub fn of_note(&self, note: u64) -> Vec<Attachment> {
        let items = self.items.read().expect("lock");
        items.iter().filter(|a| a.note == note).cloned().collect()
    }
}
