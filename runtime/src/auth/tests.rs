//! Sessions, credentials, the view helper, and revalidation with a short interval.

use std::time::Duration;

use axum::http::HeaderMap;
use maud::html;

use super::*;

fn user(id: &str) -> User {
    User {
        id: id.into(),
        name: id.to_uppercase(),
        roles: vec!["writer".into()],
        session: String::new(),
    }
}

fn cookie_headers(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, value.parse().unwrap());
    headers
}

#[test]
fn sessions_authenticate_until_signed_out() {
    let store = SessionStore::new("sid", Duration::from_secs(60));
    let token = store.sign_in(user("ann"));
    let headers = cookie_headers(&format!("other=1; sid={token}"));
    let found = store.authenticate(&Credentials::new(&headers)).unwrap();
    assert_eq!((found.id.as_str(), found.session == token), ("ann", true));
    assert!(store.set_cookie(&token).contains("HttpOnly"));
    assert!(store.sign_out(&token));
    assert!(store.authenticate(&Credentials::new(&headers)).is_none());
    assert!(store
        .authenticate(&Credentials::new(&cookie_headers("sid=forged")))
        .is_none());
}

#[test]
fn expired_sessions_do_not_authenticate() {
    let store = SessionStore::new("sid", Duration::ZERO);
    let token = store.sign_in(user("ann"));
    let headers = cookie_headers(&format!("sid={token}"));
    assert!(store.authenticate(&Credentials::new(&headers)).is_none());
}

#[test]
fn bearer_tokens_are_read() {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
    assert_eq!(Credentials::new(&headers).bearer(), Some("abc"));
}

#[test]
fn authorized_renders_by_role() {
    let ann = CurrentUser::new(Some(user("ann")));
    let show = |current: Option<&CurrentUser>, role| {
        authorized(current, role, |u| html! { (u.name) }, || html! { "no" }).into_string()
    };
    assert_eq!(show(Some(&ann), None), "ANN");
    assert_eq!(show(Some(&ann), Some("writer")), "ANN");
    assert_eq!(show(Some(&ann), Some("admin")), "no");
    assert_eq!(show(None, None), "no");
    assert_eq!(show(Some(&CurrentUser::default()), None), "no");
}

#[test]
fn reconnects_by_another_user_are_refused() {
    let store = SessionStore::new("sid", Duration::from_secs(60));
    let auth = Auth::new(store.clone());
    let ann = cookie_headers(&format!("sid={}", store.sign_in(user("ann"))));
    let ann_again = cookie_headers(&format!("sid={}", store.sign_in(user("ann"))));
    let bob = cookie_headers(&format!("sid={}", store.sign_in(user("bob"))));
    let id = crate::circuit::CircuitSecret::generate().id();
    auth.inner.circuits.lock().insert(
        id,
        Tracked {
            user: auth.current_user(&ann).get(),
            revalidation: None,
        },
    );
    assert!(auth.may_connect(id, &ann));
    assert!(
        auth.may_connect(id, &ann_again),
        "same user, another session"
    );
    assert!(!auth.may_connect(id, &bob));
    assert!(!auth.may_connect(id, &HeaderMap::new()), "signed out");
}
