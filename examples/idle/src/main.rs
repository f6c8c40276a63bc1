//! Run with `cargo run -p idle`; serves the example at `/` on `$ADDR` (default 127.0.0.1:5000).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut server = showcase_kit::Server::new();
    let routes = idle::install(&mut server);
    server.mount("/", routes);
    server.run().await
}
