//! The page handler: one axum handler that prerenders any route of the app's [`Routes`].
//!
//! For each GET it resolves the browser path with the request's user: a page is prerendered into the
//! app's document with status 200, an unknown path or a rejected parameter into the not-found page with
//! status 404, and a redirect is answered `303 See Other` with its `Location` (no page rendered). A path
//! with a trailing slash is sent to the one without (`308`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use maud::Markup;

use super::routes::{Resolved, Routes, ROUTER};
use crate::auth::{Auth, CurrentUser};
use crate::circuit::{CircuitHub, PageRequest, PAGE_CACHE_CONTROL};

/// What the app's document function gets to build the whole HTML page around the router.
#[derive(Debug)]
pub struct Document<'a> {
    /// The circuit hub (for its boot script URL).
    pub hub: &'a CircuitHub,
    /// The router's region (prerendered page inside its layouts), to put in `<body>`.
    pub body: Markup,
    /// The response status: 404 for the not-found page.
    pub status: StatusCode,
    /// The request.
    pub request: &'a PageRequest,
}

type DocumentFn = Arc<dyn Fn(Document<'_>) -> Markup + Send + Sync>;

/// The page routes of `routes`' app: `/` and every path below it answered by the router (mount the
/// result at the routes' base with `Router::nest`, or merge it at the site root). `document` wraps the
/// router's region into the page (head, stylesheet, the boot script).
///
/// The routes must also be a service of the circuit hub (`.service(routes.clone())`).
///
/// # Panics
/// When a route pattern of `routes` is invalid ([`Routes::errors`]): at start-up, not on a request.
pub fn page_router(
    routes: &Routes,
    document: impl Fn(Document<'_>) -> Markup + Send + Sync + 'static,
) -> axum::Router<CircuitHub> {
    let serve = page_route(routes, document);
    axum::Router::new()
        .route("/", serve.clone())
        .route("/{*path}", serve)
}

/// The GET handler of [`page_router`] alone, to add other methods to a path the router also serves
/// (`page_route(..).post(sign_in)` for `/login`).
///
/// # Panics
/// As [`page_router`].
pub fn page_route(
    routes: &Routes,
    document: impl Fn(Document<'_>) -> Markup + Send + Sync + 'static,
) -> MethodRouter<CircuitHub> {
    if let Some(error) = routes.errors().first() {
        panic!("{error}");
    }
    let document: DocumentFn = Arc::new(document);
    get(move |State(hub): State<CircuitHub>, request: PageRequest| {
        let document = document.clone();
        async move { serve_page(&hub, &request, &document) }
    })
}

fn serve_page(hub: &CircuitHub, request: &PageRequest, document: &DocumentFn) -> Response {
    let Some(routes) = hub.shared.services.get::<Routes>() else {
        tracing::error!(
            "the router's page handler runs but the circuit hub has no `Routes` service"
        );
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the circuit hub has no `Routes` service\n",
        )
            .into_response();
    };
    let user = hub
        .shared
        .services
        .get::<Auth>()
        .map_or_else(CurrentUser::default, |auth| {
            auth.current_user(request.headers())
        });
    let uri = request.original_uri();
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    // One address per page: `/notes/` is sent to `/notes` (relative links and the hub path then resolve alike).
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let canonical = format!(
            "{}{}",
            path.trim_end_matches('/'),
            uri.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        let canonical = if canonical.is_empty() {
            "/".to_owned()
        } else {
            canonical
        };
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, canonical)],
        )
            .into_response();
    }
    let mut services = hub.shared.services.clone();
    services.insert(user.clone());
    let status = match routes.resolve(target, &services) {
        Resolved::Redirect(to) => {
            return (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, to.as_str()),
                    (header::CACHE_CONTROL, PAGE_CACHE_CONTROL),
                ],
            )
                .into_response()
        }
        Resolved::NotFound => StatusCode::NOT_FOUND,
        Resolved::Page { .. } => StatusCode::OK,
    };
    let mut page = hub.page();
    page.provide(request.location()).provide(user);
    let body = match page.root(ROUTER, &()) {
        Ok(markup) => maud::html! { (markup) },
        Err(error) => return error.into_response(),
    };
    let html = document(Document {
        hub,
        body,
        status,
        request,
    });
    let mut response = page.respond(html);
    *response.status_mut() = status;
    response
}
