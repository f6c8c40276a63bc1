//! Run with `cargo run -p chat`; serves a chat hub at `/chathub` on `$ADDR` (default 127.0.0.1:5000).
fn main() {}
