//! Endpoint paths that match whatever their letter case, as ASP.NET Core routes them (`/ChatHub` reaches the
//! hub at `/chathub`). axum matches paths exactly and before any layer runs, so this wraps the finished app:
//! the request path is rewritten to the registered spelling before the app routes it, and the path the
//! client sent stays available to endpoint code (`OriginalUri`, which `HubContext::request_path` reads).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Uri;
use axum::response::Response;
use axum::Router;
use tower_service::Service;

/// The URI a client sent, kept on a request whose path [`ignore_path_case`] rewrote.
#[derive(Clone)]
pub(super) struct SentUri(pub(super) Uri);

/// Wraps `app` so that requests for the hubs and connection handlers at `paths` match whatever the letter
/// case of their path (ASCII case folding), as in ASP.NET Core: `POST /ChatHub/negotiate` and
/// `GET /CHATHUB?id=…` reach the endpoint served at `/chathub`. Other paths route exactly as before.
/// Call it last, on the whole app router (a layer would run after routing, too late to change the path).
///
/// ```no_run
/// # let hub = tether::hub::Hub::builder().build().unwrap();
/// let app = axum::Router::new().merge(hub.router("/chathub"));
/// let app = tether::hub::ignore_path_case(app, ["/chathub"]);
/// ```
pub fn ignore_path_case<I, P>(app: Router, paths: I) -> Router
where
    I: IntoIterator<Item = P>,
    P: AsRef<str>,
{
    let mut spellings: Vec<String> = Vec::new();
    for path in paths {
        let base = path.as_ref().trim_end_matches('/');
        spellings.push(if base.is_empty() {
            "/".into()
        } else {
            base.into()
        });
        spellings.push(format!("{base}/negotiate"));
    }
    let spellings: Arc<[String]> = spellings.into();
    Router::new().fallback(move |request: Request| {
        let mut app = app.clone();
        let request = canonical(request, &spellings);
        async move {
            let response: Response = app.call(request).await.unwrap_or_else(|e| match e {});
            response
        }
    })
}

/// The request with its path replaced by the registered spelling it matches, if it matches one in another case.
fn canonical(mut request: Request, spellings: &[String]) -> Request {
    let path = request.uri().path();
    let Some(spelling) = spellings
        .iter()
        .find(|s| s.as_str() != path && s.eq_ignore_ascii_case(path))
    else {
        return request;
    };
    let original = request.uri().clone();
    let path_and_query = match original.query() {
        Some(query) => format!("{spelling}?{query}"),
        None => spelling.clone(),
    };
    let mut parts = original.clone().into_parts();
    let Ok(rewritten) = path_and_query.parse() else {
        return request;
    };
    parts.path_and_query = Some(rewritten);
    let Ok(uri) = Uri::from_parts(parts) else {
        return request;
    };
    request.extensions_mut().insert(SentUri(original));
    *request.uri_mut() = uri;
    request
}
