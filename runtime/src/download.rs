//! Downloads: a component offers bytes, a file or a generated stream as a link; the browser fetches it over
//! plain HTTP at `{hub}/download/{token}`, never through the hub, so a large download costs the circuit's
//! connection nothing.
//!
//! Invariants: a token is 32 random bytes (unguessable, never logged); it belongs to the circuit that offered
//! it and answers only while that circuit lives and for [`DownloadOptions::lifetime`] after the offer (15
//! minutes by default); a circuit holds at most [`DownloadOptions::max_per_circuit`] links (the oldest goes
//! first). Expired links and those of ended circuits are pruned on every offer. An unknown, expired or
//! orphaned token is answered `404` with a one-line reason.
//!
//! Components reach it as the [`CircuitDownloads`] service (`cx.service::<CircuitDownloads>()`), present
//! in circuits and absent while a page is prerendered (there is no circuit to tie a link to yet).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::Stream;
use parking_lot::Mutex;

use crate::circuit::CircuitHandle;

/// A stream of a download's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Limits of download links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// How long a link answers after it was offered (default 15 minutes).
    pub lifetime: Duration,
    /// The most links one circuit holds; offering more drops its oldest (default 1,000).
    pub max_per_circuit: usize,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            lifetime: Duration::from_secs(15 * 60),
            max_per_circuit: 1_000,
        }
    }
}

enum Source {
    Bytes(Bytes),
    File(PathBuf),
    Stream(Box<dyn Fn() -> ByteStream + Send + Sync>),
}

/// What a link serves: a name for the browser's save dialog, a content type, and the bytes.
pub struct Download {
    name: String,
    content_type: String,
    source: Source,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// Bytes held in memory (small, generated content).
    pub fn bytes(name: &str, content_type: &str, bytes: impl Into<Bytes>) -> Self {
        Self::with(name, content_type, Source::Bytes(bytes.into()))
    }

    /// A file on the server's disk, read in 64 KiB pieces as the browser takes them.
    pub fn file(name: &str, content_type: &str, path: impl Into<PathBuf>) -> Self {
        Self::with(name, content_type, Source::File(path.into()))
    }

    /// A generated stream: `make` is called for each request of the link.
    pub fn stream<S>(
        name: &str,
        content_type: &str,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        Self::with(
            name,
            content_type,
            Source::Stream(Box::new(move || Box::pin(make()) as ByteStream)),
        )
    }

    fn with(name: &str, content_type: &str, source: Source) -> Self {
        Download {
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            source,
        }
    }
}

struct Entry {
    circuit: CircuitHandle,
    expires: Instant,
    download: Arc<Download>,
}

/// The download links of every circuit of one hub (the hub makes one; see the module docs). One pointer:
/// every circuit's [`CircuitDownloads`] holds a clone.
#[derive(Clone)]
pub(crate) struct Downloads {
    shared: Arc<DownloadsShared>,
}

struct DownloadsShared {
    entries: Mutex<HashMap<String, Entry>>,
    options: DownloadOptions,
    /// `{hub}/download/`
    prefix: Box<str>,
}

impl Downloads {
    pub(crate) fn new(hub_path: &str, options: DownloadOptions) -> Self {
        Downloads {
            shared: Arc::new(DownloadsShared {
                entries: Mutex::default(),
                options,
                prefix: format!("{hub_path}/download/").into(),
            }),
        }
    }

    /// The service a circuit's components use.
    pub(crate) fn for_circuit(&self, circuit: CircuitHandle) -> CircuitDownloads {
        CircuitDownloads {
            downloads: self.clone(),
            circuit,
        }
    }

    /// Answers `GET {hub}/download/{token}`.
    pub(crate) async fn serve(self, Path(token): Path<String>) -> Response {
        let download = {
            let entries = self.shared.entries.lock();
            match entries.get(&token) {
                Some(entry) if entry.expires > Instant::now() && entry.circuit.is_alive() => {
                    Some(entry.download.clone())
                }
                _ => None,
            }
        };
        let Some(download) = download else {
            return (
                StatusCode::NOT_FOUND,
                "this download link is unknown or has expired (links live as long as their page's circuit)\n",
            )
                .into_response();
        };
        let body = match &download.source {
            Source::Bytes(bytes) => Body::from(bytes.clone()),
            Source::File(path) => match tokio::fs::File::open(path).await {
                Ok(file) => Body::from_stream(read_file(file)),
                Err(error) => {
                    tracing::warn!(path = %path.display(), "download file unreadable: {error}");
                    return (StatusCode::NOT_FOUND, "the file of this download is gone\n")
                        .into_response();
                }
            },
            Source::Stream(make) => Body::from_stream(make()),
        };
        let content_type = HeaderValue::from_str(&download.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_DISPOSITION, disposition(&download.name)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            body,
        )
            .into_response()
    }
}

/// The download links of one circuit: the service components use.
#[derive(Clone)]
pub struct CircuitDownloads {
    downloads: Downloads,
    circuit: CircuitHandle,
}

impl fmt::Debug for CircuitDownloads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitDownloads")
            .field("circuit", &self.circuit.id())
            .finish()
    }
}

impl CircuitDownloads {
    /// Offers `download`; returns the link's URL (a path on this server) for an `href`.
    pub fn offer(&self, download: Download) -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system random source is unavailable");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut entries = self.downloads.shared.entries.lock();
        entries.retain(|_, e| e.expires > now && e.circuit.is_alive());
        let mine: Vec<(Instant, String)> = entries
            .iter()
            .filter(|(_, e)| e.circuit.id() == self.circuit.id())
            .map(|(token, e)| (e.expires, token.clone()))
            .collect();
        if mine.len() >= self.downloads.shared.options.max_per_circuit {
            if let Some((_, oldest)) = mine.into_iter().min() {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            token.clone(),
            Entry {
                circuit: self.circuit.clone(),
                expires: now + self.downloads.shared.options.lifetime,
                download: Arc::new(download),
            },
        );
        format!("{}{token}", self.downloads.shared.prefix)
    }

    /// Withdraws a link [`offer`](Self::offer) returned (later requests get `404`).
    pub fn revoke(&self, url: &str) {
        if let Some(token) = url.strip_prefix(&*self.downloads.shared.prefix) {
            let mut entries = self.downloads.shared.entries.lock();
            if entries
                .get(token)
                .is_some_and(|e| e.circuit.id() == self.circuit.id())
            {
                entries.remove(token);
            }
        }
    }
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

fn read_file(file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Bytes::from(buffer)), Some(file)))
            }
            // The error ends the body; the next poll sees no file and ends the stream.
            Err(error) => Some((Err(error), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn dispositions_carry_a_safe_and_an_exact_name() {
        assert_eq!(
            disposition("report \"final\".pdf"),
            "attachment; filename=\"report _final_.pdf\"; filename*=UTF-8''report%20%22final%22.pdf"
        );
        assert_eq!(
            disposition("naïve.txt"),
            "attachment; filename=\"na_ve.txt\"; filename*=UTF-8''na%C3%AFve.txt"
        );
    }
}
