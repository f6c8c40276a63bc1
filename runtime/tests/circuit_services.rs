//! Services over real sockets: application services and the circuit's own (handle, location) reach
//! components; location changes and navigation; page caching headers and the versioned boot script;
//! cutting a circuit's connection from the server.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::{attach_html, batch, http, serve_pages, text_of, text_update, HubClient, TestServer};
use tether::circuit::{
    CircuitHandle, CircuitHub, CircuitSecret, Location, LocationSubscription, PageRequest,
};
use tether_components::{Component, ComponentRegistry, Context, RenderContext};

/// An application service, provided once on the hub builder.
#[derive(Clone, Default)]
struct Visits(Arc<AtomicU32>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NavProps {}

/// Shows the location's path (kept current), whether it runs in a circuit, and the visit count; `#go`
/// navigates.
struct Nav {
    path: String,
    mode: String,
    visits: u32,
    location: Option<Location>,
    _watching: Option<LocationSubscription>,
}

impl Component for Nav {
    type Props = NavProps;

    fn create(_: &NavProps) -> Self {
        Nav {
            path: "unknown".into(),
            mode: "none".into(),
            visits: 0,
            location: None,
            _watching: None,
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        if let Some(visits) = cx.service::<Visits>() {
            self.visits = visits.0.fetch_add(1, Ordering::SeqCst) + 1;
        }
        self.mode = match cx.service::<CircuitHandle>() {
            Some(circuit) => format!("circuit {}", circuit.id()),
            None => "prerender".into(),
        };
        if let Some(location) = cx.service::<Location>() {
            self.path = location.path();
            self._watching = Some(location.watch(cx.handle(), |this: &mut Nav, change| {
                this.path = change.path().to_owned();
            }));
            self.location = Some(location);
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            p #path { (self.path) }
            p #mode { (self.mode) }
            p #visits { (self.visits) }
            button #go t-click=(cx.on_click(|this: &mut Nav, _| {
                if let Some(location) = &this.location {
                    location.navigate("/elsewhere", false);
                }
            })) { "Go" }
        }
    }
}

async fn nav_page(State(hub): State<CircuitHub>, request: PageRequest) -> Response {
    let mut page = hub.page();
    page.provide(request.location());
    let nav = match page.root("Nav", &NavProps {}) {
        Ok(nav) => nav,
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    let script = page.boot_script();
    page.respond(html! { body { (nav) (script) } })
}

/// The nav page (also nested under `/nested`) on a hub with the [`Visits`] service.
async fn serve() -> (TestServer, Visits) {
    let mut components = ComponentRegistry::new();
    components.register::<Nav>("Nav");
    let visits = Visits::default();
    let builder = CircuitHub::builder(components).service(visits.clone());
    let pages = Router::new()
        .route("/nav", get(nav_page))
        .nest("/nested", Router::new().route("/nav", get(nav_page)));
    (serve_pages(builder, pages).await, visits)
}

struct Started {
    client: HubClient,
    secret: String,
    html: String,
}

/// Loads `/nav?from=test`, starts its circuit and reads the attach batch (acknowledged).
async fn start(server: &TestServer) -> Started {
    let page = http(server.addr, "GET", "/nav?from=test", &[], "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        text_of(&page.body, "mode").as_deref(),
        Some("prerender"),
        "a prerender has no circuit"
    );
    let descriptors = support::descriptors(&page.body);
    let (mut client, secret) = server.start_circuit("nav?from=test", &descriptors).await;
    let secret = secret.expect("the circuit starts");
    let (id, attach) = batch(&client.expect("T.Batch").await);
    client.send("OnRenderCompleted", json!([id, null])).await;
    Started {
        client,
        secret: secret.as_str().unwrap().to_owned(),
        html: attach_html(&attach),
    }
}

fn circuit_id(secret: &str) -> tether::circuit::CircuitId {
    CircuitSecret::parse(secret).expect("a valid secret").id()
}

#[tokio::test]
async fn components_get_the_app_services_the_circuit_and_its_location() {
    let (server, visits) = serve().await;
    let started = start(&server).await;
    let id = circuit_id(&started.secret);
    assert_eq!(
        text_of(&started.html, "mode"),
        Some(format!("circuit {id}"))
    );
    assert_eq!(
        text_of(&started.html, "path").as_deref(),
        Some("/nav?from=test")
    );
    // The prerender and the circuit each created the component, both with the one shared service.
    assert_eq!(text_of(&started.html, "visits").as_deref(), Some("2"));
    assert_eq!(visits.0.load(Ordering::SeqCst), 2);
    assert!(server.hub.circuit(id).is_some_and(|c| c.is_connected()));
}

#[tokio::test]
async fn a_prerender_sees_the_browsers_path_also_in_a_nested_router() {
    let (server, _) = serve().await;
    for path in ["/nav?from=page", "/nested/nav?from=page"] {
        let page = http(server.addr, "GET", path, &[], "").await;
        assert_eq!(text_of(&page.body, "path").as_deref(), Some(path));
    }
}

#[tokio::test]
async fn location_changes_reach_components_and_they_can_navigate() {
    let (server, _) = serve().await;
    let mut started = start(&server).await;
    let base = format!("http://{}", server.addr);
    started
        .client
        .send(
            "LocationChanged",
            json!([format!("{base}/nav/next?page=2"), true]),
        )
        .await;
    let (id, update) = batch(&started.client.expect("T.Batch").await);
    assert_eq!(
        (id, text_update(&update).as_deref()),
        (2, Some("/nav/next?page=2"))
    );
    started
        .client
        .send("OnRenderCompleted", json!([2, null]))
        .await;
    let go: u64 = support::attribute_of(&started.html, "go", "t-click")
        .and_then(|v| v.parse().ok())
        .expect("the #go handler");
    started
        .client
        .send("DispatchEvent", json!([go, "click", {}]))
        .await;
    assert_eq!(
        started.client.expect("T.Navigate").await,
        [json!("/elsewhere"), json!(false)]
    );
}

#[tokio::test]
async fn pages_are_not_cached_and_link_the_versioned_boot_script() {
    let (server, _) = serve().await;
    let page = http(server.addr, "GET", "/nav", &[], "").await;
    let header = |response: &support::Response, name: &str| {
        response
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(&page, "cache-control").as_deref(), Some("no-store"));
    assert!(header(&page, "content-type").is_some_and(|v| v.starts_with("text/html")));
    let url = server.hub.boot_script_url();
    assert!(
        url.starts_with("/_tether/tether.js?v="),
        "versioned boot script URL: {url}"
    );
    assert!(
        page.body
            .contains(&format!("<script src=\"{url}\"></script>")),
        "{}",
        page.body
    );
    let script = http(server.addr, "GET", &url, &[], "").await;
    assert_eq!(script.status, 200);
    assert!(header(&script, "cache-control").is_some_and(|v| v.contains("immutable")));
}

#[tokio::test]
async fn the_server_can_cut_a_circuits_connection_without_ending_it() {
    let (server, _) = serve().await;
    let mut started = start(&server).await;
    let id = circuit_id(&started.secret);
    assert!(server.hub.disconnect_transport(id));
    // A cut, not a close: the socket ends without a Close message.
    assert!(started.client.next().await.is_none());
    assert!(
        started.client.closed.is_none(),
        "{:?}",
        started.client.closed
    );
    // The circuit is still there and the browser can come back to it.
    assert!(server.hub.circuit(id).is_some());
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client
            .invoke("ConnectCircuit", json!([started.secret]))
            .await,
        Ok(json!(true))
    );
    assert!(server.hub.circuit(id).is_some_and(|c| c.is_connected()));
    assert_eq!(server.hub.metrics().ended, 0);
    // An unknown circuit has nothing to cut.
    assert!(!server
        .hub
        .disconnect_transport(circuit_id(&CircuitSecret::generate().expose())));
}
