//! The host-provided environment ([`Services`]) and failures in `create`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;
use tether_components::testing::Harness;
use tether_components::{
    BoundaryProps, Component, ComponentRegistry, Context, ErrorBoundary, MountError, RenderContext,
    Renderer, Services,
};

/// An application service: a shared counter of "posts", as a chat room or a database would be.
#[derive(Clone, Default)]
struct Board {
    posts: Arc<AtomicU32>,
}

/// Another service, a plain value.
#[derive(Clone)]
struct Greeting(&'static str);

/// Reads the greeting in init, keeps the board for its click handler, and renders a child that reads
/// the board on its own.
struct Poster {
    greeting: Option<Greeting>,
    board: Option<Board>,
}

impl Component for Poster {
    type Props = ();

    fn create(_: &()) -> Self {
        Poster {
            greeting: None,
            board: None,
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.greeting = cx.service::<Greeting>();
        self.board = cx.service::<Board>();
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        // A handler can also capture what the render context gives.
        let board = cx.service::<Board>();
        html! {
            p #greeting { (self.greeting.as_ref().map_or("none", |g| g.0)) }
            button #post t-click=(cx.on_click(move |this: &mut Self, _| {
                if let Some(board) = &board {
                    board.posts.fetch_add(1, Ordering::SeqCst);
                }
                let _ = &this.board;
            })) { "Post" }
            (cx.child::<PostCount>(()))
        }
    }
}

struct PostCount;

impl Component for PostCount {
    type Props = ();

    fn create(_: &()) -> Self {
        PostCount
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let posts = cx
            .service::<Board>()
            .map(|b| b.posts.load(Ordering::SeqCst));
        html! { span #posts { (posts.map_or("no board".to_owned(), |n| n.to_string())) } }
    }
}

#[test]
fn components_read_services_the_host_provided() {
    let board = Board::default();
    let services = Services::new().with(board.clone()).with(Greeting("hello"));
    let mut h = Harness::mount_with::<Poster>((), &services);
    assert_eq!(h.dom().text(h.find("#greeting")), "hello");
    assert_eq!(h.dom().text(h.find("#posts")), "0");
    h.click("#post");
    h.click("#post");
    // The handler reached the very service the host holds.
    assert_eq!(board.posts.load(Ordering::SeqCst), 2);
}

#[test]
fn without_services_components_see_none() {
    let h = Harness::mount::<Poster>(());
    assert_eq!(h.dom().text(h.find("#greeting")), "none");
    assert_eq!(h.dom().text(h.find("#posts")), "no board");
}

#[test]
fn a_later_provide_replaces_the_value_for_later_reads() {
    let mut renderer = Renderer::new(Arc::new(ComponentRegistry::new()));
    renderer.provide(Greeting("first"));
    assert_eq!(
        renderer.services().get::<Greeting>().map(|g| g.0),
        Some("first")
    );
    renderer.provide(Greeting("second"));
    assert_eq!(
        renderer.services().get::<Greeting>().map(|g| g.0),
        Some("second")
    );
    assert_eq!(renderer.services().len(), 1);
}

#[derive(Clone, PartialEq, Deserialize)]
struct Explosive {
    explode: bool,
}

struct Bomb;

impl Component for Bomb {
    type Props = Explosive;

    fn create(props: &Explosive) -> Self {
        if props.explode {
            panic!("bomb went off in create");
        }
        Bomb
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { p #bomb { "quiet" } }
    }
}

#[test]
fn a_panic_in_a_roots_create_is_a_mount_error() {
    let mut registry = ComponentRegistry::new();
    registry.register::<Bomb>("Bomb");
    let mut renderer = Renderer::new(Arc::new(registry));
    let error = renderer
        .mount_root("Bomb", &json!({ "explode": true }))
        .expect_err("create panicked");
    let MountError::Failed(failure) = &error else {
        panic!("expected MountError::Failed, got {error:?}");
    };
    assert!(
        failure.message().contains("bomb went off in create"),
        "{error}"
    );
    // Like any uncaught component failure, it finishes the renderer.
    assert!(renderer.failure().is_some());
    assert!(matches!(
        renderer.mount_root("Bomb", &json!({ "explode": false })),
        Err(MountError::Failed(_))
    ));
}

#[test]
fn a_panic_in_a_typed_roots_create_is_a_mount_error() {
    let mut renderer = Renderer::new(Arc::new(ComponentRegistry::new()));
    let error = renderer
        .mount_root_component::<Bomb>(Explosive { explode: true })
        .expect_err("create panicked");
    assert!(error.to_string().contains("bomb went off"), "{error}");
}

fn fallback(message: &str) -> Markup {
    html! { p #fallback { (message) } }
}

#[test]
fn a_panic_in_a_childs_create_reaches_the_error_boundary() {
    let h = Harness::mount::<ErrorBoundary<Bomb>>(BoundaryProps {
        props: Explosive { explode: true },
        fallback,
    });
    assert!(
        h.dom()
            .text(h.find("#fallback"))
            .contains("bomb went off in create"),
        "{}",
        h.html()
    );
}
