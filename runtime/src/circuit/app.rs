//! The bridge between a circuit and its `tether_components::Renderer`.
//!
//! The renderer's services are, in order of provision (a later one of the same type wins): the hub
//! builder's application services, then the circuit's [`CircuitHandle`] and [`Location`]. All are in place
//! before the first root is created, so every component's `init` can read them.

use std::sync::Arc;

use serde_json::Value;
use tether_components::{ComponentRegistry, EventError, Renderer, Services};

use super::acks::EncodedBatch;
use super::core::{AppFault, CircuitApp, CircuitHandle};
use super::descriptor::Descriptor;
use super::location::Location;
use super::protocol::batch_frame;

/// A circuit's component tree: one renderer holding the page's root components.
pub(crate) struct RendererApp {
    /// `None` once disposed (dropping the renderer disposes the components, inside `dispose`'s
    /// panic guard).
    renderer: Option<Renderer>,
    location: Location,
}

/// Where a circuit starts: `StartCircuit`'s URIs and root descriptors.
pub(crate) struct StartPoint<'a> {
    pub(crate) base_uri: String,
    pub(crate) uri: String,
    pub(crate) descriptors: &'a [Descriptor],
}

impl RendererApp {
    /// Mounts the root components named by `descriptors`, in order (their index is their root index).
    /// The renderer wakes the circuit (`schedule_render`) when a component handle queues work.
    pub(crate) fn mount(
        components: Arc<ComponentRegistry>,
        services: &Services,
        start: StartPoint<'_>,
        circuit: &CircuitHandle,
    ) -> Result<Self, String> {
        let waker = circuit.clone();
        let mut renderer = Renderer::with_notify(components, move || waker.schedule_render());
        let location = Location::for_circuit(circuit.clone(), start.base_uri, start.uri);
        renderer
            .provide_all(services)
            .provide(circuit.clone())
            .provide(location.clone())
            .provide(crate::upload::browser_source(circuit.clone()));
        if let Some(downloads) = services.get::<crate::download::Downloads>() {
            renderer.provide(downloads.for_circuit(circuit.clone()));
        }
        for descriptor in start.descriptors {
            renderer
                .mount_root(&descriptor.component, &descriptor.props)
                .map_err(|e| e.to_string())?;
        }
        Ok(Self {
            renderer: Some(renderer),
            location,
        })
    }

    /// The circuit's location (a clone).
    pub(crate) fn location(&self) -> Location {
        self.location.clone()
    }

    fn renderer(&mut self) -> Result<&mut Renderer, AppFault> {
        self.renderer
            .as_mut()
            .ok_or_else(|| AppFault("the components were disposed".into()))
    }

    fn spawn_tasks(&mut self) {
        if let Some(renderer) = &mut self.renderer {
            for task in renderer.take_tasks() {
                tokio::spawn(task);
            }
        }
    }
}

impl CircuitApp for RendererApp {
    fn dispatch_event(
        &mut self,
        handler_id: u64,
        event: &str,
        args: &Value,
    ) -> Result<(), AppFault> {
        let result = self.renderer()?.dispatch_event(handler_id, event, args);
        self.spawn_tasks();
        match result {
            Ok(()) => Ok(()),
            Err(EventError::Failed(failure)) => Err(AppFault(failure.to_string())),
            Err(rejected) => {
                tracing::warn!(handler_id, event, reason = %rejected, "event rejected; nothing ran");
                Ok(())
            }
        }
    }

    fn location_changed(&mut self, uri: &str, intercepted: bool) -> Result<(), AppFault> {
        tracing::debug!(uri, intercepted, "location changed");
        // Listeners usually queue component updates; the circuit applies and renders them right after
        // this message, as for any message.
        self.location.changed(uri, intercepted);
        Ok(())
    }

    fn render(&mut self) -> Result<Option<EncodedBatch>, AppFault> {
        let batch = self
            .renderer()?
            .render()
            .map_err(|e| AppFault(e.to_string()))?;
        self.spawn_tasks();
        Ok(batch.as_ref().map(batch_frame))
    }

    fn dispose(&mut self) {
        drop(self.renderer.take());
    }

    fn process_background(&mut self) -> Result<(), AppFault> {
        self.renderer()?
            .process_messages()
            .map_err(|e| AppFault(e.to_string()))?;
        self.spawn_tasks();
        Ok(())
    }
}
