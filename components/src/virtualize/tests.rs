use maud::{html, Markup};
use serde_json::json;

use super::*;
use crate::testing::Harness;
use crate::{Component, RenderContext};

#[test]
fn ranges_cover_the_viewport_plus_the_overscan_and_stay_in_bounds() {
    // 20 px rows, a 400 px viewport: 20 rows in view.
    assert_eq!(visible_range(100_000, 20.0, 0.0, 400.0, 10), 0..30);
    assert_eq!(visible_range(100_000, 20.0, 1_000.0, 400.0, 10), 40..80);
    // Part of a row at each edge counts as in view.
    assert_eq!(visible_range(100_000, 20.0, 1_010.0, 400.0, 0), 50..71);
    // The end of the list.
    assert_eq!(
        visible_range(100_000, 20.0, 2_000_000.0 - 400.0, 400.0, 10),
        99_970..100_000
    );
    // Past the end (the list shrank under the scroll position): the last screenful.
    assert_eq!(visible_range(50, 20.0, 1e9, 400.0, 0), 30..50);
    assert_eq!(visible_range(50, 20.0, 1e9, 400.0, 5), 45..50);
    // Short lists, empty lists, nonsense input.
    assert_eq!(visible_range(5, 20.0, 0.0, 400.0, 10), 0..5);
    assert_eq!(visible_range(0, 20.0, 0.0, 400.0, 10), 0..0);
    assert_eq!(visible_range(100, f64::NAN, -5.0, f64::INFINITY, 2), 0..100);
    assert_eq!(visible_range(100, 0.0, f64::NAN, 10.0, 0), 0..10);
}

#[test]
fn spacers_and_rows_add_up_to_the_full_height() {
    let mut list = Virtualizer::new(100_000, RowHeights::Fixed(24.0)).viewport_height(480.0);
    assert!(list.scrolled(&ScrollEvent {
        scroll_top: 24.0 * 5_000.0,
        client_height: 480.0,
        ..ScrollEvent::default()
    }));
    let range = list.range();
    assert_eq!(range, 4_990..5_030);
    let height = |m: Markup| -> u64 {
        let s = m.into_string();
        let start = s.find("height:").unwrap() + 7;
        s[start..s.find("px").unwrap()].parse().unwrap()
    };
    let total = height(list.before()) + range.len() as u64 * 24 + height(list.after());
    assert_eq!(total, 24 * 100_000);
    // The same position again changes nothing.
    assert!(!list.scrolled(&ScrollEvent {
        scroll_top: 24.0 * 5_000.0,
        client_height: 480.0,
        ..ScrollEvent::default()
    }));
}

#[test]
fn measured_heights_replace_the_estimate_with_the_browsers_mean() {
    let mut list = Virtualizer::new(1_000, RowHeights::Measured(10.0)).viewport_height(100.0);
    assert_eq!(list.row_height(), 10.0);
    list.scrolled(&ScrollEvent {
        scroll_top: 0.0,
        client_height: 100.0,
        scroll_height: 10_000.0,
        measured: Some((20, 800.0)),
    });
    assert_eq!(list.row_height(), 40.0);
    assert_eq!(list.range(), 0..13);
    // Reports without rows, or with nonsense, leave the estimate alone; fixed heights ignore reports.
    list.scrolled(&ScrollEvent {
        measured: Some((0, 0.0)),
        ..ScrollEvent::default()
    });
    assert_eq!(list.row_height(), 40.0);
    let mut fixed = Virtualizer::new(1_000, RowHeights::Fixed(10.0));
    fixed.scrolled(&ScrollEvent {
        measured: Some((20, 800.0)),
        ..ScrollEvent::default()
    });
    assert_eq!(fixed.row_height(), 10.0);
}

struct Rows {
    list: Virtualizer,
}

impl Component for Rows {
    type Props = usize;
    fn create(len: &usize) -> Self {
        Rows {
            list: Virtualizer::new(*len, RowHeights::Fixed(20.0)).viewport_height(400.0),
        }
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let scroll = cx.on_scroll(|this: &mut Self, e| {
            this.list.scrolled(&e);
        });
        let rows = html! {
            @for i in self.list.range() { div.row t-key=(i) { "Row " (i + 1) } }
        };
        self.list.view("rows", "height:400px", scroll, rows)
    }
}

#[test]
fn a_100000_row_list_keeps_a_screenful_of_rows_and_their_nodes() {
    let mut h = Harness::mount::<Rows>(100_000);
    let rows = h.dom().select_all(".row");
    assert_eq!(rows.len(), 30);
    assert_eq!(h.dom().text(rows[0]), "Row 1");
    let container = h.find("#rows");
    assert_eq!(h.dom().attribute(container, "t-throttle"), Some("50"));

    // Scrolling by five rows keeps the rows still in view as the same nodes.
    let row_ten = h.dom().node_id(rows[10]);
    h.fire(
        "#rows",
        "scroll",
        json!({"scrollTop": 100, "clientHeight": 400}),
    );
    let rows = h.dom().select_all(".row");
    assert_eq!(rows.len(), 35);
    assert_eq!(h.dom().text(rows[0]), "Row 1");
    assert_eq!(h.dom().node_id(rows[10]), row_ten);
    h.fire(
        "#rows",
        "scroll",
        json!({"scrollTop": 400, "clientHeight": 400}),
    );
    let rows = h.dom().select_all(".row");
    assert_eq!(h.dom().text(rows[0]), "Row 11");
    assert_eq!(h.dom().node_id(rows[0]), row_ten);

    // The end of the list.
    h.fire(
        "#rows",
        "scroll",
        json!({"scrollTop": 2_000_000 - 400, "clientHeight": 400}),
    );
    let rows = h.dom().select_all(".row");
    assert_eq!(rows.len(), 30);
    assert_eq!(h.dom().text(*rows.last().unwrap()), "Row 100000");
    // The render tree holds what the DOM holds: the whole region is two spacers and 30 rows.
    let html = h.html();
    assert_eq!(html.matches("class=\"row\"").count(), 30);
    assert!(html.len() < 4_000, "{} bytes", html.len());
}
