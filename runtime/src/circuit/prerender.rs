//! Prerendering: root components rendered into the page response (first paint without JavaScript), each in
//! a `<!--t:r:DESCRIPTOR-->…<!--/t-->` region whose signed descriptor lets `StartCircuit` rebuild it.
//!
//! A page's roots are mounted, in page order, on one throwaway renderer; the circuit later mounts the same
//! roots with the same props in the same order on its own renderer, which yields the same markup and handler
//! ids, so the browser keeps the prerendered DOM (op 11 finds it equal) and nothing visibly re-renders.
//!
//! Root props usually come from the request: [`PageRequest`] is an axum extractor with the route
//! parameters, query, headers and cookies.
//!
//! The prerendering renderer gets the hub's application services (as circuits do) but no
//! [`CircuitHandle`](super::CircuitHandle): components tell a prerender from a live circuit by
//! `cx.service::<CircuitHandle>()` being `None`. A page handler adds services for this page only with
//! [`PageRender::provide`], typically a [`Location::detached`](super::Location::detached) built from the
//! request ([`PageRequest::location`]), so location-dependent markup matches what the circuit renders later.
//!
//! # Caching
//! A prerendered page must never come back from the browser's HTTP cache: its descriptors are single-use,
//! so a copy shown again (Back, a restored tab) would start a circuit with spent descriptors and be
//! refused ("already used"), leaving a page that looks alive and is dead. [`PageRender::respond`] sends
//! the page with `Cache-Control: no-store` (so back/forward fetches a fresh page); a handler that builds
//! its own response must set that header too. The boot script, in contrast, is linked by its versioned
//! URL ([`PageRender::boot_script`]) and cached as immutable.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use axum::extract::{FromRequestParts, OriginalUri, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped};
use serde::Serialize;
use tether_components::{MountError, Renderer};

use super::descriptor::ResponseDescriptors;
use super::hub::CircuitHub;

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
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CACHE_CONTROL, PAGE_CACHE_CONTROL)],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// The `Cache-Control` of prerendered page responses ([`PageRender::respond`]); see the module docs.
pub const PAGE_CACHE_CONTROL: &str = "no-store";

/// One page response being prerendered: call [`PageRender::root`] for each interactive root component in
/// page order and put the returned markup into the page, plus [`PageRender::boot_script`], then answer
/// with [`PageRender::respond`] (which forbids caching the page).
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
        let mut renderer = Renderer::new(self.shared.components.clone());
        renderer.provide_all(&self.shared.services);
        PageRender {
            hub: self,
            renderer,
            descriptors: self.shared.signer.response(),
            // The StartCircuit invocation around the descriptors: target, version, URIs, framing.
            start_message_bytes: 512,
        }
    }
}

impl PageRender<'_> {
    /// Provides `value` to the components of this page's prerender only (on top of the hub's services);
    /// call it before [`root`](Self::root). The circuit does not see it: give the circuit the same
    /// information another way (props, or the service it provides itself, like [`super::Location`]).
    pub fn provide<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.renderer.provide(value);
        self
    }

    /// Renders root component `type_name` (as registered) with `props`, returning its region markup.
    pub fn root(
        &mut self,
        type_name: &str,
        props: &impl Serialize,
    ) -> Result<PreEscaped<String>, PrerenderError> {
        let props = serde_json::to_value(props).map_err(|e| PrerenderError {
            message: format!("props of `{type_name}` do not serialise: {e}"),
        })?;
        // A component that panics while being created must not take the page handler down with it.
        let mounted = catch_unwind(AssertUnwindSafe(|| {
            self.renderer.mount_root(type_name, &props)
        }));
        let index = match mounted {
            Ok(Ok(index)) => index,
            Ok(Err(MountError::UnknownType(_))) => {
                return Err(PrerenderError {
                    message: format!(
                        "no root component type `{type_name}` is registered with the circuit hub"
                    ),
                })
            }
            Ok(Err(other)) => {
                return Err(PrerenderError {
                    message: other.to_string(),
                })
            }
            Err(payload) => {
                return Err(PrerenderError {
                    message: format!(
                        "root `{type_name}` panicked: {}",
                        super::core::panic_text(payload.as_ref())
                    ),
                })
            }
        };
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

    /// The boot script tag for this hub: `<script src="{hub path}/tether.js?v={version}"></script>`. The
    /// versioned URL lets the browser cache the script as immutable (a new build links a new URL).
    pub fn boot_script(&self) -> PreEscaped<String> {
        PreEscaped(format!(
            "<script src=\"{}\"></script>",
            self.hub.boot_script_url()
        ))
    }

    /// The page response: `page` as HTML with `Cache-Control: no-store` (see the module docs for why a
    /// prerendered page must not be cached).
    pub fn respond(self, page: Markup) -> Response {
        page_response(page.into_string())
    }

    /// The approximate size of the `StartCircuit` message this page will send, in bytes.
    pub fn start_message_bytes(&self) -> usize {
        self.start_message_bytes
    }
}

/// An HTML page response that browsers must not cache (`Cache-Control: no-store`), as
/// [`PageRender::respond`] makes: for pages built without a [`PageRender`] at hand.
pub fn page_response(html: String) -> Response {
    (
        [(header::CACHE_CONTROL, PAGE_CACHE_CONTROL)],
        axum::response::Html(html),
    )
        .into_response()
}

/// What a page request offers root components as parameters: route parameters, query, headers, cookies.
/// An axum extractor that never fails.
#[derive(Debug, Clone)]
pub struct PageRequest {
    uri: Uri,
    /// The URI before any `Router::nest` stripped a prefix (what the browser's address bar shows).
    original_uri: Uri,
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
        let query = crate::request::pairs(parts.uri.query().unwrap_or(""))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let original_uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        Ok(Self {
            original_uri,
            uri: parts.uri.clone(),
            params,
            query,
            headers: parts.headers.clone(),
        })
    }
}

impl PageRequest {
    /// The request URI (inside a nested router, without the nesting prefix).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request URI as the browser sent it, with any prefix a nested router stripped.
    pub fn original_uri(&self) -> &Uri {
        &self.original_uri
    }

    /// A detached [`Location`](super::Location) at [`original_uri`](Self::original_uri), to
    /// [`provide`](PageRender::provide) to a prerender so that its components see the same path as the
    /// circuit's later.
    pub fn location(&self) -> super::Location {
        super::Location::detached(self.original_uri.to_string())
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

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value (read as [`HubContext::cookie`](crate::hub::HubContext::cookie) reads it in the
    /// live circuit: whitespace and surrounding double quotes removed).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        crate::request::cookie(&self.headers, name)
    }
}
