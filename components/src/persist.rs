//! Persisted component state: how a component opts in to surviving its circuit's process.
//!
//! A component opts in by deriving serde's traits and answering [`Component::persistence`](crate::Component::persistence) with
//! [`Persistence::serde`] (one line). When its circuit is persisted, the renderer saves the state of every
//! opted-in component, keyed by its position in the component tree: the root index, then the render-order
//! index of each child slot on the way down (`[0, 2, 1]`: root 0, its third child, that child's second
//! child). On resume, the same roots are mounted with the same props; each component created at a
//! position that has saved state gets it applied right after `create` and before `init`. Components that
//! did not opt in are rebuilt from their props by rendering.
//!
//! Positions are stable when a resumed tree renders the same children in the same order as before,
//! which holds when the saved state decides what is rendered (for example a list component persisting its
//! items). State saved for a position whose component is of another type fails to apply and is dropped
//! with a warning; it never reaches the wrong type (the serde form must decode).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// How a component's state is saved and restored (see the module docs). Build it with
/// [`Persistence::serde`] for the whole state, or [`Persistence::custom`] to save a part.
pub struct Persistence<C> {
    pub(crate) save: fn(&C) -> Result<Value, String>,
    pub(crate) restore: fn(&mut C, Value) -> Result<(), String>,
}

impl<C> Clone for Persistence<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Persistence<C> {}

impl<C> std::fmt::Debug for Persistence<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Persistence")
    }
}

impl<C: Serialize + DeserializeOwned> Persistence<C> {
    /// Persists the whole state through its serde form: write
    /// `fn persistence() -> Option<Persistence<Self>> { Persistence::serde() }` in the component's impl.
    pub fn serde() -> Option<Self> {
        Some(Self {
            save: |state| serde_json::to_value(state).map_err(|e| e.to_string()),
            restore: |state, value| {
                *state = serde_json::from_value(value).map_err(|e| e.to_string())?;
                Ok(())
            },
        })
    }
}

impl<C> Persistence<C> {
    /// Persists what `save` returns; on resume `restore` applies it to the component `create` made from
    /// its props (so fields left out keep their fresh values).
    pub fn custom(
        save: fn(&C) -> Result<Value, String>,
        restore: fn(&mut C, Value) -> Result<(), String>,
    ) -> Option<Self> {
        Some(Self { save, restore })
    }
}

impl<C> Persistence<C> {
    /// Saves `value`'s state (what a host calls when it persists; components are saved by the renderer).
    pub fn save(&self, value: &C) -> Result<Value, String> {
        (self.save)(value)
    }

    /// Applies a saved state to `target`, which was made fresh.
    pub fn restore(&self, target: &mut C, state: Value) -> Result<(), String> {
        (self.restore)(target, state)
    }
}

/// The saved state of one renderer: each opted-in component's state by its position (see the module docs).
pub type PersistedStates = Vec<(Vec<u32>, Value)>;
