//! The bridge between a circuit and its `tether_components::Renderer`.
//!
//! The renderer's services are, in order of provision (a later one of the same type wins): the hub
//! builder's application services, then the circuit's [`CircuitHandle`] and [`Location`], then the
//! circuit's own services (`scoped`, restored from their saved states on resume). All are in place before
//! the first root is created, so every component's `init` can read them.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::Value;
use tether_components::{ComponentRegistry, EventError, PersistedStates, Renderer, Services};

use super::acks::EncodedBatch;
use super::core::{AppFault, CircuitApp};
use super::handle::CircuitHandle;
use super::location::Location;
use super::persist::{AppSnapshot, PersistedRoot};
use super::protocol::batch_frame;
use super::scoped::CircuitServices;

/// A circuit's component tree: one renderer holding the page's root components.
pub(crate) struct RendererApp {
    /// `None` once disposed (dropping the renderer disposes the components, inside `dispose`'s
    /// panic guard).
    renderer: Option<Renderer>,
    /// The circuit's location, which also keeps the base URI a persisted circuit starts from.
    location: Location,
    /// The roots as mounted (what a persisted circuit needs to mount them again).
    roots: Box<[MountedRoot]>,
    /// The application's per-circuit services, and this circuit's instances of them; `None` when the
    /// application declared none (most do), so such a circuit holds no empty sets.
    scoped: Option<Box<(CircuitServices, Services)>>,
}

/// A root as mounted, kept for the circuit's whole life for persisting it. Its props are kept as their JSON
/// text: a `Value` object holds a B-tree node of several hundred bytes even for one field.
struct MountedRoot {
    component: Box<str>,
    props: Box<RawValue>,
}

impl MountedRoot {
    fn new(root: PersistedRoot) -> Result<Self, String> {
        let props = serde_json::value::to_raw_value(&root.props).map_err(|e| e.to_string())?;
        Ok(Self {
            component: root.component.into_boxed_str(),
            props,
        })
    }

    fn persisted(&self) -> Result<PersistedRoot, String> {
        Ok(PersistedRoot {
            component: self.component.to_string(),
            props: serde_json::from_str(self.props.get()).map_err(|e| e.to_string())?,
        })
    }
}

/// Where a circuit starts: `StartCircuit`'s URIs and root descriptors, or a persisted circuit's.
pub(crate) struct StartPoint {
    pub(crate) base_uri: String,
    pub(crate) uri: String,
    pub(crate) roots: Vec<PersistedRoot>,
    /// Opted-in component states to restore (empty for a new start).
    pub(crate) states: PersistedStates,
    /// Opted-in per-circuit service states to restore (empty for a new start).
    pub(crate) services: Vec<(String, Value)>,
}

impl RendererApp {
    /// Mounts the root components named by `descriptors`, in order (their index is their root index).
    /// The renderer wakes the circuit (`schedule_render`) when a component handle queues work.
    pub(crate) fn mount(
        components: Arc<ComponentRegistry>,
        services: &Services,
        start: StartPoint,
        circuit: &CircuitHandle,
    ) -> Result<Self, String> {
        let waker = circuit.clone();
        let mut renderer = Renderer::with_notify(components, move || waker.schedule_render());
        let location = Location::for_circuit(circuit.clone(), start.base_uri, start.uri);
        renderer
            .provide_all(services)
            .provide(circuit.clone())
            .provide(location.clone());
        renderer.provide(crate::upload::browser_source(circuit.clone()));
        if let Some(downloads) = services.get::<crate::download::Downloads>() {
            renderer.provide(downloads.for_circuit(circuit.clone()));
        }
        let scoped = match services.get::<CircuitServices>() {
            Some(specs) if !specs.0.is_empty() => {
                let made = specs.make(start.services);
                renderer.provide_all(&made);
                Some(Box::new((specs, made)))
            }
            _ => {
                if !start.services.is_empty() {
                    // Logs each saved state as one that found no service.
                    CircuitServices::default().make(start.services);
                }
                None
            }
        };
        renderer.restore_states(start.states);
        for root in &start.roots {
            renderer
                .mount_root(&root.component, &root.props)
                .map_err(|e| e.to_string())?;
        }
        Ok(Self {
            renderer: Some(renderer),
            location,
            roots: start
                .roots
                .into_iter()
                .map(MountedRoot::new)
                .collect::<Result<_, _>>()?,
            scoped,
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

    fn render(&mut self, ack_now: bool) -> Result<Option<EncodedBatch>, AppFault> {
        let renderer = self.renderer()?;
        let batch = renderer.render().map_err(|e| AppFault(e.to_string()))?;
        let unused = renderer.finish_restore();
        if unused > 0 {
            tracing::warn!(
                unused,
                "persisted component states found no component at their position"
            );
        }
        self.spawn_tasks();
        Ok(batch.as_ref().map(|batch| batch_frame(batch, ack_now)))
    }

    fn dispose(&mut self) {
        drop(self.renderer.take());
    }

    fn snapshot(&self) -> Result<AppSnapshot, String> {
        let renderer = self
            .renderer
            .as_ref()
            .ok_or("the components were disposed")?;
        let (states, failures) = renderer.persisted_states();
        for failure in failures {
            tracing::warn!(%failure, "a component's state could not be saved; it will be rebuilt from its props");
        }
        Ok(AppSnapshot {
            base_uri: self.location.base_uri().to_owned(),
            uri: self.location.uri(),
            roots: self
                .roots
                .iter()
                .map(MountedRoot::persisted)
                .collect::<Result<_, _>>()?,
            states,
            services: self
                .scoped
                .as_ref()
                .map(|scoped| scoped.0.save(&scoped.1))
                .unwrap_or_default(),
        })
    }

    fn process_background(&mut self) -> Result<(), AppFault> {
        self.renderer()?
            .process_messages()
            .map_err(|e| AppFault(e.to_string()))?;
        self.spawn_tasks();
        Ok(())
    }
}
