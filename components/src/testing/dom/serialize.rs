//! Serialising the DOM: `innerHTML`-like output (escaped as browsers escape) and the canonical form that
//! compares a DOM patched by batches with one built from a fresh render.

use serde_json::Value;

use super::{is_void, Dom, Kind, NodeRef};

impl Dom {
    pub(super) fn write_html(&self, node: usize, out: &mut String, raw_text: bool) {
        match &self.nodes[node].kind {
            Kind::Text(t) => {
                if raw_text {
                    out.push_str(t);
                } else {
                    for c in t.chars() {
                        match c {
                            '&' => out.push_str("&amp;"),
                            '<' => out.push_str("&lt;"),
                            '>' => out.push_str("&gt;"),
                            '\u{a0}' => out.push_str("&nbsp;"),
                            c => out.push(c),
                        }
                    }
                }
            }
            Kind::Comment(d) => {
                out.push_str("<!--");
                out.push_str(d);
                out.push_str("-->");
            }
            Kind::Element { tag, attrs, .. } => {
                out.push('<');
                out.push_str(tag);
                for (n, v) in attrs {
                    out.push(' ');
                    out.push_str(n);
                    out.push_str("=\"");
                    for c in v.chars() {
                        match c {
                            '&' => out.push_str("&amp;"),
                            '"' => out.push_str("&quot;"),
                            // Current HTML serialisation (and Chromium, and jsdom) escapes these in
                            // attribute values too.
                            '<' => out.push_str("&lt;"),
                            '>' => out.push_str("&gt;"),
                            '\u{a0}' => out.push_str("&nbsp;"),
                            c => out.push(c),
                        }
                    }
                    out.push('"');
                }
                out.push('>');
                if is_void(tag) {
                    return;
                }
                let raw = matches!(tag.as_str(), "script" | "style");
                for &c in &self.nodes[node].children {
                    self.write_html(c, out, raw);
                }
                out.push_str("</");
                out.push_str(tag);
                out.push('>');
            }
        }
    }

    /// A canonical form of root region `index` for comparing a DOM patched by batches with one built from
    /// a fresh render: attributes sorted, handler ids replaced by `*` (flags kept), form fields by their
    /// live value, node ids ignored.
    pub fn canonical(&self, index: usize) -> String {
        let mut out = String::new();
        for n in self.region_nodes(index) {
            self.write_canonical(n.0, &mut out);
        }
        out
    }

    fn write_canonical(&self, node: usize, out: &mut String) {
        match &self.nodes[node].kind {
            Kind::Text(t) => {
                out.push_str("#text(");
                out.push_str(t);
                out.push(')');
            }
            Kind::Comment(d) => {
                out.push_str("<!--");
                out.push_str(d);
                out.push_str("-->");
            }
            Kind::Element { tag, attrs, .. } => {
                let mut shown: Vec<(String, String)> = attrs
                    .iter()
                    .filter(|(n, _)| !matches!(n.as_str(), "value" | "checked" | "selected"))
                    .map(|(n, v)| {
                        let v = if n.starts_with("t-") && n != "t-debounce" && n != "t-throttle" {
                            match v.split_once(':') {
                                Some((_, flags)) => format!("*:{flags}"),
                                None => "*".to_owned(),
                            }
                        } else {
                            v.clone()
                        };
                        (n.clone(), v)
                    })
                    .collect();
                let me = NodeRef(node);
                if tag == "input" {
                    // An input with no value and one whose value was set to "" look the same (`.value` is
                    // "" for both); a removed `value` attribute is diffed as the property set to "".
                    if let Some(v) = self.value(me).filter(|v| !v.is_empty()) {
                        shown.push(("value".into(), v));
                    }
                    if self.checked(me) {
                        shown.push(("checked".into(), String::new()));
                    }
                } else if let Some(v) = self.attribute(me, "value") {
                    shown.push(("value".into(), v.to_owned()));
                }
                let selected = match self.property(me, "selected") {
                    Some(Value::Bool(b)) => *b,
                    _ => self.attribute(me, "selected").is_some(),
                };
                if tag == "option" && selected {
                    shown.push(("selected".into(), String::new()));
                }
                shown.sort();
                out.push('<');
                out.push_str(tag);
                for (n, v) in shown {
                    out.push(' ');
                    out.push_str(&n);
                    out.push_str("=\"");
                    out.push_str(&v);
                    out.push('"');
                }
                out.push('>');
                for &c in &self.nodes[node].children {
                    self.write_canonical(c, out);
                }
                out.push_str("</");
                out.push_str(tag);
                out.push('>');
            }
        }
    }
}
