//! Prerendering: root components rendered into the page response (first paint without JavaScript), each in
//! a `<!--t:r:DESCRIPTOR-->…<!--/t-->` region whose signed descriptor lets `StartCircuit` rebuild it.
//!
//! A page's roots are mounted, in page order, on one throwaway renderer; the circuit later mounts the same
//! roots with the same props in the same order on its own renderer, which yields the same markup and handler
//! ids, so the browser keeps the prerendered DOM (op 11 finds it equal) and nothing visibly re-renders.
//!
//! Root props usually come from the request: [`PageRequest`] is an axum extractor with the route
//! parameters, query, headers and cookies.

use std::fmt;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::PreEscaped;
use serde::Serialize;
use tether_components::{MountError, Renderer};

use super::descriptor::ResponseDescriptors;
use super::hub::{percent_decode, CircuitHub};

/// Why a root component could not be prerendered. As a response: 500 with a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrerenderError {
    message: String,
}

impl PrerenderError {
    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PrerenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "prerendering failed: {}", self.message)
    }
}

impl std::error::Error for PrerenderError {}

impl IntoResponse for PrerenderError {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{self}\n")).into_response()
    }
}

/// One page response being prerendered: call [`PageRender::root`] for each interactive root component in
/// page order and put the returned markup into the page, plus [`PageRender::boot_script`].
pub struct PageRender<'a> {
    hub: &'a CircuitHub,
    renderer: Renderer,
    descriptors: ResponseDescriptors<'a>,
    start_message_bytes: usize,
}

impl fmt::Debug for PageRender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageRender")
            .field("start_message_bytes", &self.start_message_bytes)
            .finish_non_exhaustive()
    }
}

impl CircuitHub {
    /// Starts prerendering one page response.
    pub fn page(&self) -> PageRender<'_> {
        PageRender {
            hub: self,
            renderer: Renderer::new(self.shared.components.clone()),
            descriptors: self.shared.signer.response(),
            // The StartCircuit invocation around the descriptors: target, version, URIs, framing.
            start_message_bytes: 512,
        }
    }
}

impl PageRender<'_> {
    /// Renders root component `type_name` (as registered) with `props`, returning its region markup.
    pub fn root(
        &mut self,
        type_name: &str,
        props: &impl Serialize,
    ) -> Result<PreEscaped<String>, PrerenderError> {
        let props = serde_json::to_value(props).map_err(|e| PrerenderError {
            message: format!("props of `{type_name}` do not serialise: {e}"),
        })?;
        let index = self.renderer.mount_root(type_name, &props).map_err(|e| PrerenderError {
            message: match e {
                MountError::UnknownType(_) => {
                    format!("no root component type `{type_name}` is registered with the circuit hub")
                }
                other => other.to_string(),
            },
        })?;
        let html = self
            .renderer
            .root_html(index)
            .ok_or_else(|| PrerenderError {
                message: format!("root `{type_name}` has no markup"),
            })?;
        let descriptor = self.descriptors.sign(type_name, props);
        self.start_message_bytes += descriptor.len() + 3;
        if self.start_message_bytes > self.hub.max_message {
            tracing::warn!(
                bytes = self.start_message_bytes,
                limit = self.hub.max_message,
                "the page's prerendered state is larger than the hub's message limit \
                 (HubOptions::max_receive_message_size): the boot script must start the circuit with a Chunked call"
            );
        }
        Ok(PreEscaped(format!(
            "<!--t:r:{descriptor}-->{html}<!--/t-->"
        )))
    }

    /// The boot script tag for this hub (`<script src="{hub path}/tether.js"></script>`).
    pub fn boot_script(&self) -> PreEscaped<String> {
        PreEscaped(format!(
            "<script src=\"{}/tether.js\"></script>",
            self.hub.path
        ))
    }

    /// The approximate size of the `StartCircuit` message this page will send, in bytes.
    pub fn start_message_bytes(&self) -> usize {
        self.start_message_bytes
    }
}

/// What a page request offers root components as parameters: route parameters, query, headers, cookies.
/// An axum extractor that never fails.
#[derive(Debug, Clone)]
pub struct PageRequest {
    uri: Uri,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let query = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((percent_decode(k)?, percent_decode(v)?))
            })
            .collect();
        Ok(Self {
            uri: parts.uri.clone(),
            params,
            query,
            headers: parts.headers.clone(),
        })
    }
}

impl PageRequest {
    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// A route parameter (`/items/{id}` gives `param("id")`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}
