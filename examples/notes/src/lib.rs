//! Run alone with `cargo run -p notes`, or see it at `/notes-app` in the showcase
//! (`cargo run --release -p showcase`).
//!
//! A multi-page app in one circuit: a router with a layout and typed parameters (`/notes/{id}`), live
//! navigation between pages, a validated form (`/notes/new`, for signed-in users only) and cookie sessions
//! with Argon2-hashed passwords (`/login`, `/logout`; demo account `demo` / `demo`).

mod account;
pub mod attach;
pub mod big;
pub mod files;
pub mod pages;
mod store;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use showcase_kit::{demo_script, tether_scripts, Server, STYLESHEET_PATH};
use tether::auth::{Auth, AuthOptions, OnRevoked, SessionStore};
use tether::circuit::CircuitHub;
use tether::router::{page_route, page_router, Document, Routes};

pub use pages::{NewNoteModel, MAX_TITLE};
pub use store::{hash_password, Accounts, Note, NoteStore};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "notes_session";

/// The route table of the app served under `base` ("" at the site root).
pub fn routes(base: &str) -> Routes {
    Routes::new()
        .base(base)
        .layout(pages::layout)
        .redirect("/", "/notes")
        .page::<pages::NotesList>("/notes")
        .page::<pages::NewNote>("/notes/new")
        .page::<pages::NoteView>("/notes/{id}")
        .page::<pages::Login>("/login")
        .page::<big::Stress>("/stress")
        .page::<big::StatsPage>("/stats")
        .not_found::<pages::NotFoundPage>()
}

/// What the login and logout handlers share.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) routes: Routes,
    pub(crate) sessions: SessionStore,
    pub(crate) accounts: Accounts,
}

/// How often open pages check their sign-in: `NOTES_REVALIDATE_MS`, default 30 minutes.
fn revalidate_every() -> Duration {
    std::env::var("NOTES_REVALIDATE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(
            AuthOptions::default().revalidate_every,
            Duration::from_millis,
        )
}

/// What an open page does when its sign-in is revoked: `NOTES_ON_REVOKED=end-circuit` ends the circuit
/// (the page shows the error bar), anything else goes to the login page.
fn on_revoked() -> OnRevoked {
    match std::env::var("NOTES_ON_REVOKED").as_deref() {
        Ok("end-circuit") => OnRevoked::EndCircuit,
        _ => OnRevoked::RedirectToLogin,
    }
}

/// Installs the app (components, services, auth) into `server`; returns its routes to mount at `base`.
pub fn install(server: &mut Server, base: &str) -> Router<CircuitHub> {
    let routes = routes(base);
    tether::router::register(server.components());
    let sessions = SessionStore::new(SESSION_COOKIE, Duration::from_secs(8 * 60 * 60));
    let auth = Auth::with_options(
        sessions.clone(),
        AuthOptions {
            revalidate_every: revalidate_every(),
            on_revoked: on_revoked(),
            login_path: routes.href("/login"),
            ..AuthOptions::default()
        },
    );
    server.service(routes.clone());
    server.service(NoteStore::seeded());
    server.service(
        files::AttachmentStore::from_env().expect("the attachments folder can be created"),
    );
    server.configure(move |hub| hub.auth(auth));
    let app = App {
        routes: routes.clone(),
        sessions,
        accounts: Accounts::demo(),
    };
    let login = page_route(&routes, document).post({
        let app = app.clone();
        move |headers, body| account::sign_in(app.clone(), headers, body)
    });
    let logout = get(move |headers| account::sign_out(app.clone(), headers));
    page_router(&routes, document)
        .route("/login", login)
        .route("/logout", logout)
}

/// The HTML document around the router's region.
fn document(page: Document<'_>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Notes · Tether" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                (page.body)
                (demo_script())
                (tether_scripts(page.hub, "", "{}"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
