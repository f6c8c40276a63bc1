//! Shared support for the circuit tests: a small hub client over a real WebSocket (`hub_client`) or long
//! polling (`long_poll`), raw HTTP requests (`http`), the test components (`components`) and an in-process
//! server with their pages (`server`). Each test file is its own crate and uses only some of it.
#![allow(dead_code, unreachable_pub)]

mod components;
mod http;
mod hub_client;
mod long_poll;
mod server;

use std::time::Duration;

// Each test crate uses only some of these, so in each some re-exports go unused.
#[allow(unused_imports)]
pub use components::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use hub_client::*;
#[allow(unused_imports)]
pub use long_poll::*;
#[allow(unused_imports)]
pub use server::*;

/// The JSON hub protocol's record separator.
const RS: char = '\u{1e}';

/// How long a test waits for something the server must send before failing (never a sleep: a bound).
pub const PATIENCE: Duration = Duration::from_secs(10);
