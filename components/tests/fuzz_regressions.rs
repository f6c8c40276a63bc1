//! Inputs found by the fuzz targets in `fuzz/` (see fuzz/README.md), minimised, each with the invariant
//! it broke. A new finding gets its test here before its fix.

use tether_components::fuzzing::{patched_and_fresh, RawMarkup};
use tether_components::testing::Harness;

/// Renders `first`, then `second`, and checks the patched DOM equals a fresh render of `second`.
fn assert_diff_matches_fresh_render(first: &str, second: &str) {
    match patched_and_fresh(first, second) {
        Ok((patched, fresh)) => assert_eq!(patched, fresh),
        Err(e) => panic!("the diff from {first:?} to {second:?} does not apply: {e}"),
    }
}

/// markup_tree: attribute names were compared case-sensitively, so `oC` and `oc` were two attributes to
/// the diff but one to the browser, which lowercases them. Removing `oC` failed in the test DOM, and in a
/// browser the diff from `oc="1"` to `OC="1"` (set `OC`, then remove `oc`) lost the attribute.
#[test]
fn attribute_names_differing_only_in_case_are_one_attribute() {
    assert_diff_matches_fresh_render(
        r#"<p id="count"oC>ntu: 0</p><button id="increment">+1</button>"#,
        r#"<p id="count">Count: 0</p><button id="increment">+1</button>"#,
    );
    assert_diff_matches_fresh_render(r#"<p oc="1">x</p>"#, r#"<p OC="1">x</p>"#);
    assert_diff_matches_fresh_render(r#"<p oc="1">x</p>"#, r#"<p OC="2">x</p>"#);

    let mut harness = Harness::mount::<RawMarkup>(r#"<p id="p" oc="1">x</p>"#.to_owned());
    harness
        .handle::<RawMarkup>()
        .update(|raw| raw.markup = r#"<p id="p" OC="1">x</p>"#.to_owned());
    harness.flush();
    let p = harness.find("#p");
    assert_eq!(harness.dom().attribute(p, "oc"), Some("1"));
}

/// markup_tree: a removed `value` attribute is diffed as the `value` property set to "" (by design: the
/// attribute no longer controls what an edited field shows), so the patched input kept an empty value
/// where a fresh render has none. Both show an empty field; the harness's canonical form now says so.
#[test]
fn a_removed_input_value_equals_an_absent_one() {
    assert_diff_matches_fresh_render(
        r#"<form><input id="nam5e" value=""><input id="agree" type="checkbox"></form>"#,
        r#"<form><input id="name"va lue=""><input id="agrae" type="checibox"></form>"#,
    );
    assert_diff_matches_fresh_render(r#"<input id="a" value="x">"#, r#"<input id="a">"#);
}
