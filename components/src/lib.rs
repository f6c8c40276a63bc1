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
//! - [`Services`]: a typed environment the host provides to every component of a renderer
//!   ([`Renderer::provide`], read with [`Context::service`]); the circuit runtime puts the circuit's handle
//!   and location there, applications their own shared objects.
//! - [`forms`]: forms bound to a model struct, validated with `garde`, with per-field messages.
//! - [`testing`]: a headless harness that applies every batch to an in-memory DOM.
//!
//! # Why parse maud's output
//!
//! maud gives a string. Rather than a macro of our own, the renderer parses that (well-formed, escaped)
//! string into a small arena tree and diffs trees. This keeps authoring plain maud. The cost is bounded
//! four ways: an unchanged child component is not re-rendered at all; a re-rendering parent compares
//! its children's props in place as it places them; a re-render whose markup equals the last one keeps
//! its tree; and otherwise only the content of the deepest element holding every changed byte is
//! re-parsed (the rest of the tree is copied with its node and handler ids), and inside it, subtrees
//! whose source text is unchanged, or differs only in binding render indices (rows after an insertion),
//! are matched with a few comparisons. docs/performance.md has the figures, including where this is
//! still slower than a compiled template would be.
//!
//! # Large lists
//!
//! Write a big table with each row a keyed child component. A row that changes its own state re-renders
//! alone; a parent re-render (new data for one row) renders only the parent's slot markers and passes
//! props down, and only rows whose props differ re-render. With 1,000 rows the first costs about a
//! microsecond and the second about 40 µs (docs/performance.md); the same table as one component
//! re-renders all 1,000 rows' markup on every change (about 130 µs). Both shapes shuffle 1,000 rows
//! within a millisecond.
//!
//! - Key rows with `cx.child_keyed::<Row>(row.id, props)`. Integer keys are cheapest ([`ChildKey`]).
//! - Keep props small and cheap to compare and clone: a parent re-render compares every row's new props
//!   with the row's current ones (`PartialEq`). Share big or immutable data with `Arc`.
//! - Call `cx.child_keyed` in the order the slots appear in the markup (the natural `@for` loop does).
//!   The comparison then happens in place, against the child the last render placed at the same
//!   position, and an unchanged row costs no allocation beyond the props the parent built for it.
//! - Keep per-row state (selection, an edited field) in the row component, so changing it does not
//!   re-render the parent.
//!
//! ```
//! use maud::{html, Markup};
//! use tether_components::{Component, RenderContext};
//!
//! #[derive(Clone, PartialEq)]
//! struct RowData { id: u32, label: String }
//!
//! struct Table { rows: Vec<RowData> }
//!
//! impl Component for Table {
//!     type Props = Vec<RowData>;
//!     fn create(rows: &Vec<RowData>) -> Self { Table { rows: rows.clone() } }
//!     fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
//!         html! { table { tbody { @for row in &self.rows { (cx.child_keyed::<Row>(row.id, row.clone())) } } } }
//!     }
//! }
//!
//! struct Row { selected: bool }
//!
//! impl Component for Row {
//!     type Props = RowData;
//!     fn create(_: &RowData) -> Self { Row { selected: false } }
//!     fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
//!         let row = cx.props();
//!         html! {
//!             tr class=[self.selected.then_some("danger")] {
//!                 td { (row.id) }
//!                 td { a t-click=(cx.on_click(|this: &mut Self, _| this.selected = !this.selected)) { (row.label) } }
//!             }
//!         }
//!     }
//! }
//!
//! let rows = (1..=3).map(|id| RowData { id, label: format!("row {id}") }).collect();
//! let mut h = tether_components::testing::Harness::mount::<Table>(rows);
//! h.handle::<Table>().update(|t| t.rows[1].label = "changed".into());
//! h.flush();
//! assert!(h.html().contains("changed"));
//! ```
//!
//! # Example
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
pub mod forms;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hash;
pub mod load;
mod number;
pub mod persist;
mod renderer;
mod services;
mod small_map;
pub mod testing;
mod tree;
pub mod upload;
pub mod virtualize;

pub use batch::{ComponentId, Edit, PropertyValue, RenderBatch};
pub use component::{
    Binding, BoundaryProps, ChildKey, ChildSlot, Component, Context, ErrorBoundary, Handle,
    RawHtml, RenderContext, Task,
};
pub use error::{EventError, MountError, RenderError};
pub use event::{
    ChangeEvent, EventKind, FieldValue, FocusEvent, KeyboardEvent, Modifiers, MouseEvent,
    ScrollEvent, SubmitEvent,
};
pub use persist::{PersistedStates, Persistence};
pub use renderer::{ComponentRegistry, Renderer};
pub use services::Services;
pub use tree::MarkupError;

/// The README's Rust examples, compiled and run as doc tests so they cannot drift from the API.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
