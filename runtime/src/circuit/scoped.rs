//! Services of one circuit ([`CircuitHubBuilder::circuit_service`](super::CircuitHubBuilder::circuit_service)):
//! made fresh for each circuit, shared by that circuit's components, and persisted with the circuit when
//! they opt in, the same way components do (a [`Persistence`], one line with serde).
//!
//! Invariants:
//! - A circuit's services are made before its first root component is created, so every `init` reads them.
//! - On resume, each service is made fresh and then given its saved state (as a component is created from
//!   its props and then given its state); a state that does not apply is logged and the fresh value kept.
//! - Saved states are keyed by the service's type name: renaming the type drops its saved state (logged).

use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use tether_components::{Persistence, Services};

/// One per-circuit service: how to make it, and how it persists.
pub(crate) trait ServiceSpec: Send + Sync + 'static {
    /// The key of its saved state.
    fn key(&self) -> &'static str;
    /// Makes the service for a new circuit into `services`, applying `saved` when resuming.
    fn make(&self, services: &mut Services, saved: Option<Value>);
    /// Its state to persist, when it opted in.
    fn save(&self, services: &Services) -> Option<Result<Value, String>>;
}

struct Spec<T> {
    make: Box<dyn Fn() -> T + Send + Sync>,
    persistence: Option<Persistence<T>>,
}

impl<T: Clone + Send + Sync + 'static> ServiceSpec for Spec<T> {
    fn key(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn make(&self, services: &mut Services, saved: Option<Value>) {
        let mut value = (self.make)();
        if let (Some(persistence), Some(saved)) = (&self.persistence, saved) {
            if let Err(error) = persistence.restore(&mut value, saved) {
                tracing::warn!(service = self.key(), %error, "a service's saved state did not apply; it starts fresh");
            }
        }
        services.insert(value);
    }

    fn save(&self, services: &Services) -> Option<Result<Value, String>> {
        let persistence = self.persistence.as_ref()?;
        let value = services.get::<T>()?;
        Some(persistence.save(&value))
    }
}

/// The per-circuit services an application declared, kept among the hub's application services.
#[derive(Clone, Default)]
pub(crate) struct CircuitServices(pub(crate) Arc<Vec<Arc<dyn ServiceSpec>>>);

impl CircuitServices {
    /// This list with one more service.
    pub(crate) fn with<T: Clone + Send + Sync + 'static>(
        &self,
        make: impl Fn() -> T + Send + Sync + 'static,
        persistence: Option<Persistence<T>>,
    ) -> Self {
        let mut specs: Vec<_> = self.0.iter().cloned().collect();
        specs.retain(|spec| spec.key() != std::any::type_name::<T>());
        specs.push(Arc::new(Spec {
            make: Box::new(make),
            persistence,
        }));
        Self(Arc::new(specs))
    }

    /// Makes one circuit's services, with their saved states when resuming.
    pub(crate) fn make(&self, mut saved: Vec<(String, Value)>) -> Services {
        let mut services = Services::new();
        for spec in self.0.iter() {
            let state = saved
                .iter()
                .position(|(key, _)| key == spec.key())
                .map(|at| saved.swap_remove(at).1);
            spec.make(&mut services, state);
        }
        for (key, _) in saved {
            tracing::warn!(service = %key, "a saved service state found no service of that type; dropped");
        }
        services
    }

    /// The states of one circuit's opted-in services.
    pub(crate) fn save(&self, services: &Services) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for spec in self.0.iter() {
            match spec.save(services) {
                Some(Ok(value)) => out.push((spec.key().to_owned(), value)),
                Some(Err(error)) => {
                    tracing::warn!(service = spec.key(), %error, "a service's state could not be saved; it will start fresh");
                }
                None => {}
            }
        }
        out
    }
}

/// A value shared by the components of one circuit: cloning shares it, and its serde form is the value's
/// own, so `circuit_service(SharedState::<Cart>::default, Persistence::serde())` persists a cart that every
/// component of the circuit reads and changes.
pub struct SharedState<T>(Arc<Mutex<T>>);

impl<T> SharedState<T> {
    /// Shares `value`.
    pub fn new(value: T) -> Self {
        Self(Arc::new(Mutex::new(value)))
    }

    /// Locks the value for reading or changing it. Keep the guard short: every component of the circuit
    /// shares it. A panic while it was held does not poison it for the others.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T> Clone for SharedState<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Default> Default for SharedState<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for SharedState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedState").field(&*self.lock()).finish()
    }
}

impl<T: Serialize> Serialize for SharedState<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.lock().serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SharedState<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}
