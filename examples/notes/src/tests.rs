//! The pages on the headless harness, and the accounts.

use tether::auth::{CurrentUser, User};
use tether::circuit::Location;
use tether::router::RouterView;
use tether_components::testing::Harness;
use tether_components::Services;

use super::*;

fn services(uri: &str, user: Option<&str>) -> Services {
    Services::new()
        .with(routes(""))
        .with(NoteStore::seeded())
        .with(Location::detached(uri))
        .with(CurrentUser::new(user.map(|name| User {
            id: name.into(),
            name: name.into(),
            roles: vec![],
            session: String::new(),
        })))
}

#[test]
fn the_list_links_every_note_and_marks_its_nav_link() {
    let h = Harness::mount_with::<RouterView>((), &services("/notes", None));
    let html = h.html();
    for id in 1..=3 {
        assert!(
            html.contains(&format!(r#"<a href="/notes/{id}">"#)),
            "{html}"
        );
    }
    assert!(
        html.contains(r#"<a href="/notes" class="active" aria-current="page">"#),
        "{html}"
    );
    assert!(html.contains(r#"id="sign-in""#), "{html}");
}

#[test]
fn a_note_has_its_title_in_the_heading_and_the_user_is_shown() {
    let h = Harness::mount_with::<RouterView>((), &services("/notes/2", Some("demo")));
    let html = h.html();
    assert!(html.contains("<h1>Shopping list</h1>"), "{html}");
    assert!(html.contains(r#"<span id="user">demo</span>"#), "{html}");
}

#[test]
fn the_new_note_form_validates_and_stores() {
    let services = services("/notes/new", Some("demo"));
    let store = services.get::<NoteStore>().unwrap();
    let mut h = Harness::mount_with::<RouterView>((), &services);
    h.submit("#new-note", serde_json::json!({}));
    let html = h.html();
    assert!(html.contains("Give the note a title."), "{html}");
    assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    h.input("#title", &"x".repeat(MAX_TITLE + 1));
    assert!(h.html().contains("80 characters or fewer"));
    h.input("#title", "Shopping list");
    h.submit("#new-note", serde_json::json!({}));
    h.run_pending();
    h.flush();
    assert!(h.html().contains("exists already"), "{}", h.html());
    h.input("#title", "A new one");
    h.input("#body", "text");
    h.submit("#new-note", serde_json::json!({}));
    h.run_pending();
    h.flush();
    assert_eq!(store.get(4).map(|n| n.title), Some("A new one".to_owned()));
}

#[test]
fn passwords_are_checked_against_argon2_hashes() {
    let accounts = Accounts::demo();
    assert!(accounts.verify("demo", "demo"));
    assert!(!accounts.verify("demo", "wrong"));
    assert!(!accounts.verify("nobody", "demo"));
    assert!(hash_password("x").starts_with("$argon2id$"));
}
