//! Run alone with `cargo run -p reconnect-ui`, or see it at `/reconnect-ui` in the showcase
//! (`cargo run --release -p showcase`).
//!
//! A custom reconnect modal: an element with id `components-reconnect-modal` that the boot script drives
//! with CSS classes (`components-reconnect-show`, `-retrying`, `-failed`, `-rejected`, `-hide`) and text slots
//! (current attempt, max retries, seconds to the next attempt). The CSS (assets/showcase.css) shows it after
//! a 500 ms transition delay. The buttons cut the page's connection (a demo helper, not part of Tether).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use showcase_kit::{demo_script, layout, tether_scripts, Server};
use tether::circuit::CircuitHub;
use tether_components::{Component, RenderContext};

/// The name [`Tally`] is registered under.
pub const TALLY: &str = "ReconnectTally";

/// State that must survive a reconnect: a number.
pub struct Tally {
    count: u32,
}

impl Component for Tally {
    type Props = ();

    fn create(_: &()) -> Self {
        Tally { count: 0 }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            div.row {
                button #tally t-click=(cx.on_click(|this: &mut Self, _| this.count += 1)) { "Add one" }
                span { "Server-side count: " strong #tally-count { (self.count) } }
            }
        }
    }
}

/// The modal markup: the boot script finds it by id and fills the slots.
pub fn reconnect_modal() -> Markup {
    html! {
        div #components-reconnect-modal role="alertdialog" aria-live="assertive" {
            div.box {
                p.lost {
                    "Connection lost. Attempt " span #components-reconnect-current-attempt {} " of "
                    span #components-reconnect-max-retries {} "; next try in "
                    span #components-seconds-to-next-attempt {} " s."
                }
                p.failed {
                    "Could not reconnect. "
                    button #reconnect-retry type="button" onclick="Tether.reconnect().then((ok) => ok || location.reload())" { "Try again" }
                }
                p.rejected {
                    "This session has ended on the server. "
                    button type="button" onclick="location.reload()" { "Reload" }
                }
            }
        }
    }
}

/// The start options: 8 retries, 1.5 s apart.
const RECONNECT_OPTIONS: &str =
    "{ reconnectionOptions: { maxRetries: 8, retryIntervalMilliseconds: 1500 } }";

const PAGE_SCRIPT: &str = r#"
const log = document.getElementById('reconnect-log');
document.addEventListener('components-reconnect-state-changed', (e) => {
  const item = document.createElement('li');
  item.textContent = `${e.detail.state} (attempt ${e.detail.currentAttempt ?? '-'}, next in ${e.detail.secondsToNextAttempt ?? '-'} s)`;
  log.append(item);
});
document.getElementById('drop-short').addEventListener('click', () => showcase.dropConnection({ offlineMs: 3000 }));
document.getElementById('drop-long').addEventListener('click', () => showcase.dropConnection({ offlineMs: 30000 }));
"#;

async fn page(State(hub): State<CircuitHub>) -> Response {
    let mut page = hub.page();
    let tally = match page.root(TALLY, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Custom reconnect UI",
        html! {
            "This page has its own " code { "#components-reconnect-modal" } ". Cut the connection and watch \
             it appear after half a second, count the attempts (8 at most, 1.5 s apart) and disappear once \
             the circuit is back, with the count intact."
        },
        html! {
            (tally)
            div.row {
                button.quiet #drop-short type="button" { "Drop the connection for 3 s" }
                button.quiet #drop-long type="button" { "Drop it for 30 s (retries run out)" }
            }
            h2 { "State events" }
            ol #reconnect-log.muted {}
            (reconnect_modal())
        },
        html! {
            (demo_script())
            (tether_scripts(&hub, PAGE_SCRIPT, RECONNECT_OPTIONS))
        },
    ))
}

/// Registers [`Tally`]; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<Tally>(TALLY);
    Router::new().route("/", get(page))
}
