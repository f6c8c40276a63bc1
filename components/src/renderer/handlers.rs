//! The handler table: every live handler id with the component and closure it runs. Ids are allocated
//! here and nowhere else: circuit-unique, counting up from 1, never reused.

use crate::batch::ComponentId;
use crate::event::EventKind;
use crate::small_map::SmallMap;
use crate::tree::Binding;

/// What a live handler id runs: the closure at `index` of `component`'s latest render.
#[derive(Clone, Copy)]
pub(super) struct HandlerEntry {
    pub(super) component: ComponentId,
    pub(super) index: u32,
    pub(super) kind: EventKind,
}

pub(super) struct HandlerTable {
    entries: SmallMap<u32, HandlerEntry>,
    next_id: u32,
}

impl Default for HandlerTable {
    fn default() -> Self {
        HandlerTable {
            entries: SmallMap::default(),
            next_id: 1,
        }
    }
}

impl HandlerTable {
    /// Gives `binding` (of `component`) a fresh handler id.
    pub(super) fn bind(&mut self, component: ComponentId, binding: &mut Binding) {
        let id = self.next_id;
        self.next_id += 1;
        binding.handler_id = id;
        self.entries.insert(
            id,
            HandlerEntry {
                component,
                index: binding.render_index,
                kind: binding.kind,
            },
        );
    }

    /// A binding kept its handler id but moved to another render index (rows shifted by an insert).
    pub(super) fn retarget(&mut self, binding: &Binding) {
        if let Some(entry) = self.entries.get_mut(&binding.handler_id) {
            entry.index = binding.render_index;
        }
    }

    /// Forgets `id`: events naming it are stale from now on.
    pub(super) fn remove(&mut self, id: u32) {
        self.entries.remove(&id);
    }

    pub(super) fn get(&self, id: u64) -> Option<HandlerEntry> {
        u32::try_from(id)
            .ok()
            .and_then(|id| self.entries.get(&id).copied())
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
