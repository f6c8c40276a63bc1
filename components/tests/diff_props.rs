//! Property tests: for random trees and random keyed-list changes, applying the diff's batches to the
//! previous in-memory DOM gives the same document as a fresh render of the new state, and keyed nodes that
//! survive a change keep their DOM identity.

use std::collections::{HashMap, HashSet};

use maud::{html, Markup};
use proptest::prelude::*;
use tether_components::testing::{Harness, NodeRef};
use tether_components::{Component, RawHtml, RenderContext};

#[derive(Clone, Debug, PartialEq)]
enum G {
    El(u8, Option<u8>, Vec<G>),
    Text(u8),
    Raw(u8),
    List(Vec<(u8, u8, bool)>),
    Child(u8, u8),
    Input(u8, bool),
}

fn tree() -> impl Strategy<Value = G> {
    let leaf = prop_oneof![
        (0u8..3).prop_map(G::Text),
        (0u8..2).prop_map(G::Raw),
        prop::collection::vec((0u8..8, 0u8..3, any::<bool>()), 0..7).prop_map(G::List),
        ((0u8..3), (0u8..3)).prop_map(|(k, p)| G::Child(k, p)),
        ((0u8..2), any::<bool>()).prop_map(|(v, c)| G::Input(v, c)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        (
            0u8..3,
            prop::option::of(0u8..2),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(t, c, kids)| G::El(t, c, kids))
    })
}

struct Leaf {
    clicks: u32,
}

impl Component for Leaf {
    type Props = u8;

    fn create(_: &u8) -> Self {
        Leaf { clicks: 0 }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { b t-click=(cx.on_click(|this: &mut Self, _| this.clicks += 1)) { "leaf " (cx.props()) "/" (self.clicks) } }
    }
}

struct Gen {
    root: G,
}

fn render_list(cx: &mut RenderContext<'_, Gen>, nodes: &[G]) -> Markup {
    let mut child_keys = HashSet::new();
    html! {
        @for node in nodes {
            @match node {
                G::El(tag, class, kids) => {
                    @let class = class.map(|c| format!("c{c}"));
                    @let inner = render_list(cx, kids);
                    @match tag {
                        0 => div class=[class] { (inner) },
                        1 => span class=[class] { (inner) },
                        _ => section class=[class] { (inner) },
                    }
                }
                G::Text(t) => { "t" (t) }
                G::Raw(r) => (RawHtml(format!("<i>raw {r}</i>")))
                G::List(items) => {
                    ul {
                        @let mut seen = HashSet::new();
                        @for (k, label, on) in items {
                            @if seen.insert(*k) {
                                li t-key=(k) data-k=(k) class=[on.then_some("on")] {
                                    "item " (label)
                                    button t-click=(cx.on_click(|_: &mut Gen, _| {})) { "x" }
                                }
                            }
                        }
                    }
                }
                G::Child(k, p) => {
                    @if child_keys.insert(*k) {
                        (cx.child_keyed::<Leaf>(k, *p))
                    } @else {
                        (cx.child::<Leaf>(*p))
                    }
                }
                G::Input(v, c) => input type="checkbox" value=(format!("v{v}")) checked[*c];
            }
        }
    }
}

impl Component for Gen {
    type Props = G;

    fn create(root: &G) -> Self {
        Gen { root: root.clone() }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        render_list(cx, std::slice::from_ref(&self.root))
    }
}

fn fresh_canonical(root: &G) -> String {
    Harness::mount::<Gen>(root.clone()).dom().canonical(0)
}

fn keyed_nodes(h: &Harness) -> HashMap<String, NodeRef> {
    h.dom()
        .select_all("li[data-k]")
        .into_iter()
        .map(|n| (h.dom().attribute(n, "data-k").unwrap().to_owned(), n))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn patched_dom_equals_fresh_render(trees in prop::collection::vec(tree(), 2..5)) {
        let mut h = Harness::mount::<Gen>(trees[0].clone());
        for t in &trees[1..] {
            let t2 = t.clone();
            h.handle::<Gen>().update(move |g| g.root = t2);
            h.try_flush().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(h.dom().canonical(0), fresh_canonical(t));
            // No handler leaks: every live handler id is on an element of the document.
            prop_assert_eq!(h.dom().select_all("[t-click]").len(), h.renderer().handler_count());
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(usize, u8),
    Remove(usize),
    Move(usize, usize),
    Shuffle(u64),
    Label(usize, u8),
    Class(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), 0u8..40).prop_map(|(p, k)| Op::Insert(p, k)),
        any::<usize>().prop_map(Op::Remove),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Move(a, b)),
        any::<u64>().prop_map(Op::Shuffle),
        (any::<usize>(), 0u8..3).prop_map(|(p, l)| Op::Label(p, l)),
        any::<usize>().prop_map(Op::Class),
    ]
}

fn apply(items: &mut Vec<(u8, u8, bool)>, op: &Op) {
    let n = items.len();
    match *op {
        Op::Insert(p, k) if !items.iter().any(|i| i.0 == k) => {
            items.insert(p % (n + 1), (k, 0, false));
        }
        Op::Remove(p) if n > 0 => {
            items.remove(p % n);
        }
        Op::Move(a, b) if n > 0 => {
            let item = items.remove(a % n);
            items.insert(b % n, item);
        }
        Op::Shuffle(mut seed) => {
            for i in (1..n).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                items.swap(i, (seed >> 33) as usize % (i + 1));
            }
        }
        Op::Label(p, l) if n > 0 => items[p % n].1 = l,
        Op::Class(p) if n > 0 => items[p % n].2 = !items[p % n].2,
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn keyed_changes_keep_identity(
        initial in prop::collection::btree_set(0u8..40, 0..20),
        steps in prop::collection::vec(prop::collection::vec(op(), 1..4), 1..6),
    ) {
        let mut items: Vec<(u8, u8, bool)> = initial.into_iter().map(|k| (k, 0, false)).collect();
        let mut h = Harness::mount::<Gen>(G::List(items.clone()));
        for step in steps {
            for op in &step {
                apply(&mut items, op);
            }
            let before = keyed_nodes(&h);
            let next = G::List(items.clone());
            let n2 = next.clone();
            h.handle::<Gen>().update(move |g| g.root = n2);
            h.try_flush().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(h.dom().canonical(0), fresh_canonical(&next));
            let after = keyed_nodes(&h);
            for (key, node) in &after {
                if let Some(old) = before.get(key) {
                    prop_assert_eq!(old, node, "row {} lost its identity", key);
                }
            }
        }
    }
}
