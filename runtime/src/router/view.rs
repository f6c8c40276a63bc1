//! [`RouterView`]: the root component that shows the page of the current location inside its layouts,
//! and [`nav_link`].
//!
//! The router reads [`Routes`], [`Location`] and the [`CurrentUser`] from its services in `init`. On every
//! location change it resolves the new path: a page replaces the current one (a child keyed by the path
//! and query, so another note is a fresh component and the same address keeps its state), a redirect is
//! sent to the browser as a replacing navigation, anything else shows the not-found page. Layouts are
//! render functions of the router, so the shell (nav bar, user name) re-renders with every navigation.
//! Everything is wrapped in `<div data-t-router="BASE">`: the boot script navigates links inside it
//! within the circuit.

use maud::{html, Markup};
use tether_components::{ChildSlot, Component, Context, RenderContext, Services};

use super::routes::{Layout, Placer, Resolved, Routes};
use crate::auth::CurrentUser;
use crate::circuit::{Location, LocationSubscription};

/// The name [`register`](super::register) gives [`RouterView`] in a component registry.
pub const ROUTER: &str = "tether.Router";

/// The router root component (props: none; it reads its services).
pub struct RouterView {
    routes: Routes,
    services: Services,
    location: Option<Location>,
    uri: String,
    key: String,
    page: Option<(Placer, Vec<Layout>)>,
    _watch: Option<LocationSubscription>,
}

impl RouterView {
    /// Shows the page at browser path `uri`.
    fn go(&mut self, uri: &str) {
        match self.routes.resolve(uri, &self.services) {
            Resolved::Page { placer, layouts } => {
                self.uri = uri.to_owned();
                self.key = uri.split('#').next().unwrap_or("").to_owned();
                self.page = Some((placer, layouts));
            }
            Resolved::NotFound => {
                self.uri = uri.to_owned();
                self.key = "!not-found".to_owned();
                self.page = Some(self.routes.not_found_page(&self.services));
            }
            Resolved::Redirect(to) => {
                if let Some(location) = &self.location {
                    location.navigate(&to, true);
                }
                if self.page.is_none() {
                    // Prerender only: the page handler answered with the redirect itself.
                    self.page = Some(self.routes.not_found_page(&self.services));
                }
            }
        }
    }
}

impl Component for RouterView {
    type Props = ();

    fn create(_: &()) -> Self {
        RouterView {
            routes: Routes::new(),
            services: Services::new(),
            location: None,
            uri: String::new(),
            key: String::new(),
            page: None,
            _watch: None,
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.routes = cx.service::<Routes>().unwrap_or_else(|| {
            tracing::error!("the router has no `Routes` service: give the circuit hub one");
            Routes::new()
        });
        self.services = cx.services();
        let location = cx.service::<Location>();
        let uri = location
            .as_ref()
            .map_or_else(|| "/".to_owned(), Location::path);
        if let Some(location) = &location {
            self._watch = Some(location.watch(cx.handle(), |this, change| this.go(change.path())));
        }
        self.location = location;
        self.go(&uri);
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let Some((placer, layouts)) = &self.page else {
            return html! {};
        };
        let mut markup = html! { (placer(cx, &self.key)) };
        for layout in layouts.iter().rev() {
            let mut layout_cx = LayoutContext {
                cx,
                uri: &self.uri,
                routes: &self.routes,
            };
            markup = layout(&mut layout_cx, markup);
        }
        html! { div data-t-router=(self.routes.base_path()) { (markup) } }
    }
}

/// What a layout sees: the current path, links, the user, services, and child components.
pub struct LayoutContext<'c, 'a> {
    cx: &'c mut RenderContext<'a, RouterView>,
    uri: &'c str,
    routes: &'c Routes,
}

impl LayoutContext<'_, '_> {
    /// The browser path and query of the current page.
    pub fn uri(&self) -> &str {
        self.uri
    }

    /// The browser path of app path `path`.
    pub fn href(&self, path: &str) -> String {
        self.routes.href(path)
    }

    /// A link to app path `path` marked as current when the current path is exactly `path`.
    pub fn nav_link(&self, path: &str, content: Markup) -> Markup {
        nav_link(self.uri, &self.href(path), NavMatch::Exact, content)
    }

    /// A link to app path `path` marked as current when the current path is `path` or below it.
    pub fn nav_link_prefix(&self, path: &str, content: Markup) -> Markup {
        nav_link(self.uri, &self.href(path), NavMatch::Prefix, content)
    }

    /// The signed-in user (anonymous when no auth is configured).
    pub fn user(&self) -> CurrentUser {
        self.cx.service().unwrap_or_default()
    }

    /// A service.
    pub fn service<T: Clone + 'static>(&self) -> Option<T> {
        self.cx.service()
    }

    /// Places child component `D` in the layout (a stateful part of the shell).
    pub fn child<D: Component>(&mut self, props: D::Props) -> ChildSlot {
        self.cx.child::<D>(props)
    }
}

/// How [`nav_link`] decides that its link is the current page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavMatch {
    /// The current path equals the link's path.
    Exact,
    /// The current path is the link's path or below it (`/notes` for `/notes/3`).
    Prefix,
}

/// A link to browser path `href` that carries `class="active"` and `aria-current="page"` when the
/// browser path `current` (query and fragment ignored) matches it.
pub fn nav_link(current: &str, href: &str, matching: NavMatch, content: Markup) -> Markup {
    let path = |uri: &str| {
        let path = uri.split(['?', '#']).next().unwrap_or("");
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        }
    };
    let (current, target) = (path(current), path(href));
    let active = match matching {
        NavMatch::Exact => current == target,
        NavMatch::Prefix => {
            current == target
                || target == "/"
                || current
                    .strip_prefix(&target)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    };
    html! {
        a href=(href) class=[active.then_some("active")] aria-current=[active.then_some("page")] { (content) }
    }
}
