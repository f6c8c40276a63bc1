//! [`RenderContext`]: what [`Component::render`] gets.
//!
//! Invariant: bindings and child slots get render-order indices counting from zero in each render, in
//! the order the component created them; child specs and handler kinds are stored at those indices, so
//! the renderer can pair each marker in the markup with what it stands for.

use std::any::TypeId;

use super::erased::{create_erased, ChildSpec, PreviousChildren, SpecProps};
use super::handlers::Handlers;
use super::{Binding, ChildKey, ChildSlot, Component, Context, Handle};
use crate::event::{
    ChangeEvent, EventData, EventKind, FocusEvent, KeyboardEvent, MouseEvent, ScrollEvent,
    SubmitEvent,
};
use crate::services::Services;
use crate::upload::UploadEvent;

/// What [`Component::render`] gets: props, and the factories for event bindings and child components.
pub struct RenderContext<'a, C: Component> {
    pub(crate) cx: Context<'a, C>,
    pub(crate) handlers: Handlers<C>,
    /// The event each handler was created for, by render-order index.
    pub(crate) kinds: Vec<EventKind>,
    pub(crate) children: Vec<ChildSpec>,
    /// The keys of `children`, back to back (one buffer rather than a string per key).
    pub(crate) keys: String,
    /// The children of the last render, when there were any.
    pub(crate) previous: Option<&'a dyn PreviousChildren>,
}

macro_rules! binders {
    ($($(#[$doc:meta])* $name:ident => $kind:ident : $data:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self, f: impl Fn(&mut C, $data) + Send + 'static) -> Binding {
                self.on(EventKind::$kind, f)
            }
        )*
    };
}

impl<'a, C: Component> RenderContext<'a, C> {
    /// The current props (borrowed for the whole render, not from the context, so bindings can be made
    /// while they are in use).
    pub fn props(&self) -> &'a C::Props {
        self.cx.props
    }

    /// A handle for other tasks.
    pub fn handle(&self) -> Handle<C> {
        self.cx.handle()
    }

    /// A clone of the service of type `T` the host provided, if any (see [`Context::service`]). Capture
    /// it in a handler closure to use it there.
    pub fn service<T: Clone + 'static>(&self) -> Option<T> {
        self.cx.service::<T>()
    }

    /// Everything the host provided (a cheap clone of the set).
    pub fn services(&self) -> Services {
        self.cx.services()
    }

    /// Binds a handler for `kind`, receiving any [`EventData`] type (use it with the matching kind).
    pub fn on<E: EventData>(
        &mut self,
        kind: EventKind,
        f: impl Fn(&mut C, E) + Send + 'static,
    ) -> Binding {
        let index = self.handlers.len() as u32;
        self.kinds.push(kind);
        self.handlers.push(f);
        Binding { index, flags: 0 }
    }

    binders! {
        /// `t-click`.
        on_click => Click: MouseEvent;
        /// `t-dblclick`.
        on_dblclick => DblClick: MouseEvent;
        /// `t-mousedown`.
        on_mousedown => MouseDown: MouseEvent;
        /// `t-mouseup`.
        on_mouseup => MouseUp: MouseEvent;
        /// `t-mouseenter`.
        on_mouseenter => MouseEnter: MouseEvent;
        /// `t-mouseleave`.
        on_mouseleave => MouseLeave: MouseEvent;
        /// `t-mousemove`.
        on_mousemove => MouseMove: MouseEvent;
        /// `t-contextmenu`.
        on_contextmenu => ContextMenu: MouseEvent;
        /// `t-input`: every edit of a field.
        on_input => Input: ChangeEvent;
        /// `t-change`: a committed change.
        on_change => Change: ChangeEvent;
        /// `t-submit`: the form's fields.
        on_submit => Submit: SubmitEvent;
        /// `t-keydown`.
        on_keydown => KeyDown: KeyboardEvent;
        /// `t-keyup`.
        on_keyup => KeyUp: KeyboardEvent;
        /// `t-keypress`.
        on_keypress => KeyPress: KeyboardEvent;
        /// `t-focus`.
        on_focus => Focus: FocusEvent;
        /// `t-blur`.
        on_blur => Blur: FocusEvent;
        /// `t-scroll`: the bound element scrolled (add `t-throttle="MS"` to limit the rate).
        on_scroll => Scroll: ScrollEvent;
        /// `t-upload` on a file input or a drop zone: the files chosen (names, sizes, types; see
        /// [`crate::upload`]). The page loads the browser's upload module when such an element appears.
        on_upload => Upload: UploadEvent;
    }

    /// Places a child component. Among unkeyed siblings children match by position.
    pub fn child<D: Component>(&mut self, props: D::Props) -> ChildSlot {
        self.push_child::<D>(None, props)
    }

    /// Places a keyed child component: it keeps its state while its key stays among its siblings.
    pub fn child_keyed<D: Component>(&mut self, key: impl ChildKey, props: D::Props) -> ChildSlot {
        let start = self.keys.len();
        key.write_key(&mut self.keys);
        self.push_child::<D>(Some((start as u32, self.keys.len() as u32)), props)
    }

    fn push_child<D: Component>(&mut self, key: Option<(u32, u32)>, props: D::Props) -> ChildSlot {
        let index = self.children.len() as u32;
        let type_id = TypeId::of::<D>();
        // The common re-render: the child at this index has the same type, key and props as last time.
        let same = self.previous.and_then(|previous| {
            let old = previous.child(index)?;
            let key = key.map(|(start, end)| &self.keys[start as usize..end as usize]);
            (old.type_id == type_id && old.key == key && old.component.props_equal(&props))
                .then_some(old.id)
        });
        let props = match same {
            Some(id) => SpecProps::Same(id),
            None => SpecProps::New(Box::new(props)),
        };
        self.children.push(ChildSpec {
            type_id,
            key,
            props,
            create: create_erased::<D>,
        });
        ChildSlot { index }
    }
}
