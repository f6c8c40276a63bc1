//! The signed-in user: who a circuit belongs to, as a component service, checked again on an interval.
//!
//! The application supplies a [`UserProvider`]: it reads a request's credentials (a session cookie, a
//! bearer token) and says who is signed in, and later whether that user's sign-in still holds. Give it to
//! the circuit hub with [`CircuitHubBuilder::auth`](crate::circuit::CircuitHubBuilder::auth) as an [`Auth`].
//!
//! # Lifecycle and invariants
//! - **Prerender**: the router's page handler (or your own, with [`Auth::current_user`]) asks the provider
//!   about the page request and provides a [`CurrentUser`] to the prerender.
//! - **Start**: `StartCircuit` asks the provider about the hub connection's request (the same cookies reach
//!   the negotiate and WebSocket requests), provides that [`CurrentUser`] to the circuit's components and
//!   records the circuit's user.
//! - **Reconnect**: `ConnectCircuit` is refused (the browser is told the circuit is gone and must reload)
//!   when the connection's user is not the circuit's user, by [`User::id`]; an anonymous circuit only
//!   accepts anonymous reconnects. A circuit never changes hands.
//! - **Revalidation**: every [`AuthOptions::revalidate_every`] (30 minutes by default) a signed-in
//!   circuit's user is passed to [`UserProvider::revalidate`]. When it answers `false` (the session was
//!   revoked or expired), the circuit's [`CurrentUser`] becomes anonymous and, as
//!   [`AuthOptions::on_revoked`] says, the browser is sent to the login page with a return URL, or the
//!   circuit ends. A revalidation task lives exactly as long as its circuit (ended by the closed handler).

mod session;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use maud::Markup;
use parking_lot::{Mutex, RwLock};

use crate::circuit::{CircuitHandle, CircuitHandler, CircuitId, HandlerError, Location};
use crate::router::encode_query_value;

pub use session::SessionStore;

/// A signed-in user, as the [`UserProvider`] describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// What identifies the user; two sign-ins are the same user when their ids are equal.
    pub id: String,
    /// The name to show.
    pub name: String,
    /// Role names, for [`authorized`] and route guards.
    pub roles: Vec<String>,
    /// The provider's handle on this sign-in (a session id), for [`UserProvider::revalidate`]. Never shown.
    pub session: String,
}

/// The user of the current circuit or prerender, a component service (`cx.service::<CurrentUser>()`).
/// Cheap to clone; clones of one circuit's value see it turn anonymous when revalidation fails.
#[derive(Clone, Default)]
pub struct CurrentUser {
    user: Arc<RwLock<Option<Arc<User>>>>,
}

impl fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.get();
        f.debug_tuple("CurrentUser")
            .field(&user.as_ref().map(|u| &u.id))
            .finish()
    }
}

impl CurrentUser {
    /// `user`, or anonymous for `None`.
    pub fn new(user: Option<User>) -> Self {
        CurrentUser {
            user: Arc::new(RwLock::new(user.map(Arc::new))),
        }
    }

    /// The signed-in user, if any.
    pub fn get(&self) -> Option<Arc<User>> {
        self.user.read().clone()
    }

    /// Whether someone is signed in.
    pub fn is_signed_in(&self) -> bool {
        self.user.read().is_some()
    }

    /// Whether the signed-in user has `role`.
    pub fn in_role(&self, role: &str) -> bool {
        self.user
            .read()
            .as_ref()
            .is_some_and(|u| u.roles.iter().any(|r| r == role))
    }

    fn sign_out(&self) {
        *self.user.write() = None;
    }
}

/// Renders `allowed` when the user is signed in and (when `role` is given) has that role, else `denied`:
/// the view helper for parts of a page only some users see. The server decides; nothing hidden is sent.
pub fn authorized(
    user: Option<&CurrentUser>,
    role: Option<&str>,
    allowed: impl FnOnce(&User) -> Markup,
    denied: impl FnOnce() -> Markup,
) -> Markup {
    let current = user.and_then(CurrentUser::get);
    match current {
        Some(user) if role.is_none_or(|role| user.roles.iter().any(|r| r == role)) => {
            allowed(&user)
        }
        _ => denied(),
    }
}

/// The credentials of one HTTP request: its cookies and `Authorization` header.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    headers: &'a HeaderMap,
}

impl<'a> Credentials<'a> {
    /// The credentials in `headers`.
    pub fn new(headers: &'a HeaderMap) -> Self {
        Credentials { headers }
    }

    /// The value of cookie `name`, read as everywhere else (`crate::request`).
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        crate::request::cookie(self.headers, name)
    }

    /// The token of an `Authorization: Bearer TOKEN` header.
    pub fn bearer(&self) -> Option<&'a str> {
        self.headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
    }
}

/// A boxed future, as [`UserProvider::revalidate`] returns.
pub type RevalidateFuture = Pin<Box<dyn Future<Output = bool> + Send>>;

/// What the application tells Tether about its users.
pub trait UserProvider: Send + Sync + 'static {
    /// The user signed in on this request, or `None` for an anonymous one. Runs on every page request,
    /// `StartCircuit` and `ConnectCircuit`: keep it to a lookup.
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<User>;

    /// Whether `user`'s sign-in still holds (the session exists and has not expired). Runs every
    /// [`AuthOptions::revalidate_every`] for each open circuit with a user.
    fn revalidate(&self, user: &User) -> RevalidateFuture;
}

/// What an open page does when its user's sign-in no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRevoked {
    /// Go to [`AuthOptions::login_path`] with the current path as the return URL (the default).
    #[default]
    RedirectToLogin,
    /// End the circuit (the page shows that it must be reloaded).
    EndCircuit,
}

/// Auth options, with defaults.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// How often an open circuit's user is revalidated. Default 30 minutes.
    pub revalidate_every: Duration,
    /// What happens when revalidation fails. Default [`OnRevoked::RedirectToLogin`].
    pub on_revoked: OnRevoked,
    /// The login page, for guards and [`OnRevoked::RedirectToLogin`]. Default `/login`.
    pub login_path: String,
    /// The query parameter that carries the return URL to the login page. Default `return`.
    pub return_param: String,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            revalidate_every: Duration::from_secs(30 * 60),
            on_revoked: OnRevoked::default(),
            login_path: "/login".to_owned(),
            return_param: "return".to_owned(),
        }
    }
}

impl AuthOptions {
    /// The login URL that returns to `back` (a path) after signing in.
    pub fn login_url(&self, back: &str) -> String {
        format!(
            "{}?{}={}",
            self.login_path,
            self.return_param,
            encode_query_value(back)
        )
    }
}

struct Tracked {
    user: Option<Arc<User>>,
    revalidation: Option<tokio::task::JoinHandle<()>>,
}

struct AuthInner {
    provider: Arc<dyn UserProvider>,
    options: AuthOptions,
    circuits: Mutex<HashMap<CircuitId, Tracked>>,
}

/// A [`UserProvider`] with its options, as the circuit hub uses it. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<AuthInner>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("options", &self.inner.options)
            .field("circuits", &self.inner.circuits.lock().len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// `provider` with the default options.
    pub fn new(provider: impl UserProvider) -> Self {
        Self::with_options(provider, AuthOptions::default())
    }

    /// `provider` with `options`.
    pub fn with_options(provider: impl UserProvider, options: AuthOptions) -> Self {
        Auth {
            inner: Arc::new(AuthInner {
                provider: Arc::new(provider),
                options,
                circuits: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The options.
    pub fn options(&self) -> &AuthOptions {
        &self.inner.options
    }

    /// The user of a request with `headers`, as a fresh [`CurrentUser`].
    pub fn current_user(&self, headers: &HeaderMap) -> CurrentUser {
        CurrentUser::new(self.inner.provider.authenticate(&Credentials::new(headers)))
    }

    /// How many circuits are tracked (with a user or anonymous).
    pub fn tracked_circuits(&self) -> usize {
        self.inner.circuits.lock().len()
    }

    /// Records a started circuit's user and starts revalidating it.
    pub(crate) fn circuit_started(
        &self,
        circuit: CircuitHandle,
        user: &CurrentUser,
        location: Location,
    ) {
        let signed_in = user.get();
        let revalidation = signed_in.clone().map(|signed_in| {
            let inner = self.inner.clone();
            let user = user.clone();
            let circuit = circuit.clone();
            tokio::spawn(revalidate(inner, circuit, signed_in, user, location))
        });
        self.inner.circuits.lock().insert(
            circuit.id(),
            Tracked {
                user: signed_in,
                revalidation,
            },
        );
    }

    /// Whether a connection with `headers` may take over circuit `id`: its user must be the circuit's.
    pub(crate) fn may_connect(&self, id: CircuitId, headers: &HeaderMap) -> bool {
        let now = self.inner.provider.authenticate(&Credentials::new(headers));
        let circuits = self.inner.circuits.lock();
        let Some(tracked) = circuits.get(&id) else {
            // Not started through this hub's auth (no such circuit): the registry answers.
            return true;
        };
        let same = tracked.user.as_ref().map(|u| &u.id) == now.as_ref().map(|u| &u.id);
        if !same {
            tracing::warn!(circuit = %id, "reconnect refused: the connection's user is not the circuit's user");
        }
        same
    }
}

impl CircuitHandler for Auth {
    fn on_circuit_closed(&self, circuit: &CircuitHandle) -> Result<(), HandlerError> {
        if let Some(tracked) = self.inner.circuits.lock().remove(&circuit.id()) {
            if let Some(task) = tracked.revalidation {
                task.abort();
            }
        }
        Ok(())
    }
}

async fn revalidate(
    inner: Arc<AuthInner>,
    circuit: CircuitHandle,
    signed_in: Arc<User>,
    user: CurrentUser,
    location: Location,
) {
    let mut ticks = tokio::time::interval(inner.options.revalidate_every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if !circuit.is_alive() {
            return;
        }
        if inner.provider.revalidate(&signed_in).await {
            continue;
        }
        tracing::info!(circuit = %circuit.id(), "the user's sign-in no longer holds");
        user.sign_out();
        if let Some(tracked) = inner.circuits.lock().get_mut(&circuit.id()) {
            tracked.user = None;
        }
        match inner.options.on_revoked {
            OnRevoked::RedirectToLogin => {
                let back = location.path();
                location.navigate(&inner.options.login_url(&back), true);
            }
            OnRevoked::EndCircuit => circuit.close(),
        }
        return;
    }
}

#[cfg(test)]
mod tests;
