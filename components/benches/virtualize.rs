//! A 100,000-row virtualized list: the server's time per scroll step (dispatch, render, diff, encode) and the
//! render batch it sends. Run: `cargo bench -p tether-components --bench virtualize` (prints the batch bytes
//! per step before the timings).

use divan::Bencher;
use maud::{html, Markup};
use serde_json::json;
use tether_components::testing::Harness;
use tether_components::virtualize::{RowHeights, Virtualizer};
use tether_components::{Component, RenderContext};

const ROW_PX: f64 = 24.0;
const VIEWPORT_PX: f64 = 480.0;

struct Stress {
    rows: Virtualizer,
}

impl Component for Stress {
    type Props = ();
    fn create(_: &()) -> Self {
        Stress {
            rows: Virtualizer::new(100_000, RowHeights::Fixed(ROW_PX)).viewport_height(VIEWPORT_PX),
        }
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let scroll = cx.on_scroll(|page: &mut Self, event| {
            page.rows.scrolled(&event);
        });
        let rows = html! {
            @for i in self.rows.range() {
                div.stress-row t-key=(i) style="height:24px;line-height:24px;overflow:hidden" { "Row " (i + 1) }
            }
        };
        self.rows.view("rows", "height:480px", scroll, rows)
    }
}

/// The harness and the list's scroll handler id.
fn mounted() -> (Harness, u64) {
    let h = Harness::mount::<Stress>(());
    let id = h
        .dom()
        .attribute(h.find("#rows"), "t-scroll")
        .and_then(|v| v.parse().ok())
        .expect("a t-scroll binding");
    (h, id)
}

fn main() {
    for (name, step) in [
        ("one row", ROW_PX),
        ("one screen", VIEWPORT_PX),
        ("a jump of 10,000 rows", 10_000.0 * ROW_PX),
    ] {
        let (mut h, id) = mounted();
        let mut bytes = Vec::new();
        for i in 1..=20 {
            let args = json!({"scrollTop": step * i as f64, "clientHeight": VIEWPORT_PX});
            h.dispatch(id, "scroll", args).expect("scroll");
            bytes.push(h.last_batch().map_or(0, str::len));
        }
        bytes.sort_unstable();
        println!(
            "scroll step of {name}: batch bytes median {}, max {}",
            bytes[10], bytes[19]
        );
    }
    divan::main();
}

fn step(bencher: Bencher, pixels: f64) {
    let (mut h, id) = mounted();
    let mut top = 0.0;
    bencher.bench_local(move || {
        // Down the list and back to the top, so every step moves the range.
        top = if top + pixels > 2_000_000.0 - VIEWPORT_PX {
            0.0
        } else {
            top + pixels
        };
        let args = json!({"scrollTop": top, "clientHeight": VIEWPORT_PX});
        let renderer = h.renderer();
        renderer
            .dispatch_event(id, "scroll", &args)
            .expect("scroll");
        renderer
            .render()
            .expect("render")
            .map(|batch| batch.to_json().len())
    });
}

/// Scrolling by one screen (20 rows leave, 20 enter).
#[divan::bench]
fn scroll_one_screen(bencher: Bencher) {
    step(bencher, VIEWPORT_PX);
}

/// Scrolling by one row (one leaves, one enters).
#[divan::bench]
fn scroll_one_row(bencher: Bencher) {
    step(bencher, ROW_PX);
}

/// A jump of 10,000 rows (the whole range is replaced).
#[divan::bench]
fn scroll_jump(bencher: Bencher) {
    step(bencher, 10_000.0 * ROW_PX);
}
