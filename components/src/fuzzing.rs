//! Entry points for the fuzz targets in `fuzz/` (the `fuzzing` feature). Not a public API.
//!
//! Only calls the parser the renderer itself uses, so a target exercises the real code; this file is the
//! only one that names the crate-private paths.

use crate::tree;

/// Parses one component's markup as the renderer does: the number of nodes, or the error.
pub fn parse_markup(markup: &str) -> Result<usize, crate::MarkupError> {
    tree::parse(markup.to_owned()).map(|t| t.nodes.len())
}

/// Parses `old`, then re-parses `new` incrementally from it. `None` when either does not parse or the
/// incremental path does not apply; otherwise the node count of the incremental tree and of a fresh parse.
pub fn reparse_node_counts(old: &str, new: &str) -> Option<(usize, usize)> {
    let old = tree::parse(old.to_owned()).ok()?;
    let fresh = tree::parse(new.to_owned()).ok()?;
    let incremental = tree::reparse(&old, new.to_owned()).ok()?;
    Some((incremental.tree.nodes.len(), fresh.nodes.len()))
}
