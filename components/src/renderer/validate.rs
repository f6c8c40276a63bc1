//! Markup checks the diff relies on: bindings and slot placeholders come from this render, each slot is
//! placed once, and sibling keys are unique.

use crate::component::{ChildSpec, Rendered};
use crate::event::EventKind;
use crate::hash::FastSet;
use crate::tree::{self, NodeKind, Span, Tree};

/// The checks of [`check_tree`] for a partly re-parsed tree: bindings everywhere (render indices may
/// have moved), keys inside the re-parsed element.
pub(super) fn check_reparsed(reparsed: &tree::Reparsed, kinds: &[EventKind]) -> Result<(), String> {
    let tree = &reparsed.tree;
    check_bindings(tree, kinds)?;
    let NodeKind::Element(tree::Element { kids, end, .. }) = tree.node(reparsed.element).kind
    else {
        return Ok(());
    };
    check_unique_keys(tree, kids)?;
    for node in &tree.nodes[reparsed.element as usize + 1..end as usize] {
        if let NodeKind::Element(el) = node.kind {
            check_unique_keys(tree, el.kids)?;
        }
    }
    Ok(())
}

fn check_bindings(tree: &Tree, kinds: &[EventKind]) -> Result<(), String> {
    for b in &tree.events {
        match kinds.get(b.render_index as usize) {
            Some(&kind) if kind == b.kind => {}
            Some(&kind) => {
                return Err(format!(
                    "`{}` is given a handler made for `{kind}`: use cx.on_{}(…)",
                    b.kind.attribute(),
                    b.kind
                ))
            }
            None => {
                return Err(format!(
                    "`{}` names handler {} that this render did not bind: use the value cx.on_{}(…) returned",
                    b.kind.attribute(),
                    b.render_index,
                    b.kind
                ))
            }
        }
    }
    Ok(())
}

/// Parses a render's markup and checks what the diff relies on: binding and slot placeholders come from
/// this render, each slot once, and sibling keys are unique. Slot nodes get their spec's key.
pub(super) fn check_tree(rendered: Rendered) -> Result<(Tree, Vec<Option<ChildSpec>>), String> {
    let mut tree = tree::parse(rendered.html).map_err(|e| e.to_string())?;
    let mut specs: Vec<Option<ChildSpec>> = rendered.children.into_iter().map(Some).collect();
    let mut used = vec![false; specs.len()];
    check_bindings(&tree, &rendered.handler_kinds)?;
    for i in 0..tree.nodes.len() {
        if let NodeKind::Slot { spec, .. } = tree.nodes[i].kind {
            let spec = spec as usize;
            if spec >= specs.len() || used[spec] {
                return Err(format!(
                    "child component placeholder {spec} is not from this render or is used twice"
                ));
            }
            used[spec] = true;
            if let Some((start, end)) = specs[spec].as_ref().and_then(|s| s.key) {
                let key = tree
                    .shape
                    .push_str(&rendered.keys[start as usize..end as usize]);
                tree.nodes[i].set_key(Some(key));
            }
        }
    }
    for (spec, used) in specs.iter_mut().zip(&used) {
        if !*used {
            // A child that was created but not placed in the markup is simply not shown.
            *spec = None;
        }
    }
    check_unique_keys(&tree, tree.shape.top)?;
    for node in &tree.nodes {
        if let NodeKind::Element(el) = node.kind {
            check_unique_keys(&tree, el.kids)?;
        }
    }
    Ok((tree, specs))
}

fn check_unique_keys(tree: &Tree, siblings: Span) -> Result<(), String> {
    let siblings = tree.shape.kids(siblings);
    let mut keys = siblings
        .iter()
        .filter_map(|&i| tree.node(i).key().map(|k| tree.shape.str(k)));
    let Some(first) = keys.next() else {
        return Ok(());
    };
    let mut seen: FastSet<&str> =
        FastSet::with_capacity_and_hasher(siblings.len(), Default::default());
    seen.insert(first);
    for key in keys {
        if !seen.insert(key) {
            return Err(format!(
                "duplicate key `{}` among siblings",
                tree::decode_entities(key)
            ));
        }
    }
    Ok(())
}
