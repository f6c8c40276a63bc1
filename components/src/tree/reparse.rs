//! Partial re-parse: only the deepest element holding every changed byte is parsed again, and the rest of
//! the old tree is copied around it.

use super::html::{is_raw_text, is_void};
use super::parse::{span, Parser};
use super::{Attr, Binding, NodeIndex, NodeKind, Shape, Span, Tree};

/// Whether two subtrees' source texts are equal except for their bindings' render indices (and so
/// parse to the same nodes). `old_events` and `new_events` are the subtrees' bindings, in source order.
/// Inserting or moving rows shifts the render index of every binding after the change, so a row that
/// is unchanged but moved or shifted usually differs from its old text only there.
pub(crate) fn same_but_render_indices(
    old: &Shape,
    old_outer: Span,
    old_events: &[Binding],
    new: &Shape,
    new_outer: Span,
    new_events: &[Binding],
) -> bool {
    if old_events.len() != new_events.len() || old_events.is_empty() {
        return false;
    }
    let (o, n) = (old.src.as_bytes(), new.src.as_bytes());
    let (mut o_at, mut n_at) = (old_outer.start as usize, new_outer.start as usize);
    for (a, b) in old_events.iter().zip(new_events) {
        if a.flags != b.flags || o[o_at..a.value.start as usize] != n[n_at..b.value.start as usize]
        {
            return false;
        }
        o_at = a.value.range().end;
        n_at = b.value.range().end;
    }
    o[o_at..old_outer.range().end] == n[n_at..new_outer.range().end]
}

/// Length of the common prefix of two byte strings (block compares first, so the long equal runs of a
/// re-render cost a `memcmp`).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix of two byte strings, at most `max`.
fn common_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
    const BLOCK: usize = 256;
    let mut i = 0;
    while i + BLOCK <= max
        && a[a.len() - i - BLOCK..a.len() - i] == b[b.len() - i - BLOCK..b.len() - i]
    {
        i += BLOCK;
    }
    while i < max && a[a.len() - 1 - i] == b[b.len() - 1 - i] {
        i += 1;
    }
    i
}

fn shift(v: u32, by: i64) -> u32 {
    (v as i64 + by) as u32
}

/// A tree rebuilt from the previous one by re-parsing only the content of `element`, the deepest element
/// whose content holds every byte that differs between the two renders' markup.
pub(crate) struct Reparsed {
    pub(crate) tree: Tree,
    pub(crate) element: NodeIndex,
}

/// Re-parses only what changed since `old` was parsed. Everything outside the changed element is copied
/// from `old` (with node ids and handler ids, spans moved by the length difference); the caller diffs
/// only that element's children. Gives the markup back when this does not apply (child component slots,
/// recorded form values, a change at the top level or inside `<script>`/`<style>`, or a fragment that
/// does not parse on its own), so the caller parses it whole.
pub(crate) fn reparse(old: &Tree, html: String) -> Result<Reparsed, String> {
    let sh = &old.shape;
    if old.recorded || !sh.slots.is_empty() || sh.src.len() != sh.markup_len {
        return Err(html);
    }
    let (o, n) = (sh.src.as_bytes(), html.as_bytes());
    let p = common_prefix(o, n);
    let s = common_suffix(o, n, o.len().min(n.len()) - p);
    let (change_start, change_end) = (p as u32, (o.len() - s) as u32);
    let delta = n.len() as i64 - o.len() as i64;

    // Descend to the deepest element whose content (between its tags) holds the change.
    let mut found = None;
    let mut in_p = false;
    let mut list = sh.kids(sh.top);
    'descend: loop {
        for &c in list {
            let NodeKind::Element {
                tag,
                outer,
                inner_start,
                kids,
                ..
            } = old.node(c).kind
            else {
                continue;
            };
            if outer.start > change_start {
                break;
            }
            let tag_name = sh.str(tag);
            if is_void(tag_name) {
                continue;
            }
            let inner_end = outer.start + outer.len - tag.len - 3;
            if inner_start <= change_start && change_end <= inner_end {
                if is_raw_text(tag_name) {
                    break 'descend;
                }
                found = Some((c, inner_end));
                in_p |= tag_name.eq_ignore_ascii_case("p");
                list = sh.kids(kids);
                continue 'descend;
            }
        }
        break;
    }
    let Some((e, inner_end)) = found else {
        return Err(html);
    };
    let NodeKind::Element {
        tag: e_tag,
        attrs: e_attrs,
        events: e_events,
        kids: e_kids,
        end: e_end,
        events_end: e_events_end,
        inner_start,
        kids_from,
        attrs_end: e_attrs_end,
        ..
    } = old.node(e).kind
    else {
        unreachable!("found elements only")
    };

    let frag_end = (inner_end as i64 + delta) as usize;
    let fragment_len = frag_end.saturating_sub(inner_start as usize);
    if fragment_len > 4096 && fragment_len > n.len() / 2 {
        // Most of the markup changed: parsing it whole costs less than parsing a fragment and splicing.
        return Err(html);
    }
    let mut p = Parser {
        src: &html,
        pos: inner_start as usize,
        limit: frag_end,
        context: Some(sh.str(e_tag)),
        context_in_p: in_p,
        nodes: Vec::with_capacity(fragment_len / 16),
        kids: Vec::with_capacity(fragment_len / 16),
        attrs: Vec::with_capacity(fragment_len / 32),
        events: Vec::with_capacity(fragment_len / 64),
        scratch: Vec::new(),
        stack: Vec::new(),
        slots: Vec::new(),
        rewritten: Vec::new(),
    };
    if p.run().is_err()
        || p.pos != frag_end
        || !p.stack.is_empty()
        || !p.slots.is_empty()
        || !p.rewritten.is_empty()
    {
        drop(p);
        return Err(html);
    }
    let top_start = p.kids.len();
    p.kids.extend_from_slice(&p.scratch);
    let f_top = span(top_start, p.kids.len());
    let Parser {
        nodes: f_nodes,
        kids: f_kids,
        attrs: f_attrs,
        events: f_events,
        ..
    } = p;

    let node_off = e + 1;
    let attrs_off = e_attrs.start + e_attrs.len;
    let events_off = e_events.start + e_events.len;
    let dn = f_nodes.len() as i64 - (e_end - e - 1) as i64;
    let dk = f_kids.len() as i64 - (e_kids.start + e_kids.len - kids_from) as i64;
    let da = f_attrs.len() as i64 - (e_attrs_end - attrs_off) as i64;
    let de = f_events.len() as i64 - (e_events_end - events_off) as i64;

    let mut nodes = Vec::with_capacity((old.nodes.len() as i64 + dn) as usize);
    for (i, node) in old.nodes[..=e as usize].iter().enumerate() {
        let mut node = *node;
        if let NodeKind::Element {
            outer,
            end,
            events_end,
            attrs_end,
            kids,
            has_slot,
            ..
        } = &mut node.kind
        {
            if *end > e {
                // E or one of its ancestors: it spans the change.
                outer.len = shift(outer.len, delta);
                *end = shift(*end, dn);
                *events_end = shift(*events_end, de);
                *attrs_end = shift(*attrs_end, da);
                if i == e as usize {
                    *kids = Span {
                        start: f_top.start + kids_from,
                        len: f_top.len,
                    };
                    *has_slot = false;
                } else {
                    kids.start = shift(kids.start, dk);
                }
            }
        }
        nodes.push(node);
    }
    for node in &f_nodes {
        let mut node = *node;
        if let NodeKind::Element {
            attrs,
            events,
            kids,
            end,
            events_end,
            kids_from: from,
            attrs_end,
            ..
        } = &mut node.kind
        {
            attrs.start += attrs_off;
            events.start += events_off;
            kids.start += kids_from;
            *end += node_off;
            *events_end += events_off;
            *from += kids_from;
            *attrs_end += attrs_off;
        }
        nodes.push(node);
    }
    for node in &old.nodes[e_end as usize..] {
        let mut node = *node;
        if let Some(key) = &mut node.key {
            key.start = shift(key.start, delta);
        }
        match &mut node.kind {
            NodeKind::Element {
                tag,
                attrs,
                events,
                kids,
                outer,
                end,
                events_end,
                inner_start,
                kids_from,
                attrs_end,
                ..
            } => {
                tag.start = shift(tag.start, delta);
                outer.start = shift(outer.start, delta);
                *inner_start = shift(*inner_start, delta);
                attrs.start = shift(attrs.start, da);
                events.start = shift(events.start, de);
                kids.start = shift(kids.start, dk);
                *kids_from = shift(*kids_from, dk);
                *end = shift(*end, dn);
                *events_end = shift(*events_end, de);
                *attrs_end = shift(*attrs_end, da);
            }
            NodeKind::Text(t) | NodeKind::Raw(t) => t.start = shift(t.start, delta),
            NodeKind::Slot { .. } => unreachable!("trees with slots are not re-parsed in part"),
        }
        nodes.push(node);
    }

    let mut kids = Vec::with_capacity((sh.kids.len() as i64 + dk) as usize);
    kids.extend_from_slice(&sh.kids[..kids_from as usize]);
    kids.extend(f_kids.iter().map(|&k| k + node_off));
    kids.extend(
        sh.kids[(e_kids.start + e_kids.len) as usize..]
            .iter()
            .map(|&k| if k >= e_end { shift(k, dn) } else { k }),
    );

    let mut attrs = Vec::with_capacity((sh.attrs.len() as i64 + da) as usize);
    attrs.extend_from_slice(&sh.attrs[..attrs_off as usize]);
    attrs.extend_from_slice(&f_attrs);
    attrs.extend(sh.attrs[e_attrs_end as usize..].iter().map(|a| Attr {
        name: Span {
            start: shift(a.name.start, delta),
            len: a.name.len,
        },
        value: Span {
            start: shift(a.value.start, delta),
            len: a.value.len,
        },
    }));

    let mut events = Vec::with_capacity((old.events.len() as i64 + de) as usize);
    events.extend_from_slice(&old.events[..events_off as usize]);
    events.extend_from_slice(&f_events);
    events.extend(old.events[e_events_end as usize..].iter().map(|b| Binding {
        value: Span {
            start: shift(b.value.start, delta),
            len: b.value.len,
        },
        ..*b
    }));

    let top = Span {
        start: shift(sh.top.start, dk),
        len: sh.top.len,
    };
    Ok(Reparsed {
        tree: Tree {
            shape: Shape {
                markup_len: html.len(),
                src: html,
                kids,
                attrs,
                top,
                slots: Vec::new(),
            },
            nodes,
            events,
            recorded: false,
        },
        element: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    /// Everything a tree says, resolved to strings, except node and handler ids.
    fn describe(tree: &Tree) -> Vec<String> {
        let sh = &tree.shape;
        let mut out = vec![format!("top {:?}", sh.kids(sh.top))];
        for (i, n) in tree.nodes.iter().enumerate() {
            let key = n.key.map(|k| sh.str(k).to_owned());
            let line = match n.kind {
                NodeKind::Element {
                    tag,
                    attrs,
                    events,
                    kids,
                    outer,
                    end,
                    events_end,
                    has_slot,
                    inner_start,
                    kids_from,
                    attrs_end,
                } => {
                    let attrs: Vec<String> = sh
                        .attrs(attrs)
                        .iter()
                        .map(|a| format!("{}={}", sh.str(a.name), sh.str(a.value)))
                        .collect();
                    let events: Vec<String> = tree.events[events.range()]
                        .iter()
                        .map(|b| {
                            format!(
                                "{}:{}:{}:{}",
                                b.kind,
                                b.render_index,
                                b.flags,
                                sh.str(b.value)
                            )
                        })
                        .collect();
                    format!(
                        "{i} <{}> key={key:?} attrs={attrs:?} events={events:?} kids={:?} outer={:?} inner={:?} end={end} events_end={events_end} attrs_end={attrs_end} slot={has_slot} kids_from_ok={}",
                        sh.str(tag),
                        sh.kids(kids),
                        sh.str(outer),
                        &sh.src[inner_start as usize..],
                        kids_from <= kids.start,
                    )
                }
                NodeKind::Text(t) => format!("{i} #{}", sh.str(t)),
                NodeKind::Raw(r) => format!("{i} raw {}", sh.str(r)),
                NodeKind::Slot { spec, .. } => format!("{i} slot {spec}"),
            };
            out.push(line);
        }
        out
    }

    fn check(old: &str, new: &str) -> bool {
        let old_tree = parse(old.to_owned()).unwrap();
        let fresh = parse(new.to_owned()).unwrap();
        match reparse(&old_tree, new.to_owned()) {
            Ok(re) => {
                assert_eq!(describe(&re.tree), describe(&fresh), "{old} -> {new}");
                assert_eq!(re.tree.events.len(), fresh.events.len());
                true
            }
            Err(html) => {
                assert_eq!(html, new);
                false
            }
        }
    }

    #[test]
    fn partial_reparse_equals_a_full_parse() {
        let base = r#"<main><h2 class="t">x</h2><ul><li t-key="1" data-k="1">one<b t-click="0">x</b></li><li t-key="2">two</li></ul><ol><li t-key="9" title="n">nine<i t-click="1:p">y</i></li></ol><p>tail</p></main><footer t-key="f">end</footer>"#;
        let cases = [
            base.replace("one", "uno!"),
            base.replace("one", ""),
            base.replace(
                r#"<li t-key="2">two</li>"#,
                r#"<li t-key="2">two</li><li t-key="3">three<br></li>"#,
            ),
            base.replace(r#"<li t-key="2">two</li>"#, ""),
            base.replace(
                "<h2 class=\"t\">x</h2>",
                "<h2 class=\"t\">xyz<em>!</em></h2>",
            ),
            base.replace("tail", "tale told"),
            base.replace("nine", "9"),
            base.replace(">two<", r#">two<a href="/2" class="x">l</a><"#),
            base.replace(r#"<b t-click="0">x</b>"#, ""),
        ];
        let mut partial = 0;
        for new in &cases {
            if check(base, new) {
                partial += 1;
            }
        }
        assert!(partial >= 8, "only {partial} cases took the partial path");
        // A change at the top level, or a fragment that is not balanced on its own, falls back.
        assert!(!check(base, &format!("{base}<p>more</p>")));
        assert!(!check("<b>1</b><b>2</b>", "<b>1</b><b>3</b><b>2</b>"));
    }
}
