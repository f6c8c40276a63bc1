use super::*;

#[test]
fn applies_edits_and_checks_ids() {
    let mut dom = Dom::with_regions(&["fixture"]);
    dom.apply_json(1, r#"[[11,0,"<p>a</p><ul></ul>",1]]"#)
        .unwrap();
    // start 1, p 2, text 3, ul 4, end 5
    assert_eq!(dom.region_html(0), "<p>a</p><ul></ul>");
    dom.apply_json(
        2,
        r#"[[2,4,"<li>x</li><li>y &amp; z</li>",6],[8,3,"b"],[4,8,6],[6,2,"class","c"]]"#,
    )
    .unwrap();
    assert_eq!(
        dom.region_html(0),
        r#"<p class="c">b</p><ul><li>y &amp; z</li><li>x</li></ul>"#
    );
    let err = dom.apply_json(3, r#"[[3,99]]"#).unwrap_err();
    assert!(err.0.contains("99"));
    assert!(dom
        .apply_json(3, r#"[[2,4,"<li></li>",6]]"#)
        .unwrap_err()
        .0
        .contains("twice"));
}

#[test]
fn ranges_move_and_remove_whole() {
    let mut dom = Dom::with_regions(&["r"]);
    dom.apply_json(
        1,
        r#"[[11,0,"<!--t:c--><b>1</b><!--/t--><!--t:raw--><i>r</i><!--/t--><hr>",1]]"#,
    )
    .unwrap();
    // 1 start, 2 c, 3 b, 4 "1", 5 /t, 6 raw, 7 /t, 8 hr, 9 end
    dom.apply_json(2, r#"[[4,2,9],[10,6,"<u>n</u>"]]"#).unwrap();
    assert_eq!(
        dom.region_html(0),
        "<!--t:raw--><u>n</u><!--/t--><hr><!--t:c--><b>1</b><!--/t-->"
    );
    dom.apply_json(3, r#"[[3,2],[3,6]]"#).unwrap();
    assert_eq!(dom.region_html(0), "<hr>");
}

#[test]
fn attach_keeps_equal_prerendered_nodes() {
    let mut dom = Dom::with_prerendered(&[("r", r#"<p id="a" class="b">x</p>"#)]).unwrap();
    let p = dom.select("#a").unwrap();
    dom.apply_json(1, r#"[[11,0,"<p class=\"b\" id=\"a\">x</p>",1]]"#)
        .unwrap();
    assert_eq!(dom.select("p"), Some(p));
    assert_eq!(dom.node_id(p), Some(2));
}

#[test]
fn selectors() {
    let mut dom = Dom::with_regions(&["r"]);
    dom.apply_json(
        1,
        r#"[[11,0,"<div class=\"a b\"><span id=\"s\" data-k=\"3\"></span></div>",1]]"#,
    )
    .unwrap();
    assert!(dom.select("div.b").is_some());
    assert!(dom.select("span#s[data-k=3]").is_some());
    assert!(dom.select("[data-k='4']").is_none());
    assert_eq!(dom.select_all("span").len(), 1);
}
