//! Parser tests: what maud output parses to, and the markup a browser would restructure, refused.

use super::*;

fn describe(tree: &Tree) -> Vec<String> {
    let sh = &tree.shape;
    tree.nodes
        .iter()
        .map(|n| match n.kind {
            NodeKind::Element(el) => sh.str(el.tag()).to_owned(),
            NodeKind::Text(t) => format!("#{}", sh.str(t)),
            NodeKind::Raw(h) => format!("raw:{}", sh.str(h)),
            NodeKind::Slot { spec, .. } => format!("slot:{spec}"),
        })
        .collect()
}

#[test]
fn parses_elements_text_raw_and_slots() {
    let tree = parse(
        r#"<div class="a&amp;b" t-key="k1" title='x"y'><p t-click="0:ps">x &lt; y</p><br><!--t:c:0--><!--t:raw--><b><!--t:raw-->i<!--/t--></b><!--/t-->z</div>"#.to_owned(),
    )
    .unwrap();
    assert_eq!(
        describe(&tree),
        [
            "div",
            "p",
            "#x &lt; y",
            "br",
            "slot:0",
            "raw:<b><!--t:raw-->i<!--/t--></b>",
            "#z"
        ]
    );
    let sh = &tree.shape;
    let NodeKind::Element(el) = tree.node(0).kind else {
        panic!()
    };
    let (attrs, kids) = (sh.attrs(el.attrs()), el.kids);
    assert_eq!(sh.str(attrs[0].value), "a&amp;b");
    assert_eq!(sh.str(attrs[1].value), "x&quot;y");
    assert_eq!(sh.str(tree.node(0).key().unwrap()), "k1");
    assert_eq!(sh.kids(kids), [1, 3, 4, 5, 6]);
    let NodeKind::Element(el) = tree.node(1).kind else {
        panic!()
    };
    assert_eq!(
        tree.events[el.events().range()][0].flags,
        FLAG_PREVENT_DEFAULT | FLAG_STOP_PROPAGATION
    );
    assert_eq!(sh.kids(sh.top), [0]);
}

#[test]
fn rejects_markup_the_browser_would_restructure() {
    let e = parse("<table><tr><td>1</td></tr></table>".into()).unwrap_err();
    assert!(e.reason.contains("write <tbody>"), "{e}");
    assert!(parse("<table><tbody><tr><td>1</td></tr></tbody></table>".into()).is_ok());
    assert!(parse("<div></span>".into()).is_err());
    assert!(parse("<div>".into()).is_err());
    assert!(parse("<!-- hi -->".into()).is_err());
    assert!(parse(r#"<a t-click="x">"#.into()).is_err());
    assert!(parse("<div/>".into())
        .unwrap_err()
        .reason
        .contains("does not close"));
    assert!(parse("<p><span><div></div></span></p>".into())
        .unwrap_err()
        .reason
        .contains("inside <p>"));
    assert!(parse("<div><p>a</p><p>b</p></div>".into()).is_ok());
    assert!(parse("<br/><img src=\"x\" />".into()).is_ok());
}

#[test]
fn a_node_takes_64_bytes_and_keeps_its_key() {
    assert_eq!(std::mem::size_of::<Node>(), 64);
    let mut node = Node::new(None, NodeKind::Text(Span::default()));
    assert_eq!(node.key(), None);
    for key in [
        Span { start: 0, len: 0 },
        Span {
            start: u32::MAX - 1,
            len: 7,
        },
    ] {
        node.set_key(Some(key));
        assert_eq!(node.key(), Some(key));
    }
}

#[test]
fn an_element_keeps_its_tag_attributes_and_bindings_in_compact_form() {
    let tree = parse(r#"<custom-element a="1" b t-click="0" t-input="1"></custom-element>"#.into())
        .expect("valid markup");
    let NodeKind::Element(mut el) = tree.node(0).kind else {
        panic!()
    };
    assert_eq!(tree.shape.str(el.tag()), "custom-element");
    assert_eq!((el.attrs().len, el.events().len), (2, 2));
    el.set_attrs(Span {
        start: 7,
        len: MAX_ATTRS_PER_ELEMENT as u32 + 1,
    });
    assert_eq!(
        el.attrs(),
        Span {
            start: 7,
            len: u16::MAX as u32
        }
    );
}
