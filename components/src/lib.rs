//! Tether's component model: components render maud markup, the renderer keeps the tree the browser shows,
//! diffs each new render against it and encodes the edits as render batches. No network code lives here.
//!
//! # Tour
//!
//! - [`Component`]: plain state that renders [`maud::Markup`]; event handlers are bound in markup with
//!   `t-<event>=(cx.on_click(…))`, child components placed with `(cx.child::<Row>(props))`, keys written as
//!   `t-key=(id)`, trusted HTML as `(RawHtml(html))`.
//! - [`Renderer`]: one per circuit. Mounts roots, dispatches events, drains [`Handle`] updates and runs
//!   render passes that produce [`RenderBatch`]es (JSON via [`RenderBatch::to_json`], docs/protocol.md
//!   section 4). Its module docs state the invariants: who owns the tree, when handler ids die, batch order.
//! - [`testing`]: a headless harness that applies every batch to an in-memory DOM.
//!
//! # Why parse maud's output
//!
//! maud gives a string. Rather than a macro of our own, the renderer parses that (well-formed, escaped)
//! string into a small arena tree and diffs trees. This keeps authoring plain maud, and costs a linear
//! parse per render of a dirty component; child components bound the work because an unchanged child is
//! not re-rendered.
//!
//! ```
//! use maud::{html, Markup};
//! use tether_components::{Component, RenderContext};
//!
//! struct Counter { count: i64 }
//!
//! impl Component for Counter {
//!     type Props = ();
//!     fn create(_: &()) -> Self { Counter { count: 0 } }
//!     fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
//!         html! {
//!             p { "Count: " (self.count) }
//!             button #increment t-click=(cx.on_click(|this: &mut Self, _| this.count += 1)) { "+1" }
//!         }
//!     }
//! }
//!
//! let mut h = tether_components::testing::Harness::mount::<Counter>(());
//! h.click("#increment");
//! assert_eq!(h.html(), r#"<p>Count: 1</p><button id="increment" t-click="1">+1</button>"#);
//! ```

mod batch;
mod component;
mod error;
pub mod event;
mod renderer;
pub mod testing;
mod tree;

pub use batch::{ComponentId, Edit, EditSink, PropertyValue, RenderBatch};
pub use component::{
    Binding, BoundaryProps, ChildSlot, Component, Context, ErrorBoundary, Handle, RawHtml,
    RenderContext, Task,
};
pub use error::{EventError, MountError, RenderError};
pub use event::{
    ChangeEvent, EventKind, FieldValue, FocusEvent, KeyboardEvent, Modifiers, MouseEvent,
    SubmitEvent,
};
pub use renderer::{ComponentRegistry, Renderer};
pub use tree::MarkupError;
