//! Per-circuit services opt in to persistence as components do: a service registered with
//! `Persistence::serde()` comes back with its state when the circuit resumes on another server; one
//! registered with `None` starts fresh.

mod support;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::{attach_html, batch, serve_pages, text_of, HubClient, TestServer};
use tether::circuit::{
    CircuitHub, CircuitHubBuilder, InMemoryCircuitStore, PersistenceKey, SharedState,
};
use tether_components::{Component, Context, Persistence, RenderContext};

/// The circuit's basket: every component of one circuit shares it.
type Basket = SharedState<Vec<String>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ShelfProps {}

/// Shows how many items the circuit's basket holds; `#increment` adds one. Keeps no state of its own.
struct Shelf {
    basket: Option<Basket>,
}

impl Component for Shelf {
    type Props = ShelfProps;

    fn create(_: &ShelfProps) -> Self {
        Shelf { basket: None }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.basket = cx.service::<Basket>();
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let items = self.basket.as_ref().map_or(0, |b| b.lock().len());
        html! {
            p { "Items: " span #count { (items) } }
            button #increment t-click=(cx.on_click(|shelf, _| {
                if let Some(basket) = &shelf.basket { basket.lock().push("tea".into()); }
            })) { "Add tea" }
        }
    }
}

async fn shelf_page(State(hub): State<CircuitHub>) -> axum::response::Response {
    let mut page = hub.page();
    match page.root("Shelf", &ShelfProps {}) {
        Ok(root) => Html(html! { body { (root) } }.into_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

fn builder(
    store: &Arc<InMemoryCircuitStore>,
    persistence: Option<Persistence<Basket>>,
) -> CircuitHubBuilder {
    let mut components = tether_components::ComponentRegistry::new();
    components.register::<Shelf>("Shelf");
    CircuitHub::builder(components)
        .persistence(store.clone())
        .persistence_key(PersistenceKey::from_bytes(3, [5; 32]))
        .circuit_service(Basket::default, persistence)
}

/// A server of the shelf page over the shared `store`, with the basket persisted as `persistence` says.
async fn serve(
    store: &Arc<InMemoryCircuitStore>,
    persistence: Option<Persistence<Basket>>,
) -> TestServer {
    let pages = Router::new().route("/shelf", get(shelf_page));
    serve_pages(builder(store, persistence), pages).await
}

/// Starts the shelf on `server`, adds two items, pauses it to the store, and returns its secret.
async fn two_items_then_pause(server: &TestServer) -> String {
    let descriptors = server.page_descriptors("/shelf").await;
    let (mut client, secret) = server.start_circuit("shelf", &descriptors).await;
    let secret = secret.expect("the circuit starts");
    let html = attach_html(&batch(&client.expect("T.Batch").await).1);
    assert_eq!(text_of(&html, "count").as_deref(), Some("0"));
    let add: u64 = support::attribute_of(&html, "increment", "t-click")
        .and_then(|v| v.parse().ok())
        .unwrap();
    for expected in ["1", "2"] {
        client
            .send("DispatchEvent", json!([add, "click", {}]))
            .await;
        let (id, update) = batch(&client.expect("T.Batch").await);
        assert_eq!(support::text_update(&update).as_deref(), Some(expected));
        client.send("OnRenderCompleted", json!([id, null])).await;
    }
    assert_eq!(
        client.invoke("PauseCircuit", json!([])).await,
        Ok(json!(true))
    );
    secret.as_str().unwrap().to_owned()
}

/// Resumes `secret` on `server` and returns the count its first batch shows.
async fn resumed_count(server: &TestServer, secret: &str) -> String {
    let mut client = HubClient::connect(server.addr, server.hub.path()).await;
    assert_eq!(
        client.invoke("ResumeCircuit", json!([secret])).await,
        Ok(json!(true))
    );
    let html = attach_html(&batch(&client.expect("T.Batch").await).1);
    text_of(&html, "count").expect("a count")
}

#[tokio::test]
async fn an_opted_in_circuit_service_resumes_with_its_state_on_another_server() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = serve(&store, Persistence::serde()).await;
    let b = serve(&store, Persistence::serde()).await;
    let secret = two_items_then_pause(&a).await;
    assert_eq!(resumed_count(&b, &secret).await, "2");
}

#[tokio::test]
async fn a_circuit_service_that_did_not_opt_in_starts_fresh_on_resume() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = serve(&store, None).await;
    let b = serve(&store, None).await;
    let secret = two_items_then_pause(&a).await;
    assert_eq!(resumed_count(&b, &secret).await, "0");
}

#[tokio::test]
async fn each_circuit_has_its_own_service() {
    let store = Arc::new(InMemoryCircuitStore::default());
    let a = serve(&store, Persistence::serde()).await;
    two_items_then_pause(&a).await;
    // A second circuit on the same server starts with an empty basket (two_items_then_pause checks 0).
    two_items_then_pause(&a).await;
}
