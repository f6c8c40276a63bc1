//! The [`ComponentRegistry`]: root component types constructible by name from JSON props.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::component::{create_root, AnyComponent, Component};

pub(super) type RootFactory = fn(&Value) -> Result<Box<dyn AnyComponent>, String>;

/// Root component types constructible by name from JSON props (the prerender descriptors' names).
#[derive(Default)]
pub struct ComponentRegistry {
    pub(super) types: HashMap<String, RootFactory>,
}

impl std::fmt::Debug for ComponentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.types.keys()).finish()
    }
}

fn root_factory<C: Component>(props: &Value) -> Result<Box<dyn AnyComponent>, String>
where
    C::Props: DeserializeOwned,
{
    let props: C::Props =
        serde::Deserialize::deserialize(props).map_err(|e: serde_json::Error| e.to_string())?;
    Ok(create_root::<C>(props))
}

impl ComponentRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `C` under `name`, replacing any earlier registration of that name.
    pub fn register<C: Component>(&mut self, name: impl Into<String>) -> &mut Self
    where
        C::Props: DeserializeOwned,
    {
        self.types.insert(name.into(), root_factory::<C>);
        self
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }
}
