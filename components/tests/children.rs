//! Child components: props passed down, unchanged children skipped, keyed identity, disposal, duplicate keys.

mod support;

use maud::{html, Markup};
use support::*;
use tether_components::testing::Harness;
use tether_components::{Component, ComponentRegistry, RenderContext, Renderer};

#[test]
fn unchanged_children_are_not_re_rendered() {
    let mut h = Harness::mount::<ChildList>(rows(&[1, 2, 3]));
    assert_eq!(take_log(), ["ChildList", "Row:1", "Row:2", "Row:3"]);
    h.handle::<ChildList>()
        .update(|l| l.rows[1].1 = "changed".into());
    h.flush();
    assert_eq!(take_log(), ["ChildList", "Row:2"]);
    assert_eq!(h.dom().text(h.find("li[data-k=2]")), "changed (0)+");
    // A parent re-render with equal props touches no child.
    h.handle::<ChildList>().request_render();
    assert_eq!(h.flush(), None);
    assert_eq!(take_log(), ["ChildList"]);
}

#[test]
fn keyed_children_keep_state_and_dom_identity_when_moved() {
    let mut h = Harness::mount::<ChildList>(rows(&[1, 2, 3]));
    h.click("li[data-k=3] button");
    h.click("li[data-k=3] button");
    let li3 = h.find("li[data-k=3]");
    h.handle::<ChildList>().update(|l| l.rows.reverse());
    h.flush();
    assert_eq!(h.find("li[data-k=3]"), li3);
    assert_eq!(h.dom().text(li3), "row 3 (2)+");
    let order: Vec<String> = h
        .dom()
        .select_all("li")
        .into_iter()
        .map(|n| h.dom().attribute(n, "data-k").unwrap().to_owned())
        .collect();
    assert_eq!(order, ["3", "2", "1"]);
    take_log();
    h.handle::<ChildList>()
        .update(|l| l.rows.retain(|r| r.0 != 2));
    h.flush();
    assert_eq!(take_log(), ["ChildList", "dispose Row"]);
    assert_eq!(h.renderer().component_count(), 3);
}

struct Dupes;

impl Component for Dupes {
    type Props = bool;

    fn create(_: &bool) -> Self {
        Dupes
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        if *cx.props() {
            html! { ul { li t-key="a" {} li t-key="b" {} li t-key="a" {} } }
        } else {
            html! { ul { (cx.child_keyed::<Counter>("x", 0)) (cx.child_keyed::<Counter>("x", 1)) } }
        }
    }
}

#[test]
fn duplicate_sibling_keys_are_an_error_naming_the_key() {
    for elements in [true, false] {
        let mut r = Renderer::new(std::sync::Arc::new(ComponentRegistry::new()));
        let err = r.mount_root_component::<Dupes>(elements).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("duplicate key `"), "{text}");
        assert!(
            text.contains(if elements { "`a`" } else { "`x`" }),
            "{text}"
        );
        assert!(text.contains("Dupes"), "{text}");
    }
}

struct Swap {
    first: bool,
}

impl Component for Swap {
    type Props = ();

    fn create(_: &()) -> Self {
        Swap { first: true }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            div {
                @if self.first { (cx.child::<Counter>(1)) } @else { (cx.child::<Badge>(())) }
                "tail"
            }
        }
    }
}

#[test]
fn a_slot_of_another_type_replaces_the_child() {
    let mut h = Harness::mount::<Swap>(());
    h.click("#increment");
    h.handle::<Swap>().update(|s| s.first = false);
    h.flush();
    assert_eq!(
        h.html(),
        r#"<div><!--t:c--><span class="badge level-1">!</span><!--/t-->tail</div>"#
    );
    assert_eq!(h.renderer().component_count(), 2);
    h.handle::<Swap>().update(|s| s.first = true);
    h.flush();
    // A new counter: fresh state.
    assert!(h.html().contains("Count: 1"));
}
