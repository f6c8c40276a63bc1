//! [`Routes`], the route table (patterns → page components, layouts, guards, redirects), and
//! [`RouterView`], the root component that shows the page of the current location inside its layouts.
//!
//! The table and the component are one module because their types are made of each other: the table
//! holds render functions of the component (layouts, and the placers that put a page in it) and the
//! component holds the table. What neither needs of the other lives beside them: `route_match` (what a
//! route sees, how it says no), `pattern` (path patterns), `nav` (links that mark the current page).
//!
//! Invariants: resolving never panics on any input path; a parameter that does not parse, a guard that
//! says no, or no matching pattern all come out as [`Reject`] values, which the page handler turns into a
//! status (404) or a redirect, and the live router into the not-found page or a browser navigation.
//!
//! The router reads [`Routes`], [`Location`] and the [`CurrentUser`] from its services in `init`. On every
//! location change it resolves the new path: a page replaces the current one (a child keyed by the path
//! and query, so another note is a fresh component and the same address keeps its state), a redirect is
//! sent to the browser as a replacing navigation, anything else shows the not-found page. Layouts are
//! render functions of the router, so the shell (nav bar, user name) re-renders with every navigation.
//! Everything is wrapped in `<div data-t-router="BASE">`: the boot script navigates links inside it
//! within the circuit.

use std::sync::Arc;

use maud::{html, Markup};
use tether_components::{ChildSlot, Component, Context, RenderContext, Services};

use super::nav::{nav_link, NavMatch};
use super::pattern::{split_query, Pattern, PatternError};
use super::route_match::{Guard, Reject, RouteMatch, RouteProps};
use crate::auth::CurrentUser;
use crate::circuit::{Location, LocationSubscription};

/// A layout: wraps the page's markup (inner layouts first) in a shared shell.
pub type Layout = Arc<dyn Fn(&mut LayoutContext<'_, '_>, Markup) -> Markup + Send + Sync>;
/// Places the resolved page as a child of the router, under a key.
pub(crate) type Placer = Box<dyn Fn(&mut RenderContext<'_, RouterView>, &str) -> ChildSlot + Send>;
type PageFactory = Arc<dyn Fn(&RouteMatch<'_>) -> Result<Placer, Reject> + Send + Sync>;

#[derive(Clone)]
enum Target {
    Page(PageFactory),
    Redirect(String),
}

#[derive(Clone)]
struct Route {
    pattern: Pattern,
    layouts: Vec<Layout>,
    guards: Vec<Guard>,
    target: Target,
}

/// The outcome of resolving a path.
pub(crate) enum Resolved {
    Page {
        placer: Placer,
        layouts: Vec<Layout>,
    },
    NotFound,
    Redirect(String),
}

/// The route table. Build it once, give it to the circuit hub as a service
/// (`CircuitHub::builder(..).service(routes)`), and serve it with [`page_router`](super::page_router).
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Routes {
    base: String,
    routes: Vec<Route>,
    /// The layouts and guards of the scope being built ([`group`](Self::group) pushes and pops).
    layouts: Vec<Layout>,
    guards: Vec<Guard>,
    not_found: Option<PageFactory>,
    not_found_layouts: Vec<Layout>,
    errors: Vec<PatternError>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("base", &self.base)
            .field(
                "routes",
                &self
                    .routes
                    .iter()
                    .map(|r| r.pattern.text())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// An empty table served at the site root.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves the app under `base` (`/notes-app`): patterns and [`href`](Self::href)s are written without it.
    pub fn base(mut self, base: &str) -> Self {
        self.base = base.trim_end_matches('/').to_owned();
        self
    }

    /// The browser path of app path `path`.
    pub fn href(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The base path ("" at the site root).
    pub fn base_path(&self) -> &str {
        &self.base
    }

    /// Wraps the pages added after this call (in this scope) in `layout`, inside the layouts already set.
    pub fn layout(
        mut self,
        layout: impl Fn(&mut LayoutContext<'_, '_>, Markup) -> Markup + Send + Sync + 'static,
    ) -> Self {
        self.layouts.push(Arc::new(layout));
        self
    }

    /// Runs `guard` before every route added after this call (in this scope).
    pub fn guard(
        mut self,
        guard: impl Fn(&RouteMatch<'_>) -> Result<(), Reject> + Send + Sync + 'static,
    ) -> Self {
        self.guards.push(Arc::new(guard));
        self
    }

    /// Routes `pattern` to page component `P`, whose props come from the route ([`RouteProps`]).
    pub fn page<P>(mut self, pattern: &str) -> Self
    where
        P: Component,
        P::Props: RouteProps,
    {
        let factory: PageFactory = Arc::new(page_factory::<P>);
        self.add(pattern, Target::Page(factory));
        self
    }

    /// Redirects `pattern` to app path `to`.
    pub fn redirect(mut self, pattern: &str, to: &str) -> Self {
        self.add(pattern, Target::Redirect(to.to_owned()));
        self
    }

    /// Adds the routes `build` adds, with the layouts and guards it sets applying to them only (nested
    /// layouts: they sit inside this scope's).
    pub fn group(mut self, build: impl FnOnce(Routes) -> Routes) -> Self {
        let (layouts, guards) = (self.layouts.clone(), self.guards.clone());
        self = build(self);
        self.layouts = layouts;
        self.guards = guards;
        self
    }

    /// The page shown when no route matches or a route rejects with [`Reject::NotFound`], inside the
    /// layouts set at this point. Without it, a plain "Not found" heading.
    pub fn not_found<P: Component<Props = ()>>(mut self) -> Self {
        self.not_found = Some(Arc::new(page_factory::<P>));
        self.not_found_layouts = self.layouts.clone();
        self
    }

    /// The patterns that could not be parsed (they match nothing); [`page_router`](super::page_router)
    /// panics at start-up when there are any, so a typo fails fast.
    pub fn errors(&self) -> &[PatternError] {
        &self.errors
    }

    fn add(&mut self, pattern: &str, target: Target) {
        match Pattern::parse(pattern) {
            Ok(pattern) => {
                self.routes.push(Route {
                    pattern,
                    layouts: self.layouts.clone(),
                    guards: self.guards.clone(),
                    target,
                });
                self.routes
                    .sort_by(|a, b| a.pattern.specificity(&b.pattern));
            }
            Err(error) => self.errors.push(error),
        }
    }

    /// The app path and query of browser path `uri` (`/base/notes?x` → `/notes?x`), or `None` outside the
    /// base.
    pub(crate) fn strip_base<'u>(&self, uri: &'u str) -> Option<&'u str> {
        if self.base.is_empty() {
            return Some(uri);
        }
        let rest = uri.strip_prefix(&self.base)?;
        match rest.as_bytes().first() {
            None => Some("/"),
            Some(b'/' | b'?' | b'#') => Some(rest),
            Some(_) => None,
        }
    }

    /// Resolves browser path `uri` (path, query, fragment) with `services`.
    pub(crate) fn resolve(&self, uri: &str, services: &Services) -> Resolved {
        let Some(target) = self.strip_base(uri) else {
            return Resolved::NotFound;
        };
        let target = target.split('#').next().unwrap_or("");
        let (path, query) = split_query(target);
        let path = if path.is_empty() { "/" } else { path };
        for route in &self.routes {
            let Some(params) = route.pattern.matches(path) else {
                continue;
            };
            let matched = RouteMatch {
                base: &self.base,
                path,
                target,
                params: &params,
                query: &query,
                services,
            };
            let outcome = route
                .guards
                .iter()
                .try_for_each(|guard| guard(&matched))
                .and_then(|()| match &route.target {
                    Target::Page(factory) => factory(&matched),
                    Target::Redirect(to) => Err(Reject::Redirect(self.href(to))),
                });
            return match outcome {
                Ok(placer) => Resolved::Page {
                    placer,
                    layouts: route.layouts.clone(),
                },
                Err(Reject::NotFound) => Resolved::NotFound,
                Err(Reject::Redirect(to)) => Resolved::Redirect(to),
            };
        }
        Resolved::NotFound
    }

    /// The not-found page and its layouts.
    pub(crate) fn not_found_page(&self, services: &Services) -> (Placer, Vec<Layout>) {
        let placer = self.not_found.as_ref().and_then(|factory| {
            let matched = RouteMatch {
                base: &self.base,
                path: "",
                target: "",
                params: &[],
                query: &[],
                services,
            };
            factory(&matched).ok()
        });
        let placer =
            placer.unwrap_or_else(|| Box::new(|cx, key| cx.child_keyed::<NotFound>(key, ())));
        (placer, self.not_found_layouts.clone())
    }
}

fn page_factory<P>(matched: &RouteMatch<'_>) -> Result<Placer, Reject>
where
    P: Component,
    P::Props: RouteProps,
{
    let props = P::Props::from_route(matched)?;
    Ok(Box::new(move |cx, key| {
        cx.child_keyed::<P>(key, props.clone())
    }))
}

/// The built-in not-found page.
struct NotFound;

impl Component for NotFound {
    type Props = ();
    fn create(_: &()) -> Self {
        NotFound
    }
    fn render(&self, _: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "Not found" } p { "There is no page at this address." } }
    }
}

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
