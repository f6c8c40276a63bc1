//! Big data pages: `/stress`, 100,000 generated rows in a virtualized list, and `/stats`, a page whose
//! data loads after its first render (streamed rendering: the prerendered HTML shows the loading state and
//! the circuit fills the data in).

use std::time::Duration;

use maud::{html, Markup};
use tether_components::load::Load;
use tether_components::virtualize::{RowHeights, Virtualizer};
use tether_components::{Component, Context, RenderContext};

use crate::store::NoteStore;

/// How many rows `/stress` shows.
pub const STRESS_ROWS: usize = 100_000;
const ROW_PX: f64 = 24.0;
const VIEWPORT_PX: f64 = 480.0;

/// `/stress`: rows `Row 1` … `Row 100000` in the virtualized list `#rows`.
pub struct Stress {
    rows: Virtualizer,
}

impl Component for Stress {
    type Props = ();
    fn create(_: &()) -> Self {
        Stress {
            rows: Virtualizer::new(STRESS_ROWS, RowHeights::Fixed(ROW_PX))
                .viewport_height(VIEWPORT_PX),
        }
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let scroll = cx.on_scroll(|page: &mut Self, event| {
            page.rows.scrolled(&event);
        });
        let range = self.rows.range();
        let rows = html! {
            @for i in range.clone() {
                div.stress-row t-key=(i) style="height:24px;line-height:24px;overflow:hidden" { "Row " (i + 1) }
            }
        };
        html! {
            h1 { "Stress" }
            p.muted #shown { "Rows " (range.start + 1) "–" (range.end) " of " (self.rows.len()) " are rendered." }
            (self.rows.view("rows", "height:480px;border:1px solid #ccc", scroll, rows))
        }
    }
}

/// How long `/stats` takes to load: `NOTES_STATS_DELAY_MS`, default 300.
fn stats_delay() -> Duration {
    std::env::var("NOTES_STATS_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_millis(300), Duration::from_millis)
}

/// What `/stats` shows once loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    notes: usize,
    words: usize,
}

async fn load_stats(store: Option<NoteStore>) -> Result<Stats, String> {
    tokio::time::sleep(stats_delay()).await;
    let notes = store.ok_or("no note store")?.all();
    let words = notes
        .iter()
        .map(|n| n.body.split_whitespace().count())
        .sum();
    Ok(Stats {
        notes: notes.len(),
        words,
    })
}

/// `/stats`: counts over the notes, loaded slowly (as a database query would be).
pub struct StatsPage {
    stats: Load<Stats>,
    store: Option<NoteStore>,
}

impl Component for StatsPage {
    type Props = ();
    fn create(_: &()) -> Self {
        StatsPage {
            stats: Load::default(),
            store: None,
        }
    }
    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.store = cx.service();
        // Prerendering drops this load with the page's renderer; the circuit's own `init` starts it again.
        let load = load_stats(self.store.clone());
        self.stats
            .start(&cx.handle(), load, |page: &mut Self| &mut page.stats);
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let handle = cx.handle();
        let reload = cx.on_click(move |page: &mut Self, _| {
            if page.stats.is_loading() {
                return;
            }
            let load = load_stats(page.store.clone());
            page.stats
                .start(&handle, load, |page: &mut Self| &mut page.stats);
        });
        html! {
            h1 { "Statistics" }
            div #stats {
                @match &self.stats {
                    Load::Loading(_) => p.loading aria-busy="true" { "Loading statistics…" },
                    Load::Ready(stats) => dl.stats-data {
                        dt { "Notes" } dd.count { (stats.notes) }
                        dt { "Words" } dd.words { (stats.words) }
                    },
                    Load::Failed(reason) => p.error { "Could not load: " (reason) },
                }
            }
            button #reload-stats t-click=(reload) disabled[self.stats.is_loading()] { "Reload" }
        }
    }
}
