//! Run with `cargo run -p notes`; serves the notes app at `/` on `$ADDR` (default 127.0.0.1:5000).
//! `NOTES_REVALIDATE_MS` sets how often an open page's sign-in is checked again (default 30 minutes);
//! `NOTES_ON_REVOKED=end-circuit` ends the circuit then instead of going to the login page.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut server = showcase_kit::Server::new();
    let routes = notes::install(&mut server, "");
    server.mount("/", routes);
    server.run().await
}
