//! Run with `cargo run -p todo`; serves the example at `/` on `$ADDR` (default 127.0.0.1:5000).
//!
//! The list is persisted (docs/persistence.md): an evicted or paused tab, or one whose server shut down
//! gracefully, resumes with its items from the in-memory circuit store.

use tether::circuit::InMemoryCircuitStore;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut server = showcase_kit::Server::new();
    server.configure(|hub| hub.persistence(InMemoryCircuitStore::default()));
    let routes = todo::install(&mut server);
    server.mount("/", routes);
    server.run().await
}
