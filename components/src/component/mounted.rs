//! [`AnyComponent`] for `Mounted<C>`: every typed component, as the renderer drives it.
//!
//! Invariant: every hook runs with a fresh [`Context`] over the stored props, on the renderer's owner; the
//! handlers of the latest render replace the previous set whole, so a handler index always refers to the
//! markup the browser was last sent for this component.

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde_json::Value;

use super::erased::{AnyComponent, Mounted, PreviousChildren, Rendered};
use super::handle::{Apply, Shared};
use super::handlers::Handlers;
use super::{Component, Context, RenderContext};
use crate::batch::ComponentId;
use crate::event::{EventArgsError, EventInput, EventKind};

impl<C: Component> AnyComponent for Mounted<C> {
    fn type_id(&self) -> TypeId {
        TypeId::of::<C>()
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<C>()
    }

    fn init(&mut self, id: ComponentId, shared: &Arc<Shared>) -> bool {
        let mut cx = Context::new(id, &self.props, shared);
        self.state.init(&mut cx);
        cx.render_requested
    }

    fn render(
        &mut self,
        id: ComponentId,
        shared: &Arc<Shared>,
        previous: Option<&dyn PreviousChildren>,
    ) -> Rendered {
        // A re-render usually binds as many handlers and places as many children as the last one.
        let bound = self.handlers.len();
        let mut rcx = RenderContext {
            cx: Context::new(id, &self.props, shared),
            handlers: Handlers::with_capacity(bound),
            kinds: Vec::with_capacity(bound),
            children: Vec::with_capacity(previous.map_or(0, |p| p.len())),
            keys: String::with_capacity(previous.map_or(0, |p| p.key_bytes())),
            previous,
        };
        let html = self.state.render(&mut rcx).into_string();
        self.handlers = rcx.handlers;
        Rendered {
            html,
            children: rcx.children,
            keys: rcx.keys,
            handler_kinds: rcx.kinds,
        }
    }

    fn props_equal(&self, props: &(dyn Any + Send)) -> bool {
        (props as &dyn Any)
            .downcast_ref::<C::Props>()
            .is_some_and(|p| *p == self.props)
    }

    fn clone_props(&self) -> Box<dyn Any + Send> {
        Box::new(self.props.clone())
    }

    fn set_props(&mut self, props: Box<dyn Any + Send>, id: ComponentId, shared: &Arc<Shared>) {
        if let Ok(props) = props.downcast::<C::Props>() {
            self.props = *props;
            let mut cx = Context::new(id, &self.props, shared);
            self.state.props_changed(&mut cx);
        }
    }

    fn call_handler(
        &mut self,
        index: u32,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError> {
        self.handlers.call(index, &mut self.state, kind, event)
    }

    fn apply(&mut self, apply: Apply) {
        apply(&mut self.state);
    }

    fn after_render(&mut self, first: bool, id: ComponentId, shared: &Arc<Shared>) -> bool {
        let mut cx = Context::new(id, &self.props, shared);
        self.state.after_render(first, &mut cx);
        cx.render_requested
    }

    fn dispose(&mut self) {
        self.state.dispose();
    }

    fn catch_error(&mut self, message: &str) -> bool {
        self.state.catch_error(message)
    }

    fn save_state(&self) -> Option<Result<Value, String>> {
        C::persistence().map(|p| (p.save)(&self.state))
    }

    fn restore_state(&mut self, value: Value) -> Result<(), String> {
        match C::persistence() {
            Some(p) => (p.restore)(&mut self.state, value),
            None => Err("this component type does not persist its state".into()),
        }
    }
}
