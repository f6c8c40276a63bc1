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
