//! The handler closures of one render, grouped by closure type.
//!
//! Invariant: a render-order index names the closure the latest render bound at that position; the set is
//! replaced whole by the next render of the same component, so an index from an older render must not
//! reach it (the renderer retires handler ids when it re-renders).

use std::any::{Any, TypeId};
use std::marker::PhantomData;

use crate::event::{EventArgsError, EventData, EventInput, EventKind};

/// The handler closures of one render, grouped by closure type: the closures a `@for` loop makes share
/// one type, so a 1,000-row table's 2,000 bindings fill two vectors instead of allocating 2,000 boxes.
pub(crate) struct Handlers<C> {
    /// One vector of closures per closure type, in order of first use.
    groups: Vec<Box<dyn HandlerGroup<C>>>,
    /// By render-order index: the closure's group and its position there.
    order: Vec<(u32, u32)>,
}

impl<C: 'static> Handlers<C> {
    pub(super) fn with_capacity(bindings: usize) -> Self {
        Handlers {
            groups: Vec::new(),
            order: Vec::with_capacity(bindings),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    pub(super) fn push<E: EventData, F: Fn(&mut C, E) + Send + 'static>(&mut self, f: F) {
        let type_id = TypeId::of::<Group<F, E>>();
        let index = match self.groups.iter().position(|g| g.group_type() == type_id) {
            Some(index) => index,
            None => {
                self.groups.push(Box::new(Group::<F, E> {
                    closures: Vec::new(),
                    _event: PhantomData,
                }));
                self.groups.len() - 1
            }
        };
        let Some(group) = self.groups[index]
            .as_any_mut()
            .downcast_mut::<Group<F, E>>()
        else {
            unreachable!("groups are found by their type")
        };
        self.order.push((index as u32, group.closures.len() as u32));
        group.closures.push(f);
    }

    pub(super) fn call(
        &self,
        index: u32,
        state: &mut C,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError> {
        match self.order.get(index as usize) {
            Some(&(group, at)) => self.groups[group as usize].call(at, state, kind, event),
            None => Ok(()),
        }
    }
}

trait HandlerGroup<C>: Send {
    fn group_type(&self) -> TypeId;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn call(
        &self,
        at: u32,
        state: &mut C,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError>;
}

struct Group<F, E> {
    closures: Vec<F>,
    _event: PhantomData<fn(E)>,
}

impl<C, E, F> HandlerGroup<C> for Group<F, E>
where
    E: EventData,
    F: Fn(&mut C, E) + Send + 'static,
{
    fn group_type(&self) -> TypeId {
        TypeId::of::<Self>()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn call(
        &self,
        at: u32,
        state: &mut C,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError> {
        let data = event.decode::<E>(kind)?;
        (self.closures[at as usize])(state, data);
        Ok(())
    }
}
