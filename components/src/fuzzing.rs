//! Entry points for the fuzz targets in `fuzz/` (the `fuzzing` feature), and the oracle their findings are
//! replayed through in `tests/fuzz_regressions.rs`. Not a public API.
//!
//! Only calls the code the renderer itself uses, so a target exercises the real thing; this file is the
//! only one that names the crate-private paths.

use maud::{Markup, PreEscaped};

use crate::testing::Harness;
use crate::{tree, Component, RenderContext};

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

/// A component that renders whatever markup it holds, unescaped, so any input reaches the renderer.
pub struct RawMarkup {
    /// What the next render returns.
    pub markup: String,
}

impl Component for RawMarkup {
    type Props = String;

    fn create(markup: &String) -> Self {
        RawMarkup {
            markup: markup.clone(),
        }
    }

    fn render(&self, _: &mut RenderContext<'_, Self>) -> Markup {
        PreEscaped(self.markup.clone())
    }
}

/// Mounts [`RawMarkup`] with `first`, re-renders it with `second`, and answers the canonical form of the
/// patched DOM and of a fresh render of `second` (the diff is right when they are equal), or why the diff
/// did not apply. Both renders must mount on their own.
pub fn patched_and_fresh(
    first: &str,
    second: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let mut patched = Harness::mount::<RawMarkup>(first.to_owned());
    let next = second.to_owned();
    patched
        .handle::<RawMarkup>()
        .update(move |raw| raw.markup = next);
    patched.try_flush()?;
    let fresh = Harness::mount::<RawMarkup>(second.to_owned());
    Ok((patched.dom().canonical(0), fresh.dom().canonical(0)))
}
