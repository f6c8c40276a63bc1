//! The diff's edits for small, exact cases (the property tests in `tests/diff_props.rs` check that any
//! incremental render ends where a fresh one does; these check that it gets there with the fewest edits).

use maud::{html, Markup};

use crate::batch::{Edit, PropertyValue};
use crate::{Component, RenderContext, Renderer};

/// A list of keyed items and a text field, both set from outside through a handle.
struct List {
    keys: Vec<u32>,
    value: String,
    checked: bool,
}

impl Component for List {
    type Props = ();

    fn create(_: &()) -> Self {
        List {
            keys: vec![1, 2, 3, 4],
            value: "a".into(),
            checked: true,
        }
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            input value=(self.value) checked[self.checked];
            ul { @for k in &self.keys { li t-key=(k) { (k) } } }
        }
    }
}

fn edits_after(update: impl FnOnce(&mut List) + Send + 'static) -> Vec<Edit> {
    let mut renderer = Renderer::new(Default::default());
    renderer.mount_root_component::<List>(()).unwrap();
    renderer.render().unwrap().expect("first render attaches");
    renderer.root_handle::<List>(0).unwrap().update(update);
    renderer.process_messages().unwrap();
    let batch = renderer.render().unwrap();
    batch.map_or_else(Vec::new, |b| b.edits)
}

#[test]
fn a_moved_keyed_item_is_one_move() {
    let edits = edits_after(|l| l.keys = vec![4, 1, 2, 3]);
    assert!(matches!(edits[..], [Edit::MoveBefore { .. }]), "{edits:?}");
}

#[test]
fn a_new_run_is_one_insert_and_a_removed_item_one_remove() {
    let edits = edits_after(|l| l.keys = vec![1, 5, 6, 2, 4]);
    assert!(
        matches!(edits[..], [Edit::Remove { .. }, Edit::InsertBefore { ref html, .. }] if html == "<li>5</li><li>6</li>"),
        "{edits:?}"
    );
}

#[test]
fn form_fields_change_through_properties() {
    let edits = edits_after(|l| {
        l.value = "b&c".into();
        l.checked = false;
    });
    assert!(
        matches!(&edits[..], [
            Edit::SetProperty { name: "value", value: PropertyValue::Text(v), .. },
            Edit::SetProperty { name: "checked", value: PropertyValue::Bool(false), .. },
        ] if v == "b&c"),
        "{edits:?}"
    );
}

#[test]
fn an_unchanged_render_makes_no_batch() {
    assert!(edits_after(|_| {}).is_empty());
}
