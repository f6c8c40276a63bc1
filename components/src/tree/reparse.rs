//! Partial re-parse: only the deepest element holding every changed byte is parsed again, and the rest of
//! the old tree is copied around it.

use super::html::{is_raw_text, is_void};
use super::parse::{span, Parser};
use super::{Attr, Binding, Element, Node, NodeIndex, NodeKind, Shape, Span, Tree};

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
    // Then a word at a time: most markups are shorter than a block, and a byte loop over the whole
    // unchanged prefix was the largest cost of a small component's re-parse.
    while i + WORD <= n && word(a, i) == word(b, i) {
        i += WORD;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

const WORD: usize = 8;

/// The `WORD` bytes of `bytes` from `at`.
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; WORD];
    w.copy_from_slice(&bytes[at..at + WORD]);
    u64::from_ne_bytes(w)
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
    while i + WORD <= max && word(a, a.len() - i - WORD) == word(b, b.len() - i - WORD) {
        i += WORD;
    }
    while i < max && a[a.len() - 1 - i] == b[b.len() - 1 - i] {
        i += 1;
    }
    i
}

/// A tree rebuilt from the previous one by re-parsing only the content of `element`, the deepest element
/// whose content holds every byte that differs between the two renders' markup.
pub(crate) struct Reparsed {
    pub(crate) tree: Tree,
    pub(crate) element: NodeIndex,
}

/// Re-parses only what changed since `old` was parsed. Everything outside the changed element is copied
/// from `old` (with node ids and handler ids, positions moved by one [`Shift`]); the caller diffs only
/// that element's children. Gives the markup back when this does not apply (child component slots,
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
    let Some(changed) = changed_element(old, p as u32, (o.len() - s) as u32) else {
        return Err(html);
    };
    let text_delta = n.len() as i64 - o.len() as i64;
    match parse_fragment(old, &changed, &html, text_delta) {
        Some(fragment) => Ok(splice(old, changed.element, fragment, html, text_delta)),
        None => Err(html),
    }
}

/// The deepest element whose content (between its tags) holds the bytes `change_start..change_end`.
struct Changed {
    element: NodeIndex,
    /// Byte offset of its end tag in the old markup.
    inner_end: u32,
    /// Whether it is a `<p>` or inside one (the fragment parser must know, as the full parser would).
    in_p: bool,
}

fn changed_element(old: &Tree, change_start: u32, change_end: u32) -> Option<Changed> {
    let sh = &old.shape;
    let mut found = None;
    let mut in_p = false;
    let mut list = sh.kids(sh.top);
    'descend: loop {
        for &c in list {
            let NodeKind::Element(element) = old.node(c).kind else {
                continue;
            };
            let Element {
                outer,
                inner_start,
                kids,
                ..
            } = element;
            let tag = element.tag();
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
                    // Raw text is not parsed in part: re-parse the enclosing element, if any.
                    return found;
                }
                in_p |= tag_name.eq_ignore_ascii_case("p");
                found = Some(Changed {
                    element: c,
                    inner_end,
                    in_p,
                });
                list = sh.kids(kids);
                continue 'descend;
            }
        }
        return found;
    }
}

/// The changed element's new content, parsed on its own: positions are relative to the fragment's
/// arrays (and absolute in the new markup).
struct Fragment {
    nodes: Vec<Node>,
    kids: Vec<NodeIndex>,
    attrs: Vec<Attr>,
    events: Vec<Binding>,
    /// The fragment's top-level nodes, in `kids`.
    top: Span,
}

fn parse_fragment(old: &Tree, changed: &Changed, html: &str, text_delta: i64) -> Option<Fragment> {
    let NodeKind::Element(element) = old.node(changed.element).kind else {
        unreachable!("changed_element returns elements")
    };
    let (tag, inner_start) = (element.tag(), element.inner_start);
    let frag_end = (changed.inner_end as i64 + text_delta) as usize;
    let fragment_len = frag_end.saturating_sub(inner_start as usize);
    if fragment_len > 4096 && fragment_len > html.len() / 2 {
        // Most of the markup changed: parsing it whole costs less than parsing a fragment and splicing.
        return None;
    }
    let mut p = Parser {
        src: html,
        pos: inner_start as usize,
        limit: frag_end,
        context: Some(old.shape.str(tag)),
        context_in_p: changed.in_p,
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
        return None;
    }
    let top_start = p.kids.len();
    p.kids.extend_from_slice(&p.scratch);
    let top = span(top_start, p.kids.len());
    Some(Fragment {
        nodes: p.nodes,
        kids: p.kids,
        attrs: p.attrs,
        events: p.events,
        top,
    })
}

/// How far positions move: in the markup, and in each of the tree's flat arrays.
#[derive(Clone, Copy)]
struct Shift {
    text: i64,
    nodes: i64,
    kids: i64,
    attrs: i64,
    events: i64,
}

fn moved(v: u32, by: i64) -> u32 {
    (v as i64 + by) as u32
}

impl Shift {
    /// Moves a node's positions. A node that lies wholly after the splice (or inside the spliced-in
    /// fragment) moves entirely; an element that encloses the splice (`whole` false) opened before it,
    /// so only what it wrote when it closed moves: its end in the markup, its subtree's ends in the
    /// arrays, and its `kids` block (blocks are written at close, after its descendants' blocks).
    fn apply(self, node: &mut Node, whole: bool) {
        if let (Some(key), true) = (node.key(), whole) {
            node.set_key(Some(self.span(key)));
        }
        match &mut node.kind {
            NodeKind::Element(el) => {
                el.end = moved(el.end, self.nodes);
                el.events_end = moved(el.events_end, self.events);
                el.attrs_end = moved(el.attrs_end, self.attrs);
                el.kids.start = moved(el.kids.start, self.kids);
                if whole {
                    // The tag's position follows `outer`'s.
                    el.outer.start = moved(el.outer.start, self.text);
                    el.inner_start = moved(el.inner_start, self.text);
                    el.attrs_start = moved(el.attrs_start, self.attrs);
                    el.events_start = moved(el.events_start, self.events);
                    el.kids_from = moved(el.kids_from, self.kids);
                } else {
                    el.outer.len = moved(el.outer.len, self.text);
                }
            }
            NodeKind::Text(t) | NodeKind::Raw(t) => t.start = moved(t.start, self.text),
            NodeKind::Slot { .. } => unreachable!("trees with slots are not re-parsed in part"),
        }
    }

    fn span(self, span: Span) -> Span {
        Span {
            start: moved(span.start, self.text),
            len: span.len,
        }
    }
}

/// The node array of the new tree: `old` up to `e` (its enclosing elements' ends moved), the fragment
/// moved into place, then the rest of `old` moved by `after`.
fn splice_nodes(
    old: &Tree,
    e: NodeIndex,
    f: &Fragment,
    after: Shift,
    into_place: Shift,
) -> Vec<Node> {
    let NodeKind::Element(Element {
        end: e_end,
        kids_from,
        ..
    }) = old.node(e).kind
    else {
        unreachable!("changed_element returns elements")
    };
    let mut nodes = Vec::with_capacity((old.nodes.len() as i64 + after.nodes) as usize);
    for node in &old.nodes[..=e as usize] {
        let mut node = *node;
        if matches!(node.kind, NodeKind::Element(el) if el.end > e) {
            // `e` or one of its ancestors: it encloses the change.
            after.apply(&mut node, false);
        }
        nodes.push(node);
    }
    if let NodeKind::Element(el) = &mut nodes[e as usize].kind {
        el.kids = Span {
            start: f.top.start + kids_from,
            len: f.top.len,
        };
        el.has_slot = false;
    }
    nodes.extend(f.nodes.iter().map(|&(mut node)| {
        into_place.apply(&mut node, true);
        node
    }));
    nodes.extend(old.nodes[e_end as usize..].iter().map(|&(mut node)| {
        after.apply(&mut node, true);
        node
    }));

    nodes
}

/// Builds the new tree: `old` up to and including element `e`, the fragment as `e`'s content, then the
/// rest of `old`, every array spliced at the same point and every position moved by one [`Shift`].
fn splice(old: &Tree, e: NodeIndex, f: Fragment, html: String, text_delta: i64) -> Reparsed {
    let sh = &old.shape;
    let NodeKind::Element(element) = old.node(e).kind else {
        unreachable!("changed_element returns elements")
    };
    let (e_attrs, e_events) = (element.attrs(), element.events());
    let Element {
        kids: e_kids,
        end: e_end,
        events_end: e_events_end,
        kids_from,
        attrs_end: e_attrs_end,
        ..
    } = element;
    // Where the fragment goes in each array: after `e`'s own entries, replacing its descendants'.
    let node_off = e + 1;
    let attrs_off = e_attrs.start + e_attrs.len;
    let events_off = e_events.start + e_events.len;
    let kids_end = e_kids.start + e_kids.len;
    let after = Shift {
        text: text_delta,
        nodes: f.nodes.len() as i64 - (e_end - node_off) as i64,
        kids: f.kids.len() as i64 - (kids_end - kids_from) as i64,
        attrs: f.attrs.len() as i64 - (e_attrs_end - attrs_off) as i64,
        events: f.events.len() as i64 - (e_events_end - events_off) as i64,
    };
    let into_place = Shift {
        text: 0,
        nodes: node_off as i64,
        kids: kids_from as i64,
        attrs: attrs_off as i64,
        events: events_off as i64,
    };

    let nodes = splice_nodes(old, e, &f, after, into_place);

    let mut kids = Vec::with_capacity((sh.kids.len() as i64 + after.kids) as usize);
    kids.extend_from_slice(&sh.kids[..kids_from as usize]);
    kids.extend(f.kids.iter().map(|&k| k + node_off));
    kids.extend(sh.kids[kids_end as usize..].iter().map(|&k| {
        if k >= e_end {
            moved(k, after.nodes)
        } else {
            k
        }
    }));

    let mut attrs = Vec::with_capacity((sh.attrs.len() as i64 + after.attrs) as usize);
    attrs.extend_from_slice(&sh.attrs[..attrs_off as usize]);
    attrs.extend_from_slice(&f.attrs);
    attrs.extend(sh.attrs[e_attrs_end as usize..].iter().map(|a| Attr {
        name: after.span(a.name),
        value: after.span(a.value),
    }));

    let mut events = Vec::with_capacity((old.events.len() as i64 + after.events) as usize);
    events.extend_from_slice(&old.events[..events_off as usize]);
    events.extend_from_slice(&f.events);
    events.extend(old.events[e_events_end as usize..].iter().map(|b| Binding {
        value: after.span(b.value),
        ..*b
    }));

    let top = Span {
        start: moved(sh.top.start, after.kids),
        len: sh.top.len,
    };
    Reparsed {
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
    }
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
            let key = n.key().map(|k| sh.str(k).to_owned());
            let line = match n.kind {
                NodeKind::Element(element) => {
                    let (tag, attrs, events) = (element.tag(), element.attrs(), element.events());
                    let Element {
                        kids,
                        outer,
                        end,
                        events_end,
                        has_slot,
                        inner_start,
                        kids_from,
                        attrs_end,
                        ..
                    } = element;
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

    #[test]
    fn common_ends_match_a_byte_by_byte_count() {
        fn prefix(a: &[u8], b: &[u8]) -> usize {
            a.iter().zip(b).take_while(|(x, y)| x == y).count()
        }
        fn suffix(a: &[u8], b: &[u8], max: usize) -> usize {
            a.iter()
                .rev()
                .zip(b.iter().rev())
                .take(max)
                .take_while(|(x, y)| x == y)
                .count()
        }
        // Lengths around the word (8) and block (256) sizes, with the difference at every position.
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 255, 256, 257, 520] {
            let a: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0xff;
                assert_eq!(
                    common_prefix(&a, &b),
                    prefix(&a, &b),
                    "prefix, len {len}, at {at}"
                );
                assert_eq!(
                    common_suffix(&a, &b, len),
                    suffix(&a, &b, len),
                    "suffix, len {len}, at {at}"
                );
                let short = &b[..at];
                assert_eq!(
                    common_prefix(&a, short),
                    prefix(&a, short),
                    "prefix of a shorter string"
                );
                let max = len.min(short.len());
                assert_eq!(
                    common_suffix(&a, short, max),
                    suffix(&a, short, max),
                    "suffix of a shorter string"
                );
            }
        }
    }
}
