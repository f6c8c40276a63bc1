//! Run with `cargo run -p todo`; serves the example at `/` on `$ADDR` (default 127.0.0.1:5000).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut server = showcase_kit::Server::new();
    let routes = todo::install(&mut server);
    server.mount("/", routes);
    server.run().await
}
