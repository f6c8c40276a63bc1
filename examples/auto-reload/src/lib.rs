//! Run alone with `cargo run -p auto-reload`, or see it at `/auto-reload` in the showcase
//! (`cargo run --release -p showcase`).
//!
//! A custom `reconnectionHandler`, the pattern the Blazor reconnection documentation describes: when the
//! connection drops it tries `Tether.reconnect()` a few times, a few seconds apart; if the server no longer
//! has the circuit, or every try fails, it reloads the page. The script tag has `autostart="false"` and the page calls
//! `Tether.start` with the handler.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use showcase_kit::{demo_script, layout, tether_scripts, Server};
use tether::circuit::CircuitHub;
use tether_components::{Component, RenderContext};

/// The name [`Tally`] is registered under.
pub const TALLY: &str = "AutoReloadTally";

/// State that a reload loses and a reconnect keeps: a number.
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

const PAGE_SCRIPT: &str = r#"
(() => {
  const TRIES = 3;
  const GAP_MS = 2000;
  const notice = document.getElementById('reconnect-notice');
  const say = (text) => { notice.textContent = text; notice.style.display = text ? 'block' : 'none'; };
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));

  // One rejoin loop at a time; `stop()` ends it when the connection comes back by other means.
  let loop = null;
  const rejoinOrReload = () => {
    let stopped = false;
    (async () => {
      for (let tried = 1; tried <= TRIES; tried++) {
        say(`Reconnecting: attempt ${tried} of ${TRIES}`);
        await pause(GAP_MS);
        if (stopped) return;
        let back;
        try {
          back = await Tether.reconnect();
        } catch {
          continue; // no server answered: wait and try again
        }
        if (back) return; // onConnectionUp clears the notice
        break; // the server answered but has forgotten this circuit
      }
      say('Reloading the page');
      location.reload();
    })();
    return { stop: () => { stopped = true; say(''); } };
  };

  window.autoReloadHandler = {
    onConnectionDown: () => { loop ??= rejoinOrReload(); },
    onConnectionUp: () => { loop?.stop(); loop = null; },
  };
  document.getElementById('drop-short').addEventListener('click', () => showcase.dropConnection({ offlineMs: 1000 }));
  document.getElementById('drop-long').addEventListener('click', () => showcase.dropConnection({ offlineMs: 60000 }));
})();
"#;

async fn page(State(hub): State<CircuitHub>) -> Response {
    let mut page = hub.page();
    let tally = match page.root(TALLY, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Auto-reload",
        html! {
            "A " code { "reconnectionHandler" } " replaces the built-in retry loop and dialog: three tries two \
             seconds apart, then " code { "location.reload()" } ". A short outage keeps the count; a long one \
             reloads the page with a fresh circuit (count back to 0)."
        },
        html! {
            (tally)
            div.row {
                button.quiet #drop-short type="button" { "Drop the connection for 1 s" }
                button.quiet #drop-long type="button" { "Drop it for a minute (reloads)" }
            }
            div #reconnect-notice {}
        },
        html! {
            (demo_script())
            (tether_scripts(&hub, PAGE_SCRIPT, "{ circuit: { reconnectionHandler: autoReloadHandler } }"))
        },
    ))
}

/// Registers [`Tally`]; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<Tally>(TALLY);
    Router::new().route("/", get(page))
}
