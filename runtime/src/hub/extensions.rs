//! Per-connection values keyed by their type ([`HubContext::insert_extension`](super::HubContext)).
//!
//! A connection holds a handful at most (the circuit hub keeps one: the connection's circuit), so they
//! are kept in a vector searched in order, grown one entry at a time: an idle connection with one
//! extension holds one small allocation for the entry and one for the value, where a hash map held a
//! table of spare buckets behind a box.

use std::any::{Any, TypeId};

type Value = Box<dyn Any + Send + Sync>;

/// A set of values, at most one per type.
#[derive(Default)]
pub(crate) struct Extensions {
    entries: Vec<(TypeId, Value)>,
}

impl Extensions {
    /// Stores `value`, returning the previous value of its type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let type_id = TypeId::of::<T>();
        if let Some((_, old)) = self.entries.iter_mut().find(|(id, _)| *id == type_id) {
            let old = std::mem::replace(old, Box::new(value));
            return old.downcast::<T>().ok().map(|old| *old);
        }
        // Exact: a connection keeps its few extensions for its whole life.
        self.entries.reserve_exact(1);
        self.entries.push((type_id, Box::new(value)));
        None
    }

    /// The value of type `T`.
    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        let type_id = TypeId::of::<T>();
        self.entries
            .iter()
            .find(|(id, _)| *id == type_id)
            .and_then(|(_, value)| value.downcast_ref::<T>())
    }

    /// Removes and returns the value of type `T`.
    pub(crate) fn remove<T: 'static>(&mut self) -> Option<T> {
        let type_id = TypeId::of::<T>();
        let at = self.entries.iter().position(|(id, _)| *id == type_id)?;
        let (_, value) = self.entries.swap_remove(at);
        value.downcast::<T>().ok().map(|value| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Room(&'static str);

    #[test]
    fn one_value_per_type() {
        let mut ext = Extensions::default();
        assert_eq!(ext.get::<Room>(), None);
        assert_eq!(ext.insert(Room("a")), None);
        assert_eq!(ext.insert(7u32), None);
        assert_eq!(ext.insert(Room("b")), Some(Room("a")));
        assert_eq!(ext.get::<Room>(), Some(&Room("b")));
        assert_eq!(ext.get::<u32>(), Some(&7));
        assert_eq!(ext.get::<u64>(), None);
        assert_eq!(ext.remove::<Room>(), Some(Room("b")));
        assert_eq!(ext.remove::<Room>(), None);
        assert_eq!(ext.get::<u32>(), Some(&7));
    }

    #[test]
    fn one_entry_takes_exactly_one_slot() {
        let mut ext = Extensions::default();
        assert_eq!(ext.entries.capacity(), 0);
        ext.insert(Room("a"));
        assert_eq!(ext.entries.capacity(), 1);
    }
}
