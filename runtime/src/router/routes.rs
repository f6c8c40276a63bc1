//! [`Routes`]: the route table (patterns → page components, layouts, guards, redirects) and resolving a
//! path against it into a [`Resolved`] outcome.
//!
//! Invariants: resolving never panics on any input path; a parameter that does not parse, a guard that
//! says no, or no matching pattern all come out as [`Reject`] values, which the page handler turns into a
//! status (404) or a redirect, and the live router into the not-found page or a browser navigation.

use std::str::FromStr;
use std::sync::Arc;

use maud::{html, Markup};
use tether_components::{ChildSlot, Component, RenderContext, Services};

use super::pattern::{split_query, Pattern, PatternError};
use super::view::{LayoutContext, RouterView};
use crate::auth::{Auth, AuthOptions, CurrentUser, User};

/// Why a route did not produce a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Show the not-found page (status 404 on prerender).
    NotFound,
    /// Go to this browser path instead (a redirect on prerender, a replacing navigation when live).
    Redirect(String),
}

/// What a route's page, guard or parameter parser sees of the request: path, parameters, query, services
/// (with the [`CurrentUser`]).
#[derive(Debug)]
pub struct RouteMatch<'a> {
    pub(crate) base: &'a str,
    pub(crate) path: &'a str,
    pub(crate) target: &'a str,
    pub(crate) params: &'a [(String, String)],
    pub(crate) query: &'a [(String, String)],
    pub(crate) services: &'a Services,
}

impl RouteMatch<'_> {
    /// The path inside the app (without the router's base), without query.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The browser's path and query (with the base): the return URL for a login redirect.
    pub fn uri(&self) -> String {
        format!("{}{}", self.base, self.target)
    }

    /// Route parameter `name` parsed as `T`; a missing or unparsable parameter is [`Reject::NotFound`].
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T, Reject> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
            .ok_or(Reject::NotFound)
    }

    /// Query parameter `name` parsed as `T`: `Ok(None)` when absent, [`Reject::NotFound`] when present and
    /// unparsable.
    pub fn query<T: FromStr>(&self, name: &str) -> Result<Option<T>, Reject> {
        match self.query_str(name) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| Reject::NotFound),
        }
    }

    /// Query parameter `name` as text.
    pub fn query_str(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A service of the circuit or prerender.
    pub fn service<T: Clone + 'static>(&self) -> Option<T> {
        self.services.get()
    }

    /// The signed-in user (anonymous when no [`Auth`] is configured).
    pub fn user(&self) -> CurrentUser {
        self.services.get().unwrap_or_default()
    }

    /// The signed-in user, or a redirect to the login page that returns here: the guard for pages that
    /// need a user.
    pub fn require_user(&self) -> Result<Arc<User>, Reject> {
        self.user().get().ok_or_else(|| {
            let options = self
                .services
                .get::<Auth>()
                .map_or_else(AuthOptions::default, |auth| auth.options().clone());
            Reject::Redirect(options.login_url(&self.uri()))
        })
    }

    /// [`require_user`](Self::require_user), and the user must have `role` (else not found: the page's
    /// existence is not revealed).
    pub fn require_role(&self, role: &str) -> Result<Arc<User>, Reject> {
        let user = self.require_user()?;
        if user.roles.iter().any(|r| r == role) {
            Ok(user)
        } else {
            Err(Reject::NotFound)
        }
    }
}

/// Page props built from the matched route: parse parameters, check the user, load what must exist.
pub trait RouteProps: Sized {
    /// The props for this request, or why there is no page.
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject>;
}

impl RouteProps for () {
    fn from_route(_: &RouteMatch<'_>) -> Result<Self, Reject> {
        Ok(())
    }
}

/// A layout: wraps the page's markup (inner layouts first) in a shared shell.
pub type Layout = Arc<dyn Fn(&mut LayoutContext<'_, '_>, Markup) -> Markup + Send + Sync>;
/// A guard: runs before a route's props are built.
pub type Guard = Arc<dyn Fn(&RouteMatch<'_>) -> Result<(), Reject> + Send + Sync>;
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
