//! What a file input accepts, and the browser's report of the files chosen.

use std::fmt;

use serde_json::Value;

use crate::event::{EventArgsError, EventData, EventKind};

/// One file the user chose, as the browser describes it (no bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The browser's id for the file (per page); chunk requests name it.
    pub id: u64,
    /// The file's name, without a path.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its MIME type as the browser guessed it (`""` when unknown).
    pub content_type: String,
}

/// `upload`: the files chosen in a file input or dropped on a drop zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadEvent {
    /// The files, in the order the browser lists them.
    pub files: Vec<FileInfo>,
}

impl EventData for UploadEvent {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        let bad = EventArgsError {
            field: "files",
            expected: "an array of {id, name, size, type}",
        };
        let Some(Value::Array(items)) = args.get("files") else {
            return Err(bad);
        };
        let files = items
            .iter()
            .map(|item| {
                let id = item.get("id")?.as_u64()?;
                let name = item.get("name")?.as_str()?;
                let size = item.get("size")?.as_u64()?;
                let content_type = item.get("type").and_then(Value::as_str).unwrap_or("");
                // A path in the name (some browsers send one for folders) is not the server's business.
                let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
                Some(FileInfo {
                    id,
                    name: name.to_owned(),
                    size,
                    content_type: content_type.to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(bad)?;
        Ok(UploadEvent { files })
    }
}

/// What a file input accepts: types, size per file, number of files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    accept: Vec<String>,
    max_size: u64,
    max_count: usize,
}

impl Default for UploadSpec {
    /// Any type, one file of at most 512 KiB.
    fn default() -> Self {
        UploadSpec {
            accept: Vec::new(),
            max_size: 512 * 1024,
            max_count: 1,
        }
    }
}

impl UploadSpec {
    /// Any type, one file of at most 512 KiB (raise the limits the app needs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepted types as in the HTML `accept` attribute: a comma-separated list of extensions (`.pdf`),
    /// MIME types (`image/png`) and wildcards (`image/*`). Empty (the default) accepts any type.
    pub fn accept(mut self, types: &str) -> Self {
        self.accept = types
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        self
    }

    /// The largest file, in bytes.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// How many files one choice may hold.
    pub fn max_count(mut self, files: usize) -> Self {
        self.max_count = files;
        self
    }

    /// The largest file, in bytes.
    pub fn size_limit(&self) -> u64 {
        self.max_size
    }

    /// How many files one choice may hold.
    pub fn count_limit(&self) -> usize {
        self.max_count
    }

    /// The value for the input's `accept` attribute (a hint to the file picker; the server still checks).
    pub fn accept_attribute(&self) -> Option<String> {
        (!self.accept.is_empty()).then(|| self.accept.join(","))
    }

    /// Whether `file`'s name or type matches the accepted types.
    pub fn accepts(&self, file: &FileInfo) -> bool {
        if self.accept.is_empty() {
            return true;
        }
        let name = file.name.to_ascii_lowercase();
        let mime = file.content_type.to_ascii_lowercase();
        self.accept.iter().any(|pattern| {
            if pattern.starts_with('.') {
                name.ends_with(pattern.as_str())
            } else if let Some(family) = pattern.strip_suffix("/*") {
                mime.split('/').next() == Some(family) && mime.contains('/')
            } else {
                mime == *pattern
            }
        })
    }

    /// Checks a choice of files: count, then each file's type and size. The first violation is the answer;
    /// show its message to the user and pull nothing.
    pub fn check(&self, files: &[FileInfo]) -> Result<(), UploadRefusal> {
        if files.len() > self.max_count {
            return Err(UploadRefusal::TooMany {
                max: self.max_count,
                chosen: files.len(),
            });
        }
        for file in files {
            if !self.accepts(file) {
                return Err(UploadRefusal::WrongType {
                    name: file.name.clone(),
                    content_type: file.content_type.clone(),
                });
            }
            if file.size > self.max_size {
                return Err(UploadRefusal::TooLarge {
                    name: file.name.clone(),
                    size: file.size,
                    max: self.max_size,
                });
            }
        }
        Ok(())
    }
}

/// Why a choice of files was refused before upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadRefusal {
    /// More files than the input takes.
    TooMany {
        /// The limit.
        max: usize,
        /// How many were chosen.
        chosen: usize,
    },
    /// A file over the size limit.
    TooLarge {
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// A file of a type not accepted.
    WrongType {
        /// The file's name.
        name: String,
        /// Its MIME type.
        content_type: String,
    },
}

impl fmt::Display for UploadRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadRefusal::TooMany { max, chosen } => {
                write!(f, "Choose at most {max} file(s); {chosen} were chosen.")
            }
            UploadRefusal::TooLarge { name, size, max } => {
                let (size_text, max_text) = (human_size(*size), human_size(*max));
                if size_text == max_text {
                    // Rounded, they would read as equal.
                    write!(f, "{name} is {size} bytes and the limit is {max} bytes.")
                } else {
                    write!(f, "{name} is {size_text} and the limit is {max_text}.")
                }
            }
            UploadRefusal::WrongType { name, .. } => {
                write!(f, "{name} is not a type this field accepts.")
            }
        }
    }
}

impl std::error::Error for UploadRefusal {}

/// `1.5 MB`, `20 MB`, `900 KB`, `12 bytes` (decimal units, as file managers show them).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "KB")];
    for (unit, name) in UNITS {
        if bytes >= unit {
            let tenths = bytes * 10 / unit;
            return if tenths % 10 == 0 {
                format!("{} {name}", tenths / 10)
            } else {
                format!("{}.{} {name}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes} bytes")
}
