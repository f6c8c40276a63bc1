//! [`SmallMap`]: a map that is a plain vector while it holds a few entries and a hash map beyond that.
//!
//! Every circuit's renderer keeps a component map and a handler table for its whole life, and most hold
//! one to a dozen entries: as hash maps they cost a table of spare buckets each (84 bytes for the counter
//! example's one component), as vectors of exactly the entries they hold they cost the entries. A page
//! with long lists crosses [`SMALL`] entries and gets a hash map, so lookups never scan more than that.
//!
//! Invariants: keys are unique in either form; a map turns into a hash map when an insert would make it
//! hold more than [`SMALL`] entries and stays one (a page that grew a long list is likely to grow it again).
//! Iteration order is unspecified, as for a hash map.

use std::hash::Hash;

use crate::hash::FastMap;

/// Most entries a map keeps as a vector.
pub(crate) const SMALL: usize = 16;

pub(crate) enum SmallMap<K, V> {
    /// At most [`SMALL`] entries, in no particular order; capacity grows one entry at a time.
    Small(Vec<(K, V)>),
    Large(FastMap<K, V>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap::Small(Vec::new())
    }
}

impl<K: Copy + Eq + Hash, V> SmallMap<K, V> {
    pub(crate) fn len(&self) -> usize {
        match self {
            SmallMap::Small(entries) => entries.len(),
            SmallMap::Large(map) => map.len(),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        match self {
            SmallMap::Small(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            SmallMap::Large(map) => map.get(key),
        }
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self {
            SmallMap::Small(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            SmallMap::Large(map) => map.get_mut(key),
        }
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `value` at `key`, returning the value it replaces.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let entries = match self {
            SmallMap::Large(map) => return map.insert(key, value),
            SmallMap::Small(entries) => entries,
        };
        if let Some((_, old)) = entries.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(old, value));
        }
        if entries.len() < SMALL {
            // Exact: the map lives as long as its renderer and holds few entries.
            entries.reserve_exact(1);
            entries.push((key, value));
            return None;
        }
        let mut map = FastMap::with_capacity_and_hasher(SMALL * 2, Default::default());
        map.extend(entries.drain(..));
        map.insert(key, value);
        *self = SmallMap::Large(map);
        None
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        match self {
            SmallMap::Small(entries) => {
                let at = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.swap_remove(at).1)
            }
            SmallMap::Large(map) => map.remove(key),
        }
    }

    /// Removes every entry, yielding them in no particular order.
    pub(crate) fn drain(&mut self) -> Box<dyn Iterator<Item = (K, V)> + '_> {
        match self {
            SmallMap::Small(entries) => Box::new(entries.drain(..)),
            SmallMap::Large(map) => Box::new(map.drain()),
        }
    }
}

impl<K: Copy + Eq + Hash, V> std::ops::Index<&K> for SmallMap<K, V> {
    type Output = V;

    /// The value at `key`; panics when there is none, as a hash map does.
    fn index(&self, key: &K) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Applies the same operations to a `SmallMap` and a `HashMap` and compares every answer, across the
    /// switch to the large form.
    #[test]
    fn behaves_as_a_hash_map_small_and_large() {
        let mut small: SmallMap<u32, u64> = SmallMap::default();
        let mut model: HashMap<u32, u64> = HashMap::new();
        // A deterministic mix of inserts, overwrites and removes over 64 keys (xorshift).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..4000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 64) as u32;
            match x % 5 {
                0..=2 => assert_eq!(small.insert(key, step), model.insert(key, step)),
                3 => assert_eq!(small.remove(&key), model.remove(&key)),
                _ => {
                    if let Some(v) = small.get_mut(&key) {
                        *v += 1;
                    }
                    if let Some(v) = model.get_mut(&key) {
                        *v += 1;
                    }
                }
            }
            assert_eq!(small.len(), model.len());
            assert_eq!(small.get(&key), model.get(&key));
            assert_eq!(small.contains_key(&key), model.contains_key(&key));
        }
        let mut drained: Vec<_> = small.drain().collect();
        let mut expected: Vec<_> = model.into_iter().collect();
        drained.sort_unstable();
        expected.sort_unstable();
        assert_eq!(drained, expected);
        assert_eq!(small.len(), 0);
    }

    #[test]
    fn stays_a_vector_of_exactly_its_entries_up_to_the_limit() {
        let mut map: SmallMap<u32, ()> = SmallMap::default();
        map.insert(1, ());
        assert!(matches!(&map, SmallMap::Small(v) if v.capacity() == 1));
        for key in 2..=SMALL as u32 {
            map.insert(key, ());
        }
        assert!(matches!(&map, SmallMap::Small(v) if v.len() == SMALL));
        map.insert(1, ());
        assert!(
            matches!(map, SmallMap::Small(_)),
            "an overwrite adds nothing"
        );
        map.insert(SMALL as u32 + 1, ());
        assert!(matches!(map, SmallMap::Large(_)));
        assert_eq!(map.len(), SMALL + 1);
        for key in 1..=SMALL as u32 + 1 {
            assert!(map.contains_key(&key));
        }
    }
}
