//! The router: multi-page apps inside one circuit.
//!
//! A [`Routes`] table maps path patterns (`/notes/{id}`) to page components whose props are built from the
//! matched route ([`RouteProps`]: typed path and query parameters, guards, data that must exist), inside
//! layouts (nested with [`Routes::group`]). [`page_router`] prerenders any route (200, 404 for no route or
//! a rejected parameter, 303 for a redirect); [`RouterView`], the root component it renders, swaps the page
//! when the browser reports a navigation, so following a link inside the app sends one render batch and
//! reloads nothing. [`nav_link`] marks the current page's link. docs/routing.md is the guide.
//!
//! # Invariants
//! - Resolving a path never panics: bad parameters and unknown paths are [`Reject::NotFound`].
//! - The prerender and the circuit resolve the same path with the same user, so the circuit's first
//!   render equals the prerendered markup.
//! - Route order does not matter: the most specific pattern wins (see the `pattern` module).
//!
//! ```
//! use maud::{html, Markup};
//! use tether::router::{Reject, RouteMatch, RouteProps, Routes};
//! use tether_components::{Component, RenderContext};
//!
//! #[derive(Clone, PartialEq)]
//! struct NoteId(u64);
//!
//! impl RouteProps for NoteId {
//!     fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
//!         route.param("id").map(NoteId) // `/notes/abc` is the not-found page
//!     }
//! }
//!
//! struct Note;
//! impl Component for Note {
//!     type Props = NoteId;
//!     fn create(_: &NoteId) -> Self { Note }
//!     fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
//!         html! { h1 { "Note " (cx.props().0) } }
//!     }
//! }
//!
//! let routes = Routes::new()
//!     .layout(|cx, page| html! { nav { (cx.nav_link("/notes", html! { "Notes" })) } main { (page) } })
//!     .redirect("/", "/notes")
//!     .page::<Note>("/notes/{id}");
//! assert!(routes.errors().is_empty());
//! ```

mod nav;
mod page;
mod pattern;
mod route_match;
mod routes;

#[cfg(test)]
mod tests;

pub use self::nav::{nav_link, NavMatch};
pub use self::page::{page_route, page_router, Document};
pub use self::pattern::{encode_query_value, PatternError};
pub use self::route_match::{Guard, Reject, RouteMatch, RouteProps};
pub use self::routes::{Layout, LayoutContext, RouterView, Routes, ROUTER};

use tether_components::ComponentRegistry;

/// Registers [`RouterView`] under [`ROUTER`].
pub fn register(components: &mut ComponentRegistry) {
    components.register::<RouterView>(ROUTER);
}
