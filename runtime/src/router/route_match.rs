//! What a route's page, guard and parameter parsers see of a request ([`RouteMatch`]), and how they say
//! no ([`Reject`]).
//!
//! Invariant: nothing here panics on any input; a parameter that is missing or does not parse is
//! [`Reject::NotFound`], so a bad address is a 404, never an error page.

use std::str::FromStr;
use std::sync::Arc;

use tether_components::Services;

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

/// A guard: runs before a route's props are built.
pub type Guard = Arc<dyn Fn(&RouteMatch<'_>) -> Result<(), Reject> + Send + Sync>;
