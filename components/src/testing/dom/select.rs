//! The selector subset [`Dom::select_all`] understands: compounds of `tag`, `#id`, `.class`, `[attr]` and
//! `[attr=value]`, joined by the descendant combinator. A selector it cannot parse matches nothing.

use super::{Dom, Kind, NodeRef};

impl Dom {
    /// Elements under the body matching a simple selector, in document order. Supports compounds of
    /// `tag`, `#id`, `.class`, `[attr]` and `[attr=value]` (value optionally quoted), joined by spaces
    /// (descendant combinator): `li[data-k=2] button`.
    pub fn select_all(&self, selector: &str) -> Vec<NodeRef> {
        let Some(compounds) = selector
            .split_ascii_whitespace()
            .map(parse_selector)
            .collect::<Option<Vec<_>>>()
        else {
            return Vec::new();
        };
        let Some((last, ancestors)) = compounds.split_last() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.walk(self.body, &mut |n| {
            if self.matches(n, last) && self.ancestors_match(n, ancestors) {
                out.push(NodeRef(n));
            }
        });
        out
    }

    fn ancestors_match(&self, node: usize, compounds: &[Vec<SelectorPart>]) -> bool {
        let Some((last, rest)) = compounds.split_last() else {
            return true;
        };
        let mut cursor = self.nodes[node].parent;
        while let Some(a) = cursor {
            if self.matches(a, last) && self.ancestors_match(a, rest) {
                return true;
            }
            cursor = self.nodes[a].parent;
        }
        false
    }

    /// The first element matching `selector` (see [`Dom::select_all`]).
    pub fn select(&self, selector: &str) -> Option<NodeRef> {
        self.select_all(selector).into_iter().next()
    }

    fn walk(&self, node: usize, f: &mut impl FnMut(usize)) {
        for &c in &self.nodes[node].children {
            f(c);
            self.walk(c, f);
        }
    }

    fn matches(&self, node: usize, parts: &[SelectorPart]) -> bool {
        let Kind::Element { tag, attrs, .. } = &self.nodes[node].kind else {
            return false;
        };
        let attr = |name: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        parts.iter().all(|p| match p {
            SelectorPart::Tag(t) => tag == t,
            SelectorPart::Id(id) => attr("id") == Some(id),
            SelectorPart::Class(c) => {
                attr("class").is_some_and(|v| v.split_ascii_whitespace().any(|x| x == c))
            }
            SelectorPart::Attr(name, None) => attr(name).is_some(),
            SelectorPart::Attr(name, Some(value)) => attr(name) == Some(value),
        })
    }
}

enum SelectorPart {
    Tag(String),
    Id(String),
    Class(String),
    Attr(String, Option<String>),
}

fn parse_selector(s: &str) -> Option<Vec<SelectorPart>> {
    let mut parts = Vec::new();
    let b = s.trim().as_bytes();
    let s = s.trim();
    let mut i = 0;
    let ident_end = |mut j: usize| {
        while j < b.len() && !matches!(b[j], b'#' | b'.' | b'[') {
            j += 1;
        }
        j
    };
    while i < b.len() {
        match b[i] {
            b'#' => {
                let j = ident_end(i + 1);
                parts.push(SelectorPart::Id(s[i + 1..j].to_owned()));
                i = j;
            }
            b'.' => {
                let j = ident_end(i + 1);
                parts.push(SelectorPart::Class(s[i + 1..j].to_owned()));
                i = j;
            }
            b'[' => {
                let close = s[i..].find(']')? + i;
                let inner = &s[i + 1..close];
                let part = match inner.split_once('=') {
                    Some((n, v)) => SelectorPart::Attr(
                        n.trim().to_owned(),
                        Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned()),
                    ),
                    None => SelectorPart::Attr(inner.trim().to_owned(), None),
                };
                parts.push(part);
                i = close + 1;
            }
            _ => {
                let j = ident_end(i);
                parts.push(SelectorPart::Tag(s[i..j].to_ascii_lowercase()));
                i = j;
            }
        }
    }
    (!parts.is_empty()).then_some(parts)
}
