//! Saving and restoring opted-in component state by tree position (see [`crate::persist`]).

use std::collections::HashMap;

use super::Renderer;
use crate::batch::ComponentId;
use crate::hash::FastMap;
use crate::persist::PersistedStates;
use crate::tree::NodeKind;

/// A resume in progress: states not yet applied, and the positions of components created meanwhile
/// (their children's positions extend them).
#[derive(Default)]
pub(super) struct Restore {
    states: HashMap<Vec<u32>, serde_json::Value>,
    paths: FastMap<ComponentId, Vec<u32>>,
}

impl Renderer {
    /// Saved states to apply to the components about to be mounted (call before
    /// [`mount_root`](Self::mount_root)). Each applies once, to the component created at its position;
    /// states left over after [`finish_restore`](Self::finish_restore) are dropped.
    pub fn restore_states(&mut self, states: PersistedStates) {
        if states.is_empty() {
            return;
        }
        self.restore = Some(Box::new(Restore {
            states: states.into_iter().collect(),
            paths: FastMap::default(),
        }));
    }

    /// Ends a restore: returns how many saved states found no component (logged by the caller).
    pub fn finish_restore(&mut self) -> usize {
        self.restore.take().map_or(0, |r| r.states.len())
    }

    /// The persisted form of every opted-in component, by position, roots first and then depth-first in
    /// slot order. A component whose state fails to serialise is left out and reported in the second list.
    pub fn persisted_states(&self) -> (PersistedStates, Vec<String>) {
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for (index, root) in self.roots.iter().enumerate() {
            self.collect_states(root.component, vec![index as u32], &mut out, &mut failures);
        }
        (out, failures)
    }

    fn collect_states(
        &self,
        id: ComponentId,
        path: Vec<u32>,
        out: &mut PersistedStates,
        failures: &mut Vec<String>,
    ) {
        let Some(entry) = self.components.get(&id) else {
            return;
        };
        for &slot in &entry.tree.shape.slots {
            if let NodeKind::Slot { spec, component } = entry.tree.nodes[slot as usize].kind {
                if component != 0 {
                    let mut child = path.clone();
                    child.push(spec);
                    self.collect_states(ComponentId(component), child, out, failures);
                }
            }
        }
        match entry.component.save_state() {
            Some(Ok(value)) => out.push((path, value)),
            Some(Err(e)) => failures.push(format!("{}: {e}", entry.component.type_name())),
            None => {}
        }
    }

    /// Applies the saved state for the component just created as `id` (before its `init`).
    pub(super) fn restore_at(
        &mut self,
        id: ComponentId,
        parent: Option<ComponentId>,
        position: u32,
    ) {
        let Some(restore) = self.restore.as_mut() else {
            return;
        };
        let mut path = match parent {
            Some(parent) => match restore.paths.get(&parent) {
                Some(path) => path.clone(),
                None => return,
            },
            None => Vec::new(),
        };
        path.push(position);
        let state = restore.states.remove(&path);
        restore.paths.insert(id, path);
        let Some(state) = state else {
            return;
        };
        let Some(entry) = self.components.get_mut(&id) else {
            return;
        };
        let name = entry.component.type_name();
        match super::catch(|| entry.component.restore_state(state)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(component = name, error = %e, "saved state did not apply; the component keeps its fresh state");
            }
        }
    }
}
