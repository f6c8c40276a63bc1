//! The circuit hub: the hub methods of docs/protocol.md section 6 on a [`Hub`], the disconnect beacon,
//! and the [`CircuitHub`] an application builds and mounts.
//!
//! Each hub connection carries at most one circuit. Messages of one connection reach their circuit in
//! arrival order: the hub runs one invocation per connection at a time (`build` refuses
//! `HubOptions::max_parallel_invocations` other than 1), each method does its circuit work when the hub
//! polls it, and a `Chunked` call holds its place until its chunks are in. A call that needs a circuit on a
//! connection that has none (never started, ended, or taken over) is answered with `T.Error` and the
//! connection is closed.
//!
//! Files: `builder` (the builder and method registration), `calls` (what each method does with its
//! circuit), `sink` (a circuit's outbound messages as hub invocations); this file holds the state the
//! methods share and the hub's routes.

mod builder;
mod calls;
mod sink;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tether_components::{ComponentRegistry, Services};

use crate::hub::Hub;

use super::core::Circuit;
use super::descriptor::DescriptorSigner;
use super::env::CircuitEnv;
use super::handle::CircuitHandle;
use super::registry::{CircuitMetrics, CircuitRegistry};
use super::secret::{CircuitId, CircuitSecret};

pub use builder::{CircuitHubBuilder, CircuitHubError};

/// The circuit a hub connection carries, kept in the connection's own context (set by `StartCircuit` and
/// `ConnectCircuit`), so that a message finds its circuit without the registry's lock.
#[derive(Clone)]
struct ConnectionCircuit(Arc<Circuit>);

/// What the hub methods share.
pub(crate) struct Shared {
    pub(crate) env: Arc<CircuitEnv>,
    pub(crate) registry: Arc<CircuitRegistry>,
    pub(crate) components: Arc<ComponentRegistry>,
    pub(crate) signer: DescriptorSigner,
    /// The application's services (builder), given to every circuit and prerender renderer.
    pub(crate) services: Services,
    /// Set when a graceful shutdown begins: from then on no circuit starts, reconnects or resumes here
    /// (the browser's attempt fails as an unreachable server's would, so it tries again elsewhere).
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// The download links of every circuit, served by `router()`.
    pub(crate) downloads: crate::download::Downloads,
}

/// The circuit hub an application mounts: `router()` gives the hub endpoints and the disconnect beacon;
/// `page()` prerenders root components for a page response. Cheap to clone.
#[derive(Clone)]
pub struct CircuitHub {
    pub(crate) shared: Arc<Shared>,
    hub: Hub,
    pub(crate) path: String,
    pub(crate) max_message: usize,
}

impl std::fmt::Debug for CircuitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitHub")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CircuitHub {
    /// The hub endpoints (negotiate, transports), `POST {path}/disconnect`, the boot script at
    /// `{path}/tether.js`, the upload module at `{path}/upload.js` and download links at
    /// `{path}/download/{token}`, to merge into the app router (do not also merge
    /// [`boot_script_router`](crate::boot_script::boot_script_router) for the default path).
    pub fn router(&self) -> Router {
        let shared = self.shared.clone();
        let beacon = post(move |body: String| {
            let shared = shared.clone();
            async move { disconnect_beacon(&shared, &body) }
        })
        .fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "POST")],
                "the disconnect endpoint accepts POST only\n",
            )
        });
        // `PageRender::boot_script` links `{path}/tether.js`, so the hub serves the script there.
        Router::new()
            .route(&format!("{}/disconnect", self.path), beacon)
            .route(
                &format!("{}/tether.js", self.path),
                get(crate::boot_script::serve_boot_script),
            )
            .route(
                &format!("{}/upload.js", self.path),
                get(crate::upload::serve_upload_script),
            )
            .route(
                &format!("{}/download/{{token}}", self.path),
                get({
                    let downloads = self.shared.downloads.clone();
                    move |token| downloads.clone().serve(token)
                }),
            )
            .merge(self.hub.router(&self.path))
    }

    /// The path the hub is mounted at.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The circuit counters.
    pub fn metrics(&self) -> CircuitMetrics {
        self.shared.registry.metrics()
    }

    /// The persistence counters and store latency (`None` without a store); exported by
    /// [`Metrics::circuits`](crate::metrics::Metrics::circuits).
    pub fn store_metrics(&self) -> Option<crate::metrics::CircuitStoreMetrics> {
        let persistence = self.shared.env.persistence.as_ref()?;
        Some(persistence.metrics.clone())
    }

    /// The URL of the boot script this hub serves, with its content version (`{path}/tether.js?v=…`):
    /// put it in `<script src>` so the browser caches the script as immutable.
    pub fn boot_script_url(&self) -> String {
        crate::boot_script::boot_script_url_for_hub(&self.path)
    }

    /// The live circuit with public id `id` (connected or retained).
    pub fn circuit(&self, id: CircuitId) -> Option<CircuitHandle> {
        self.shared.registry.handle_for(id)
    }

    /// Cuts the connection of circuit `id` without ending the circuit (see
    /// [`CircuitHandle::disconnect_transport`]). Returns whether a connection was cut.
    pub fn disconnect_transport(&self, id: CircuitId) -> bool {
        self.circuit(id)
            .is_some_and(|circuit| circuit.disconnect_transport())
    }
}

fn disconnect_beacon(shared: &Shared, body: &str) -> Response {
    let Some(secret) = crate::request::value(body, "secret") else {
        return (StatusCode::BAD_REQUEST, "missing `secret` form field\n").into_response();
    };
    let Ok(secret) = CircuitSecret::parse(&secret) else {
        tracing::warn!("disconnect beacon with a malformed secret");
        return (StatusCode::BAD_REQUEST, "malformed circuit secret\n").into_response();
    };
    if let Some(circuit) = shared.registry.find(&secret) {
        circuit.end_by_browser();
        (StatusCode::OK, "circuit ended\n").into_response()
    } else {
        (StatusCode::OK, "no such circuit (already ended)\n").into_response()
    }
}
