//! Run alone with `cargo run -p large-input`, or see it at `/large-input` in the showcase
//! (`cargo run --release -p showcase`).
//!
//! A `change` event whose text is far over the hub's 32 KB message limit. The boot script notices that
//! the call would not fit in one message and sends it as a `Chunked` stream (docs/protocol.md section 6);
//! the server reassembles it (up to `CircuitOptions::max_chunked_call_size`, 1 MiB by default) and the
//! component shows the length and a SHA-256 of what arrived.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use sha2::{Digest, Sha256};
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::CircuitHub;
use tether_components::{Component, RenderContext};

/// The name [`LargeInput`] is registered under.
pub const LARGE_INPUT: &str = "LargeInput";

/// What the server received last.
pub struct LargeInput {
    received: Option<(usize, usize, String)>,
}

/// The SHA-256 of `text`'s UTF-8 bytes, in hex.
pub fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Component for LargeInput {
    type Props = ();

    fn create(_: &()) -> Self {
        LargeInput { received: None }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            textarea #large-text aria-label="Text to send" placeholder="Paste something long, or use the button below."
                t-change=(cx.on_change(|this: &mut Self, e| {
                    this.received = Some((e.value.chars().count(), e.value.len(), checksum(&e.value)));
                })) {}
            @match &self.received {
                None => p #large-result.muted { "Nothing received yet." },
                Some((chars, bytes, sum)) => p #large-result.ok {
                    "The server received " strong #large-chars { (chars) } " characters ("
                    span #large-bytes { (bytes) } " bytes), SHA-256 " code #large-sum { (sum) } "."
                },
            }
        }
    }
}

const PAGE_SCRIPT: &str = r#"
document.getElementById('fill').addEventListener('click', () => {
  const kb = Number(document.getElementById('size').value) || 200;
  const line = 'The quick brown fox jumps over the lazy dog. Ünïcödé ✓ ';
  let text = '';
  while (text.length < kb * 1024) text += line;
  const area = document.getElementById('large-text');
  area.value = text.slice(0, kb * 1024);
  area.dispatchEvent(new Event('change', { bubbles: true }));
});
"#;

async fn page(State(hub): State<CircuitHub>) -> Response {
    let mut page = hub.page();
    let input = match page.root(LARGE_INPUT, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Large input",
        html! {
            "The hub accepts messages up to 32 KB. A bigger event goes as a " code { "Chunked" }
            " stream of 16,000-character pieces and is put back together on the server."
        },
        html! {
            (input)
            div.row {
                button #fill type="button" { "Send generated text" }
                label { "of " input #size type="text" value="200" size="4" aria-label="Size in KB"; " KB" }
            }
        },
        tether_scripts(&hub, PAGE_SCRIPT, "{}"),
    ))
}

/// Registers [`LargeInput`]; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<LargeInput>(LARGE_INPUT);
    Router::new().route("/", get(page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_components::testing::Harness;

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            checksum("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_change_shows_length_and_checksum() {
        let mut h = Harness::mount::<LargeInput>(());
        let text = "ü".repeat(40_000);
        h.change("#large-text", &text);
        let html = h.html();
        assert!(html.contains(">40000<"), "{html}");
        assert!(html.contains(">80000<"), "{html}");
        assert!(html.contains(&checksum(&text)));
    }
}
