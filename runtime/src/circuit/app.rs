//! The bridge between a circuit and its `tether_components::Renderer`.

use std::sync::Arc;

use serde_json::Value;
use tether_components::{ComponentRegistry, EventError, Renderer};

use super::core::{AppFault, CircuitApp, CircuitHandle};
use super::descriptor::Descriptor;

/// A circuit's component tree: one renderer holding the page's root components.
pub(crate) struct RendererApp {
    /// `None` once disposed (dropping the renderer disposes the components, inside `dispose`'s
    /// panic guard).
    renderer: Option<Renderer>,
}

impl RendererApp {
    /// Mounts the root components named by `descriptors`, in order (their index is their root index).
    /// The renderer wakes the circuit (`schedule_render`) when a component handle queues work.
    pub(crate) fn mount(
        components: Arc<ComponentRegistry>,
        descriptors: &[Descriptor],
        circuit: &CircuitHandle,
    ) -> Result<Self, String> {
        let waker = circuit.clone();
        let mut renderer = Renderer::with_notify(components, move || waker.schedule_render());
        for descriptor in descriptors {
            renderer
                .mount_root(&descriptor.component, &descriptor.props)
                .map_err(|e| e.to_string())?;
        }
        Ok(Self {
            renderer: Some(renderer),
        })
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
        Ok(())
    }

    fn render(&mut self, batch_id: u64) -> Result<Option<String>, AppFault> {
        let batch = self
            .renderer()?
            .render()
            .map_err(|e| AppFault(e.to_string()))?;
        self.spawn_tasks();
        match batch {
            Some(batch) if batch.id != batch_id => Err(AppFault(format!(
                "the renderer produced batch {} where the circuit expected {batch_id}",
                batch.id
            ))),
            Some(batch) => Ok(Some(batch.to_json())),
            None => Ok(None),
        }
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
