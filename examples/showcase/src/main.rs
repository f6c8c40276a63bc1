//! Run with `cargo run --release -p showcase`; serves every Tether example from one server on `$ADDR`
//! (default 127.0.0.1:5000), with an index at `/`.
//!
//! One circuit hub and one component registry serve all the examples; each example is also a crate of its
//! own under `examples/` that runs alone (`cargo run -p todo`, …). Environment: `ADDR`, `RUST_LOG`,
//! `SHOWCASE_IDLE_MS` (the idle example's timeout, default 10,000).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    showcase::showcase().run().await
}
