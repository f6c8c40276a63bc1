//! The type-erased side of the component model: how the renderer holds components ([`AnyComponent`]),
//! what one render hands it ([`Rendered`], [`ChildSpec`]), and what a re-render may compare against
//! ([`PreviousChildren`]).
//!
//! Invariant: a [`ChildSpec`] pairs props with the factory of their own component type (`create`), so
//! the downcasts in the factories cannot fail; [`SpecProps::Same`] never reaches a diff (the renderer
//! turns it back into boxed props first).

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde_json::Value;

use super::handle::{Apply, Shared};
use super::handlers::Handlers;
use super::Component;
use crate::batch::ComponentId;
use crate::event::{EventArgsError, EventInput, EventKind};

/// Type-erased props of a child component, with what the renderer needs to create or update it.
pub(crate) struct ChildSpec {
    pub(crate) type_id: TypeId,
    /// Byte range of the key in [`Rendered::keys`].
    pub(crate) key: Option<(u32, u32)>,
    pub(crate) props: SpecProps,
    pub(crate) create: fn(Box<dyn Any + Send>) -> Box<dyn AnyComponent>,
}

/// A child spec's props.
pub(crate) enum SpecProps {
    /// Equal to the props of this child, which the last render placed at the same render-order index
    /// with the same type and key. They were compared in place and dropped, so nothing was boxed: a large
    /// list whose parent re-renders costs no allocation per unchanged child.
    Same(ComponentId),
    /// Props to create a child from, or to compare with and pass to the matched child.
    New(Box<dyn Any + Send>),
}

impl SpecProps {
    /// The boxed props; [`SpecProps::Same`] is turned into `New` before a tree is diffed or created.
    pub(crate) fn into_boxed(self) -> Box<dyn Any + Send> {
        match self {
            SpecProps::New(props) => props,
            SpecProps::Same(_) => unreachable!("Same props are cloned before diffing"),
        }
    }

    pub(crate) fn as_any(&self) -> &(dyn Any + Send) {
        match self {
            SpecProps::New(props) => &**props,
            SpecProps::Same(_) => unreachable!("Same props are cloned before diffing"),
        }
    }
}

/// One child component of the last render, as [`PreviousChildren::child`] finds it.
pub(crate) struct PreviousChild<'a> {
    pub(crate) key: Option<&'a str>,
    pub(crate) id: ComponentId,
    pub(crate) type_id: TypeId,
    pub(crate) component: &'a dyn AnyComponent,
}

/// The child components a component's last render placed, by render-order index, so a re-render can
/// compare each new child's props with the existing child's without boxing them.
pub(crate) trait PreviousChildren {
    /// How many children the last render placed.
    fn len(&self) -> usize;
    /// How many bytes their keys took (a capacity hint).
    fn key_bytes(&self) -> usize;
    /// The child the last render created as its `index`-th, if it is still mounted.
    fn child(&self, index: u32) -> Option<PreviousChild<'_>>;
}

pub(super) fn create_erased<D: Component>(props: Box<dyn Any + Send>) -> Box<dyn AnyComponent> {
    let props = *props
        .downcast::<D::Props>()
        .unwrap_or_else(|_| unreachable!("ChildSpec pairs props with their component type"));
    Box::new(Mounted::<D> {
        state: D::create(&props),
        props,
        handlers: Handlers::with_capacity(0),
    })
}

pub(crate) fn create_root<C: Component>(props: C::Props) -> Box<dyn AnyComponent> {
    Box::new(Mounted::<C> {
        state: C::create(&props),
        props,
        handlers: Handlers::with_capacity(0),
    })
}

/// One render's output, before parsing.
pub(crate) struct Rendered {
    pub(crate) html: String,
    pub(crate) children: Vec<ChildSpec>,
    /// The children's keys; [`ChildSpec::key`] ranges index into it.
    pub(crate) keys: String,
    pub(crate) handler_kinds: Vec<EventKind>,
}

/// The renderer's view of a component, without its type.
pub(crate) trait AnyComponent: Send {
    fn type_id(&self) -> TypeId;
    fn type_name(&self) -> &'static str;
    /// Returns whether the hook asked for a re-render.
    fn init(&mut self, id: ComponentId, shared: &Arc<Shared>) -> bool;
    fn render(
        &mut self,
        id: ComponentId,
        shared: &Arc<Shared>,
        previous: Option<&dyn PreviousChildren>,
    ) -> Rendered;
    fn props_equal(&self, props: &(dyn Any + Send)) -> bool;
    /// A boxed copy of the current props.
    fn clone_props(&self) -> Box<dyn Any + Send>;
    /// Stores new props and calls `props_changed`.
    fn set_props(&mut self, props: Box<dyn Any + Send>, id: ComponentId, shared: &Arc<Shared>);
    fn call_handler(
        &mut self,
        index: u32,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError>;
    fn apply(&mut self, apply: Apply);
    fn after_render(&mut self, first: bool, id: ComponentId, shared: &Arc<Shared>) -> bool;
    fn dispose(&mut self);
    fn catch_error(&mut self, message: &str) -> bool;
    /// The state's persisted form; `None` when the component did not opt in.
    fn save_state(&self) -> Option<Result<Value, String>>;
    /// Applies a persisted form (fails for a component that did not opt in).
    fn restore_state(&mut self, value: Value) -> Result<(), String>;
}

pub(super) struct Mounted<C: Component> {
    pub(super) state: C,
    pub(super) props: C::Props,
    /// Closures of the latest render, by render-order index.
    pub(super) handlers: Handlers<C>,
}
