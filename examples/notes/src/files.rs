//! Attachments: files stored on disk (one file each, under [`AttachmentStore::dir`]), listed per note.
//!
//! The list lives in memory, so the files of a process's own temporary folder mean nothing once it is gone:
//! that folder is removed when the last handle to the store drops (a graceful exit), and a starting process
//! removes the folders of earlier processes that no longer run (one killed with SIGKILL, as tests do).

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

/// The name of a process's temporary attachments folder, before its process id.
const TEMP_PREFIX: &str = "tether-notes-";

/// A folder removed (with its files) when dropped.
#[derive(Debug)]
struct OwnedDir(PathBuf);

impl Drop for OwnedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the temporary attachments folders of processes that no longer run. Only where a process's
/// liveness can be read from `/proc` (Linux); elsewhere they stay until the system clears its temp folder.
fn remove_stale_temp_dirs() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Every attachment, shared by every circuit (a service). Cheap to clone.
#[derive(Clone, Debug)]
pub struct AttachmentStore {
    dir: PathBuf,
    /// Removes `dir` with the last handle when it is this process's temporary folder.
    _owned: Option<Arc<OwnedDir>>,
    next: Arc<AtomicU64>,
    items: Arc<RwLock<Vec<Attachment>>>,
}

impl AttachmentStore {
    /// A store writing into `dir` (created when missing): `NOTES_ATTACHMENTS_DIR`, or a folder of this
    /// process under the system's temporary directory.
    pub fn from_env() -> std::io::Result<Self> {
        let (dir, owned) = match std::env::var_os("NOTES_ATTACHMENTS_DIR") {
            Some(dir) => (PathBuf::from(dir), None),
            None => {
                remove_stale_temp_dirs();
                let dir = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}", std::process::id()));
                (dir.clone(), Some(Arc::new(OwnedDir(dir))))
            }
        };
        std::fs::create_dir_all(&dir)?;
        Ok(AttachmentStore {
            dir,
            _owned: owned,
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
