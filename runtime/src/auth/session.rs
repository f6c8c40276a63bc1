//! [`SessionStore`]: in-memory cookie sessions, a ready [`UserProvider`].
//!
//! A session is a random 256-bit token (base64url) mapped to a [`User`] and an expiry. The token travels
//! in an `HttpOnly`, `SameSite=Lax` cookie ([`SessionStore::set_cookie`]); it is never logged. Sessions
//! live in this process's memory: a restart signs everyone out, and several server processes need a
//! shared store (write your own provider over it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use parking_lot::Mutex;

use super::{Credentials, RevalidateFuture, User, UserProvider};

struct Session {
    user: User,
    expires: Instant,
}

/// In-memory sessions keyed by a cookie. Cheap to clone (clones share the sessions).
#[derive(Clone)]
pub struct SessionStore {
    cookie: Arc<str>,
    lifetime: Duration,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("cookie", &self.cookie)
            .field("lifetime", &self.lifetime)
            .field("sessions", &self.sessions.lock().len())
            .finish()
    }
}

impl SessionStore {
    /// Sessions in cookie `cookie` that expire `lifetime` after sign-in.
    pub fn new(cookie: &str, lifetime: Duration) -> Self {
        SessionStore {
            cookie: cookie.into(),
            lifetime,
            sessions: Arc::default(),
        }
    }

    /// Signs `user` in (their `session` field is replaced by the new token) and returns the token.
    pub fn sign_in(&self, mut user: User) -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        user.session.clone_from(&token);
        let mut sessions = self.sessions.lock();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            token.clone(),
            Session {
                user,
                expires: now + self.lifetime,
            },
        );
        token
    }

    /// Ends the session with `token`; returns whether there was one.
    pub fn sign_out(&self, token: &str) -> bool {
        self.sessions.lock().remove(token).is_some()
    }

    /// Ends every session of user `id` (a password change, an administrator's revocation).
    pub fn sign_out_user(&self, id: &str) -> usize {
        let mut sessions = self.sessions.lock();
        let before = sessions.len();
        sessions.retain(|_, s| s.user.id != id);
        before - sessions.len()
    }

    /// The session token in a request's cookie, if any.
    pub fn token<'a>(&self, credentials: &Credentials<'a>) -> Option<&'a str> {
        credentials.cookie(&self.cookie)
    }

    /// The `Set-Cookie` value that stores `token`.
    pub fn set_cookie(&self, token: &str) -> String {
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
            self.cookie,
            self.lifetime.as_secs()
        )
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
            self.cookie
        )
    }

    fn lookup(&self, token: &str) -> Option<User> {
        let sessions = self.sessions.lock();
        let session = sessions.get(token)?;
        (session.expires > Instant::now()).then(|| session.user.clone())
    }
}

impl UserProvider for SessionStore {
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<User> {
        self.lookup(self.token(credentials)?)
    }

    fn revalidate(&self, user: &User) -> RevalidateFuture {
        let valid = self.lookup(&user.session).is_some_and(|u| u.id == user.id);
        Box::pin(async move { valid })
    }
}
