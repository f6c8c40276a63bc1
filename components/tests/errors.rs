//! Failures: error boundaries, fatal errors that end only their own renderer, unrenderable markup.

mod support;

use maud::{html, Markup};
use serde_json::json;
use support::*;
use tether_components::testing::Harness;
use tether_components::{
    BoundaryProps, Component, ComponentRegistry, ErrorBoundary, EventError, RenderContext, Renderer,
};

struct Fragile {
    broken: bool,
}

impl Component for Fragile {
    type Props = ();

    fn create(_: &()) -> Self {
        Fragile { broken: false }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        if self.broken {
            panic!("cannot draw");
        }
        html! {
            button #break t-click=(cx.on_click(|this: &mut Self, _| this.broken = true)) { "break" }
            button #throw t-click=(cx.on_click(|_: &mut Self, _| panic!("handler blew up"))) { "throw" }
        }
    }
}

fn fallback(message: &str) -> Markup {
    html! { p.error { "Something went wrong: " (message) } }
}

struct Page;

impl Component for Page {
    type Props = ();

    fn create(_: &()) -> Self {
        Page
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            h1 { "Page" }
            (cx.child::<ErrorBoundary<Fragile>>(BoundaryProps { props: (), fallback }))
            (cx.child::<Counter>(0))
        }
    }
}

#[test]
fn boundary_shows_fallback_for_render_panics() {
    let mut h = Harness::mount::<Page>(());
    h.click("#break");
    assert!(
        h.html()
            .contains(r#"<p class="error">Something went wrong: "#),
        "{}",
        h.html()
    );
    assert!(h.html().contains("cannot draw"));
    // The rest of the page still works.
    h.click("#increment");
    assert!(h.html().contains("Count: 1"));
    assert!(h.renderer().failure().is_none());
}

#[test]
fn boundary_catches_handler_panics() {
    let mut h = Harness::mount::<Page>(());
    h.click("#throw");
    assert!(h.html().contains("handler blew up"), "{}", h.html());
    // The failed child's handlers are gone with it.
    assert!(h.dom().select("#break").is_none());
}

#[test]
fn uncaught_failure_ends_only_its_renderer() {
    let mut failing = Harness::mount::<Fragile>(());
    let mut other = Harness::mount::<Counter>(0);
    let id: u64 = failing
        .dom()
        .attribute(failing.find("#throw"), "t-click")
        .unwrap()
        .parse()
        .unwrap();
    let err = failing
        .renderer()
        .dispatch_event(id, "click", &json!({}))
        .unwrap_err();
    let EventError::Failed(failure) = &err else {
        panic!("{err:?}")
    };
    assert!(failure.message().contains("Fragile") && failure.message().contains("handler blew up"));
    // Every later call reports the same failure.
    assert!(failing.renderer().render().is_err());
    assert!(matches!(
        failing.renderer().dispatch_event(id, "click", &json!({})),
        Err(EventError::Failed(_))
    ));
    other.click("#increment");
    assert!(other.html().contains("Count: 1"));
}

struct BadTable;

impl Component for BadTable {
    type Props = ();

    fn create(_: &()) -> Self {
        BadTable
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { table { tr { td { "1" } } } }
    }
}

#[test]
fn table_rows_without_tbody_are_refused_with_advice() {
    let mut r = Renderer::new(std::sync::Arc::new(ComponentRegistry::new()));
    let err = r
        .mount_root_component::<BadTable>(())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("BadTable") && err.contains("write <tbody>"),
        "{err}"
    );
}
