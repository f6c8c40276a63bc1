//! Route matching, typed parameters, guards, layouts and live navigation, on the headless harness.

use maud::{html, Markup};
use tether_components::testing::Harness;
use tether_components::{Component, RenderContext, Services};

use super::routes::Resolved;
use super::*;
use crate::auth::{CurrentUser, User};
use crate::circuit::Location;

#[derive(Clone, PartialEq, Debug)]
struct NoteProps {
    id: u64,
    tab: Option<u8>,
}

impl RouteProps for NoteProps {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        let id: u64 = route.param("id")?;
        if id > 100 {
            return Err(Reject::NotFound); // "no such note"
        }
        Ok(NoteProps {
            id,
            tab: route.query("tab")?,
        })
    }
}

struct Note;
impl Component for Note {
    type Props = NoteProps;
    fn create(_: &NoteProps) -> Self {
        Note
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let props = cx.props();
        html! { h1 { "note " (props.id) } @if let Some(tab) = props.tab { p.tab { (tab) } } }
    }
}

struct List;
impl Component for List {
    type Props = ();
    fn create(_: &()) -> Self {
        List
    }
    fn render(&self, _: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "list" } }
    }
}

#[derive(Clone, PartialEq)]
struct SignedIn(String);
impl RouteProps for SignedIn {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        Ok(SignedIn(route.require_user()?.name.clone()))
    }
}

struct NewNote;
impl Component for NewNote {
    type Props = SignedIn;
    fn create(_: &SignedIn) -> Self {
        NewNote
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "new note by " (cx.props().0) } }
    }
}

fn routes() -> Routes {
    Routes::new()
        .layout(|cx, page| {
            html! {
                nav { (cx.nav_link("/notes", html! { "Notes" })) (cx.nav_link("/notes/new", html! { "New" })) }
                main { (page) }
            }
        })
        .redirect("/", "/notes")
        .page::<List>("/notes")
        .group(|admin| {
            admin
                .layout(|_, page| html! { section.admin { (page) } })
                .guard(|route| route.require_role("admin").map(drop))
                .page::<List>("/admin")
        })
        .page::<NewNote>("/notes/new")
        .page::<Note>("/notes/{id}")
}

fn services(routes: Routes, uri: &str, user: Option<&str>) -> (Services, Location) {
    let location = Location::detached(uri);
    let user = CurrentUser::new(user.map(|name| User {
        id: name.into(),
        name: name.into(),
        roles: if name == "root" {
            vec!["admin".into()]
        } else {
            vec![]
        },
        session: String::new(),
    }));
    let services = Services::new()
        .with(routes)
        .with(location.clone())
        .with(user);
    (services, location)
}

/// The harness's HTML without child component markers.
fn html_of(h: &Harness) -> String {
    h.html().replace("<!--t:c-->", "").replace("<!--/t-->", "")
}

fn outcome(routes: &Routes, uri: &str, user: Option<&str>) -> String {
    let (services, _) = services(routes.clone(), uri, user);
    match routes.resolve(uri, &services) {
        Resolved::Page { .. } => "page".into(),
        Resolved::NotFound => "404".into(),
        Resolved::Redirect(to) => format!("-> {to}"),
    }
}

#[test]
fn paths_resolve_to_pages_redirects_and_not_found() {
    let routes = routes();
    assert_eq!(outcome(&routes, "/", None), "-> /notes");
    assert_eq!(outcome(&routes, "/notes", None), "page");
    assert_eq!(outcome(&routes, "/notes/", None), "page");
    assert_eq!(outcome(&routes, "/notes/7", None), "page");
    assert_eq!(outcome(&routes, "/notes/7?tab=2#x", None), "page");
    assert_eq!(outcome(&routes, "/nothing", None), "404");
    assert_eq!(outcome(&routes, "/notes/7/8", None), "404");
}

#[test]
fn bad_parameters_are_not_found_never_a_panic() {
    let routes = routes();
    for uri in [
        "/notes/abc",
        "/notes/-1",
        "/notes/101",
        "/notes/99999999999999999999999",
        "/notes/%FF",
        "/notes/7?tab=300",
        "/notes/7?tab=x",
    ] {
        assert_eq!(outcome(&routes, uri, None), "404", "{uri}");
    }
}

#[test]
fn guards_redirect_anonymous_users_to_login_with_a_return_url() {
    let routes = routes();
    assert_eq!(
        outcome(&routes, "/notes/new", None),
        "-> /login?return=/notes/new"
    );
    assert_eq!(outcome(&routes, "/notes/new", Some("ann")), "page");
    assert_eq!(outcome(&routes, "/admin", None), "-> /login?return=/admin");
    assert_eq!(outcome(&routes, "/admin", Some("ann")), "404");
    assert_eq!(outcome(&routes, "/admin", Some("root")), "page");
}

#[test]
fn a_base_path_prefixes_links_and_redirects() {
    let routes = routes().base("/app");
    assert_eq!(outcome(&routes, "/app", None), "-> /app/notes");
    assert_eq!(outcome(&routes, "/app/notes/3", None), "page");
    assert_eq!(outcome(&routes, "/application/notes", None), "404");
    assert_eq!(outcome(&routes, "/notes", None), "404");
    assert_eq!(routes.href("/notes/3"), "/app/notes/3");
}

#[test]
fn invalid_patterns_are_reported() {
    let routes = Routes::new()
        .page::<List>("/a/{*rest}/b")
        .page::<List>("nope");
    assert_eq!(routes.errors().len(), 2);
}

#[test]
fn the_router_renders_layouts_nav_links_and_swaps_pages_on_navigation() {
    let (services, location) = services(routes(), "/notes", Some("ann"));
    let mut h = Harness::mount_with::<RouterView>((), &services);
    let html = html_of(&h);
    assert!(
        html.contains(r#"<a href="/notes" class="active" aria-current="page">Notes</a>"#),
        "{html}"
    );
    assert!(html.contains(r#"<a href="/notes/new">New</a>"#), "{html}");
    assert!(html.contains("<main><h1>list</h1></main>"), "{html}");

    location.changed("http://h/notes/5?tab=1", true);
    h.flush();
    let html = html_of(&h);
    assert!(
        html.contains("<h1>note 5</h1><p class=\"tab\">1</p>"),
        "{html}"
    );
    assert!(!html.contains("active"), "{html}");

    location.changed("http://h/notes/new", true);
    h.flush();
    assert!(html_of(&h).contains("new note by ann"));
    assert!(html_of(&h).contains(r#"<a href="/notes/new" class="active" aria-current="page">"#));

    location.changed("http://h/notes/zzz", true);
    h.flush();
    assert!(
        html_of(&h).contains("<h1>Not found</h1>"),
        "{}",
        html_of(&h)
    );
}

#[test]
fn nested_layouts_wrap_inner_first() {
    let (services, _) = services(routes(), "/admin", Some("root"));
    let h = Harness::mount_with::<RouterView>((), &services);
    assert!(
        html_of(&h).contains("<main><section class=\"admin\"><h1>list</h1></section></main>"),
        "{}",
        html_of(&h)
    );
}

#[test]
fn nav_links_match_exactly_or_by_prefix() {
    let active = |current, href, matching| {
        nav_link(current, href, matching, html! {})
            .into_string()
            .contains("aria-current")
    };
    assert!(active("/notes?x=1", "/notes", NavMatch::Exact));
    assert!(active("/notes/", "/notes", NavMatch::Exact));
    assert!(!active("/notes/3", "/notes", NavMatch::Exact));
    assert!(active("/notes/3", "/notes", NavMatch::Prefix));
    assert!(!active("/notesx", "/notes", NavMatch::Prefix));
}
