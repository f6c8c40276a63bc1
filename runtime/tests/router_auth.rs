//! The router and auth against the real circuit hub over real sockets: prerender statuses and redirects,
//! live navigation inside one circuit (a `LocationChanged` answered by one batch), guards, revalidation with
//! a short interval (redirect to login, or the circuit ended), and a reconnect by another user refused.

mod support;

use std::time::Duration;

use axum::Router;
use maud::{html, Markup};
use serde_json::json;
use support::{attach_html, batch, descriptors, http, HubClient, PATIENCE};
use tether::auth::{Auth, AuthOptions, OnRevoked, SessionStore, User};
use tether::circuit::{CircuitHub, PROTOCOL_VERSION};
use tether::router::{page_router, Reject, RouteMatch, RouteProps, Routes};
use tether_components::{Component, ComponentRegistry, RenderContext};

struct Home;
impl Component for Home {
    type Props = ();
    fn create(_: &()) -> Self {
        Home
    }
    fn render(&self, _: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "home" } a href="/items/7" { "seven" } }
    }
}

#[derive(Clone, PartialEq)]
struct ItemId(u32);
impl RouteProps for ItemId {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        route.param("id").map(ItemId)
    }
}

struct Item;
impl Component for Item {
    type Props = ItemId;
    fn create(_: &ItemId) -> Self {
        Item
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "item " (cx.props().0) } }
    }
}

#[derive(Clone, PartialEq)]
struct Private(String);
impl RouteProps for Private {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        Ok(Private(route.require_user()?.name.clone()))
    }
}

struct Secret;
impl Component for Secret {
    type Props = Private;
    fn create(_: &Private) -> Self {
        Secret
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "for " (cx.props().0) } }
    }
}

/// Header `name` of a response (names compared without case).
fn header<'r>(response: &'r support::Response, name: &str) -> Option<&'r str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

struct App {
    addr: std::net::SocketAddr,
    hub: CircuitHub,
    sessions: SessionStore,
    auth: Auth,
}

async fn serve(on_revoked: OnRevoked) -> App {
    let routes = Routes::new()
        .layout(|cx, page| html! { nav { (cx.nav_link("/", html! { "Home" })) } main { (page) } })
        .page::<Home>("/")
        .page::<Item>("/items/{id}")
        .page::<Secret>("/secret");
    let mut components = ComponentRegistry::new();
    tether::router::register(&mut components);
    let sessions = SessionStore::new("sid", Duration::from_secs(600));
    let auth = Auth::with_options(
        sessions.clone(),
        AuthOptions {
            revalidate_every: Duration::from_millis(50),
            on_revoked,
            ..AuthOptions::default()
        },
    );
    // `handlers` after `auth` must not drop the auth handler (it forgets ended circuits).
    let hub = CircuitHub::builder(components)
        .service(routes.clone())
        .auth(auth.clone())
        .handlers(tether::circuit::CircuitHandlers::new())
        .build()
        .unwrap();
    let app: Router = page_router(&routes, |page| html! { body { (page.body) } })
        .with_state(hub.clone())
        .merge(hub.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, app));
    App {
        addr,
        hub,
        sessions,
        auth,
    }
}

impl App {
    fn sign_in(&self, name: &str) -> String {
        let token = self.sessions.sign_in(User {
            id: name.into(),
            name: name.into(),
            roles: vec![],
            session: String::new(),
        });
        format!("sid={token}")
    }

    /// Loads `path` with `cookie`, starts its circuit and returns the client with the attach HTML.
    async fn start(&self, path: &str, cookie: Option<&str>) -> (HubClient, String, String) {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        let page = http(self.addr, "GET", path, &headers, "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let mut client = HubClient::connect_with_cookie(self.addr, self.hub.path(), cookie).await;
        let base = format!("http://{}", self.addr);
        let secret = client
            .invoke(
                "StartCircuit",
                json!([
                    PROTOCOL_VERSION,
                    format!("{base}/"),
                    format!("{base}{path}"),
                    descriptors(&page.body)
                ]),
            )
            .await
            .expect("the circuit starts");
        let (id, attach) = batch(&client.expect("T.Batch").await);
        client.send("OnRenderCompleted", json!([id, null])).await;
        (
            client,
            secret.as_str().unwrap().to_owned(),
            attach_html(&attach),
        )
    }
}

#[tokio::test]
async fn prerender_answers_with_status_and_redirects() {
    let app = serve(OnRevoked::RedirectToLogin).await;
    let get = |path: &'static str, cookie: Option<String>| {
        let addr = app.addr;
        async move {
            let headers: Vec<(&str, &str)> =
                cookie.iter().map(|c| ("cookie", c.as_str())).collect();
            http(addr, "GET", path, &headers, "").await
        }
    };
    let home = get("/", None).await;
    assert_eq!(home.status, 200);
    assert!(
        home.body
            .contains(r#"<a href="/" class="active" aria-current="page">Home</a>"#),
        "{}",
        home.body
    );
    assert!(get("/items/7", None).await.body.contains("<h1>item 7</h1>"));
    for missing in ["/items/x", "/items/-1", "/nope", "/items/7/8"] {
        assert_eq!(get(missing, None).await.status, 404, "{missing}");
    }
    let slashed = get("/items/7/", None).await;
    assert_eq!(
        (slashed.status, header(&slashed, "location")),
        (308, Some("/items/7"))
    );
    let guarded = get("/secret", None).await;
    assert_eq!(guarded.status, 303);
    assert_eq!(header(&guarded, "location"), Some("/login?return=/secret"));
    let signed_in = get("/secret", Some(app.sign_in("ann"))).await;
    assert_eq!(signed_in.status, 200);
    assert!(signed_in.body.contains("<h1>for ann</h1>"));
}

#[tokio::test]
async fn a_navigation_swaps_the_page_in_one_batch_and_answers_after_it() {
    let app = serve(OnRevoked::RedirectToLogin).await;
    let (mut client, _, html) = app.start("/", None).await;
    assert!(html.contains("<h1>home</h1>"), "{html}");
    let uri = format!("http://{}/items/9", app.addr);
    // Invoked (as the boot script does for a link): the completion comes after the batch it caused.
    client
        .invoke("LocationChanged", json!([uri, true]))
        .await
        .unwrap();
    assert_eq!(client.held(), 1, "the batch arrived before the completion");
    let next = client
        .next()
        .await
        .expect("a batch before the completion's successor");
    assert_eq!(next.target, "T.Batch");
    let text = next.arguments[1].to_string();
    assert!(text.contains("item 9"), "{text}");
    // An anonymous user on a guarded path is sent to the login page, replacing the history entry.
    let uri = format!("http://{}/secret", app.addr);
    client.send("LocationChanged", json!([uri, true])).await;
    let navigate = client.expect("T.Navigate").await;
    assert_eq!(navigate, vec![json!("/login?return=/secret"), json!(true)]);
}

#[tokio::test]
async fn a_revoked_session_sends_the_open_page_to_the_login_page() {
    let app = serve(OnRevoked::RedirectToLogin).await;
    let cookie = app.sign_in("ann");
    let (mut client, _, html) = app.start("/secret", Some(&cookie)).await;
    assert!(html.contains("for ann"), "{html}");
    let token = cookie.strip_prefix("sid=").unwrap();
    assert!(app.sessions.sign_out(token));
    let navigate = tokio::time::timeout(PATIENCE, client.expect("T.Navigate"))
        .await
        .expect("revalidation noticed the revocation");
    assert_eq!(navigate, vec![json!("/login?return=/secret"), json!(true)]);
}

#[tokio::test]
async fn a_revoked_session_can_end_the_circuit_instead() {
    let app = serve(OnRevoked::EndCircuit).await;
    let cookie = app.sign_in("ann");
    let (mut client, _, _) = app.start("/secret", Some(&cookie)).await;
    app.sessions.sign_out_user("ann");
    let error = client.expect("T.Error").await;
    assert!(error[0].as_str().unwrap().contains("closed"), "{error:?}");
    assert_eq!(app.hub.metrics().active, 0);
    assert_eq!(
        app.auth.tracked_circuits(),
        0,
        "the ended circuit is forgotten"
    );
}

#[tokio::test]
async fn a_reconnect_by_another_user_is_refused_and_the_same_user_resumes() {
    let app = serve(OnRevoked::RedirectToLogin).await;
    let ann = app.sign_in("ann");
    let (client, secret, _) = app.start("/", Some(&ann)).await;
    client.drop_socket().await;
    for other in [Some(app.sign_in("bob")), None] {
        let mut thief =
            HubClient::connect_with_cookie(app.addr, app.hub.path(), other.as_deref()).await;
        let resumed = thief
            .invoke("ConnectCircuit", json!([secret]))
            .await
            .unwrap();
        assert_eq!(resumed, json!(false), "{other:?}");
    }
    // Another sign-in of the same user (a second session) may resume.
    let ann_again = app.sign_in("ann");
    let mut owner =
        HubClient::connect_with_cookie(app.addr, app.hub.path(), Some(&ann_again)).await;
    let resumed = owner
        .invoke("ConnectCircuit", json!([secret]))
        .await
        .unwrap();
    assert_eq!(resumed, json!(true));
}
