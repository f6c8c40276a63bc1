//! Signing in and out: plain HTTP handlers, because only an HTTP response can set the session cookie.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tether::auth::{Credentials, User};
use tether::router::encode_query_value;

use crate::App;

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(cookie) = cookie {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// A return URL is only followed when it is a path on this site (no `//host`, no scheme).
fn local_path(back: &str) -> Option<&str> {
    (back.starts_with('/') && !back.starts_with("//") && !back.contains('\\')).then_some(back)
}

/// The value of `name` in a form body.
fn form_field(body: &str, name: &str) -> String {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| decode(value))
        .unwrap_or_default()
}

fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /login`: checks the password; on success a session cookie and the return URL, else the login
/// page again with the message.
pub(crate) async fn sign_in(app: App, _headers: HeaderMap, body: String) -> Response {
    let user = form_field(&body, "user");
    let password = form_field(&body, "password");
    let back = form_field(&body, "return");
    let accounts = app.accounts.clone();
    let (name, secret) = (user.clone(), password);
    // Argon2 is deliberately slow: keep it off the async workers.
    let valid = tokio::task::spawn_blocking(move || accounts.verify(&name, &secret))
        .await
        .unwrap_or(false);
    if !valid {
        tracing::info!("sign-in refused");
        let to = format!(
            "{}?return={}&user={}&failed=1",
            app.routes.href("/login"),
            encode_query_value(&back),
            encode_query_value(&user)
        );
        return see_other(&to, None);
    }
    let token = app.sessions.sign_in(User {
        id: user.clone(),
        name: user,
        roles: vec!["writer".to_owned()],
        session: String::new(),
    });
    let to = local_path(&back)
        .map(str::to_owned)
        .unwrap_or_else(|| app.routes.href("/notes"));
    see_other(&to, Some(app.sessions.set_cookie(&token)))
}

/// `GET /logout`: ends the session (open pages notice at their next revalidation) and goes to the list.
pub(crate) async fn sign_out(app: App, headers: HeaderMap) -> Response {
    if let Some(token) = app.sessions.token(&Credentials::new(&headers)) {
        app.sessions.sign_out(token);
    }
    see_other(
        &app.routes.href("/notes"),
        Some(app.sessions.clear_cookie()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_return_urls_are_followed() {
        assert_eq!(local_path("/notes/new"), Some("/notes/new"));
        assert_eq!(local_path("//evil.example"), None);
        assert_eq!(local_path("https://evil.example"), None);
        assert_eq!(local_path("/\\evil"), None);
    }

    #[test]
    fn form_fields_are_decoded() {
        let body = "user=de+mo&password=a%26b&return=%2Fnotes%2Fnew";
        assert_eq!(form_field(body, "user"), "de mo");
        assert_eq!(form_field(body, "password"), "a&b");
        assert_eq!(form_field(body, "return"), "/notes/new");
        assert_eq!(form_field(body, "missing"), "");
    }
}
