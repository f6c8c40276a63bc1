//! Mapping a hub into an app router: merge, other routes, tower layers.

use tether::hub::Hub;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn the_hub_router_merges_into_an_app_and_takes_tower_layers() {
    use axum::http::HeaderValue;
    use axum::routing::get;
    let hub = Hub::builder().build().unwrap();
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(hub.router("/signalr"))
        .layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                response
                    .headers_mut()
                    .insert("x-layer", HeaderValue::from_static("seen"));
                response
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, app));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /signalr/negotiate?negotiateVersion=1 HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("x-layer: seen"), "{response}");
    assert!(response.contains("\"connectionToken\""), "{response}");
}

async fn http(addr: std::net::SocketAddr, method: &str, target: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn disabled_transports_are_not_offered_and_answer_404() {
    use tether::hub::{HubOptions, Transports};
    let hub = Hub::builder()
        .options(HubOptions {
            transports: Transports::WEB_SOCKETS,
            ..HubOptions::default()
        })
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, hub.router("/hub")));
    let negotiated = http(addr, "POST", "/hub/negotiate?negotiateVersion=1").await;
    let body = negotiated.split_once("\r\n\r\n").unwrap().1;
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body["availableTransports"],
        serde_json::json!([{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}])
    );
    let token = body["connectionToken"].as_str().unwrap();
    let poll = http(addr, "GET", &format!("/hub?id={token}")).await;
    assert!(poll.starts_with("HTTP/1.1 404"), "{poll}");
    assert!(
        poll.ends_with(
            "The LongPolling transport is not enabled on this hub (HubOptions::transports)\n"
        ),
        "{poll}"
    );
}

#[tokio::test]
async fn ignore_path_case_routes_hub_paths_in_any_case_and_leaves_others_exact() {
    use axum::routing::get;
    let hub = Hub::builder().build().unwrap();
    let app = axum::Router::new()
        .route("/Page", get(|| async { "page" }))
        .merge(hub.router("/chathub/"));
    let app = tether::hub::ignore_path_case(app, ["/chathub/"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, app));
    for target in [
        "/chathub/negotiate?negotiateVersion=1",
        "/ChatHub/negotiate?negotiateVersion=1",
        "/CHATHUB/NEGOTIATE",
    ] {
        let response = http(addr, "POST", target).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{target}: {response}");
        assert!(
            response.contains("\"connectionId\""),
            "{target}: {response}"
        );
    }
    // The transport URL too: a GET without a token is the hub's 400, not the router's 404.
    let response = http(addr, "GET", "/ChatHub").await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(http(addr, "GET", "/Page").await.starts_with("HTTP/1.1 200"));
    assert!(http(addr, "GET", "/page").await.starts_with("HTTP/1.1 404"));
    assert!(http(addr, "GET", "/chathubs")
        .await
        .starts_with("HTTP/1.1 404"));
}
