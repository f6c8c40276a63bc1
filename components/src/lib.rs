//! Tether's component model: components render maud markup, the renderer keeps the tree the browser shows,
//! diffs each new render against it and encodes the edits as render batches. No network code lives here.
