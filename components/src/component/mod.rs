//! The authoring model: [`Component`], the contexts it renders and runs with, event bindings, child
//! components, raw markup and the cross-task [`Handle`].
//!
//! A component's state is touched only by the renderer's owner: render, handlers, lifecycle hooks and queued
//! [`Handle::update`] closures all run on the task that drives the renderer, one at a time. Other tasks hold
//! a [`Handle`], which only queues closures and wakes the owner.
//!
//! - `handle`: [`Handle`] and [`Context`], and the inbox they share with the renderer. A handle never
//!   touches state: it queues a closure, and the renderer's owner runs it.
//! - `render_context`: [`RenderContext`], which turns bindings and child placements into render-order
//!   indices. Indices count from zero in every render; the renderer swaps them for circuit-unique ids.
//! - `handlers`: the closures of one render, grouped by closure type; an index is valid until the next
//!   render of the same component replaces the whole set.
//! - `markup`: what a render writes into maud output ([`Binding`], [`ChildSlot`], [`RawHtml`], keys).
//! - `erased`: the type-erased component the renderer stores (`AnyComponent`) and the child specs a
//!   render hands it; `mounted` implements it for every typed component. Neither `erased` nor
//!   `render_context` imports `mounted`, so the three form no import circle.
//! - `boundary`: [`ErrorBoundary`], a plain component built on [`Component::catch_error`].

mod boundary;
mod erased;
mod handle;
mod handlers;
mod markup;
mod mounted;
mod render_context;

use maud::Markup;

pub use boundary::{BoundaryProps, ErrorBoundary};
pub(crate) use erased::{
    create_root, AnyComponent, ChildSpec, PreviousChild, PreviousChildren, Rendered, SpecProps,
};
pub use handle::{Context, Handle, Task};
pub(crate) use handle::{Inbox, Shared};
pub use markup::{Binding, ChildKey, ChildSlot, RawHtml};
pub use render_context::RenderContext;

/// A UI component: plain Rust state that renders maud markup.
///
/// Lifecycle, in order: [`create`](Component::create) and [`init`](Component::init) once;
/// [`render`](Component::render) whenever the component is dirty (after an event handler ran, a
/// [`Handle::update`] arrived, or its parent passed different props, which calls
/// [`props_changed`](Component::props_changed) first); [`after_render`](Component::after_render) after each
/// render pass it took part in; [`dispose`](Component::dispose) when it leaves the tree or the circuit ends.
pub trait Component: Send + Sized + 'static {
    /// Parameters passed by the parent (or, for a root, decoded from JSON). A child whose new props equal
    /// the old ones is not re-rendered.
    type Props: Clone + PartialEq + Send + 'static;

    /// Builds the state from the first props.
    fn create(props: &Self::Props) -> Self;

    /// Renders the markup. Event bindings, child components and the current props come from `cx`.
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup;

    /// Runs once after [`create`](Component::create), before the first render. Start async
    /// initialisation here with [`Context::spawn`]: the first render shows the state before it completes.
    fn init(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// The parent passed props different from the previous ones (`cx.props()` holds the new ones).
    fn props_changed(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// Runs after a render pass in which this component rendered; `first_render` is true once.
    fn after_render(&mut self, first_render: bool, cx: &mut Context<'_, Self>) {
        let _ = (first_render, cx);
    }

    /// Runs when the component leaves the tree or the renderer is dropped.
    fn dispose(&mut self) {}

    /// Opts this component's state in to persisted circuits (see [`crate::persist`]): answer
    /// `Persistence::serde()` for a state with serde's `Serialize` and `Deserialize`. Default: not
    /// persisted (the component is rebuilt from its props on resume).
    fn persistence() -> Option<crate::Persistence<Self>> {
        None
    }

    /// A descendant panicked or failed to render. Return true to handle it (this makes the component an
    /// error boundary: it is re-rendered and should show fallback content); false passes it upwards.
    fn catch_error(&mut self, message: &str) -> bool {
        let _ = message;
        false
    }
}
