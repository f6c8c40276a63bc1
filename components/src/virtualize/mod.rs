//! Virtualized lists: render only the rows in view, plus a margin, with a spacer element standing in for
//! the rows above and another for the rows below.
//!
//! A [`Virtualizer`] holds no rows, only the list's length, its row heights and the range in view. The
//! component writes the scrolling container with a `t-scroll` binding whose handler passes the
//! [`ScrollEvent`] to [`Virtualizer::scrolled`], and renders [`Virtualizer::range`] between
//! [`Virtualizer::before`] and [`Virtualizer::after`], each row an element with `t-key` so that the keyed
//! diff keeps a row's DOM node while it stays in view.
//!
//! Invariants: `range()` lies within `0..len()`; it holds at most the rows a viewport can show plus twice
//! the overscan (so the DOM and the render tree hold a bounded number of rows whatever the length); the
//! spacers' heights plus the rendered rows' heights add up to the list's full height under the current
//! height estimate, so the scroll bar covers the whole list.
//!
//! Row heights are either [`RowHeights::Fixed`] or [`RowHeights::Measured`]: then the container carries
//! `t-measure`, the browser reports the rendered rows' count and summed height with each scroll, and the
//! mean of what it reported becomes the height of every row (rows taller or shorter than the mean only shift
//! the spacers a little; nothing per row is kept, so a million-row list costs the same as a short one).

use std::ops::Range;

use maud::{html, Markup};

use crate::component::Binding;
use crate::event::ScrollEvent;

/// How tall the rows are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowHeights {
    /// Every row is this many pixels tall (set it in CSS too).
    Fixed(f64),
    /// Rows vary; this many pixels is the first estimate, replaced by the mean the browser measures.
    Measured(f64),
}

/// The throttle of the scroll reports, in milliseconds (the `t-throttle` of the container).
pub const SCROLL_THROTTLE_MS: u32 = 50;

/// The inline style every virtualized container needs: it scrolls, and the browser does not move the scroll
/// position when the spacers change (scroll anchoring would fight the server's range).
pub const CONTAINER_STYLE: &str = "overflow-y:auto;overflow-anchor:none;";

/// The window of a long list that is in view. See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Virtualizer {
    len: usize,
    heights: RowHeights,
    /// Summed height and count of every row the browser measured (measured heights only).
    measured: (f64, u64),
    overscan: usize,
    viewport: f64,
    scroll_top: f64,
    range: Range<usize>,
}

impl Virtualizer {
    /// A list of `len` rows; until the browser reports its scroll position, the viewport is taken to be
    /// 600 pixels tall and scrolled to the top. The overscan is 10 rows on each side.
    pub fn new(len: usize, heights: RowHeights) -> Self {
        let mut list = Virtualizer {
            len,
            heights,
            measured: (0.0, 0),
            overscan: 10,
            viewport: 600.0,
            scroll_top: 0.0,
            range: 0..0,
        };
        list.update_range();
        list
    }

    /// Renders `rows` more rows than are in view on each side (fewer requests while scrolling slowly).
    pub fn overscan(mut self, rows: usize) -> Self {
        self.overscan = rows;
        self.update_range();
        self
    }

    /// The viewport height assumed before the first scroll report: the container's CSS height in pixels.
    pub fn viewport_height(mut self, pixels: f64) -> Self {
        self.viewport = pixels.max(0.0);
        self.update_range();
        self
    }

    /// How many rows the list has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The list grew or shrank; the range is clamped to it.
    pub fn set_len(&mut self, len: usize) {
        self.len = len;
        self.update_range();
    }

    /// The height of one row in pixels: the fixed height, or the current estimate.
    pub fn row_height(&self) -> f64 {
        match self.heights {
            RowHeights::Fixed(height) => height,
            RowHeights::Measured(first) => match self.measured {
                (sum, rows) if rows > 0 && sum > 0.0 => sum / rows as f64,
                _ => first,
            },
        }
        .max(1.0)
    }

    /// The rows to render: those in view plus the overscan on each side.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// Takes the browser's scroll report; returns whether the range changed (the component re-renders
    /// either way when its handler ran; a range that did not change sends nothing to the browser).
    pub fn scrolled(&mut self, event: &ScrollEvent) -> bool {
        if let (RowHeights::Measured(_), Some((rows, height))) = (self.heights, event.measured) {
            if rows > 0 && height.is_finite() && height > 0.0 {
                self.measured.0 += height;
                self.measured.1 += u64::from(rows);
            }
        }
        if event.scroll_top.is_finite() {
            self.scroll_top = event.scroll_top.max(0.0);
        }
        if event.client_height.is_finite() && event.client_height > 0.0 {
            self.viewport = event.client_height;
        }
        let before = self.range.clone();
        self.update_range();
        before != self.range
    }

    fn update_range(&mut self) {
        self.range = visible_range(
            self.len,
            self.row_height(),
            self.scroll_top,
            self.viewport,
            self.overscan,
        );
    }

    /// The spacer standing in for the rows above the range.
    pub fn before(&self) -> Markup {
        spacer(self.range.start as f64 * self.row_height())
    }

    /// The spacer standing in for the rows below the range.
    pub fn after(&self) -> Markup {
        spacer((self.len - self.range.end) as f64 * self.row_height())
    }

    /// The scrolling container with its spacers around `rows`: `id` and `style` (give it a height) are the
    /// element's, `scroll` is the component's `cx.on_scroll(…)` binding.
    pub fn view(&self, id: &str, style: &str, scroll: Binding, rows: Markup) -> Markup {
        let measure = matches!(self.heights, RowHeights::Measured(_));
        html! {
            div id=(id) style={ (CONTAINER_STYLE) (style) } t-scroll=(scroll)
                t-throttle=(SCROLL_THROTTLE_MS) t-measure[measure] {
                (self.before())
                (rows)
                (self.after())
            }
        }
    }
}

fn spacer(height: f64) -> Markup {
    html! { div.t-spacer aria-hidden="true" style={ "height:" (height.round() as u64) "px" } {} }
}

/// The rows from the first one visible at `scroll_top` through the last one visible in `viewport` pixels,
/// widened by `overscan` rows on each side and clamped to `0..len`.
pub fn visible_range(
    len: usize,
    row_height: f64,
    scroll_top: f64,
    viewport: f64,
    overscan: usize,
) -> Range<usize> {
    let row_height = if row_height.is_finite() && row_height >= 1.0 {
        row_height
    } else {
        1.0
    };
    let scroll_top = if scroll_top.is_nan() {
        0.0
    } else {
        scroll_top.max(0.0)
    };
    let viewport = if viewport.is_nan() {
        0.0
    } else {
        viewport.max(0.0)
    };
    // NaN and negatives are row 0, anything past the end (infinity too) is the end.
    let clamp = |rows: f64| {
        if rows.is_nan() || rows <= 0.0 {
            0
        } else if rows >= len as f64 {
            len
        } else {
            rows as usize
        }
    };
    let first = clamp((scroll_top / row_height).floor());
    let last = clamp(((scroll_top + viewport) / row_height).ceil()).max(first);
    let start = first.saturating_sub(overscan);
    let end = last.saturating_add(overscan).min(len);
    // Scrolled past the end (the list shrank): keep the last screenful.
    if start >= end && len > 0 {
        let shown = clamp((viewport / row_height).ceil()).max(1) + overscan;
        return len.saturating_sub(shown)..len;
    }
    start..end
}

#[cfg(test)]
mod tests;
