//! The disconnect beacon: `POST {hub}/disconnect` with the secret ends the circuit at once.

mod support;

use support::{http, serve, Response, TestServer};
use tether::circuit::CircuitHub;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// POSTs `body` as a form to the beacon of the hub at `hub`.
async fn beacon(server: &TestServer, hub: &str, body: &str) -> Response {
    http(
        server.addr,
        "POST",
        &format!("{hub}/disconnect"),
        &[FORM],
        body,
    )
    .await
}

#[tokio::test]
async fn the_beacon_ends_the_circuit_at_once() {
    let server = serve(CircuitHub::builder(support::components())).await;
    let mut session = server.start_counter(0).await;
    let response = beacon(&server, "/_tether", &format!("secret={}", session.secret)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(server.hub.metrics().active, 0);
    session.client.expect("T.Error").await;
    // A second beacon for the same secret is harmless.
    let again = beacon(&server, "/_tether", &format!("secret={}", session.secret)).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("no such circuit"));
}

#[tokio::test]
async fn a_bad_secret_is_400_and_other_methods_are_405() {
    let server = serve(CircuitHub::builder(support::components()).path("/signalr")).await;
    let missing = beacon(&server, "/signalr", "other=1").await;
    assert_eq!(missing.status, 400);
    assert!(missing.body.contains("secret"), "{}", missing.body);
    let malformed = beacon(&server, "/signalr", "secret=abc%ZZ").await;
    assert_eq!(malformed.status, 400);
    let short = beacon(&server, "/signalr", "secret=abc").await;
    assert_eq!(short.status, 400);
    assert!(short.body.contains("malformed"), "{}", short.body);
    let get = http(server.addr, "GET", "/signalr/disconnect", &[], "").await;
    assert_eq!(get.status, 405);
    assert!(get.headers.iter().any(|(n, v)| n == "allow" && v == "POST"));
}
