//! The fragment parser: the subset of HTML the server sends (quoted attribute values, void elements,
//! raw-text `script`/`style`, comments as range markers). Malformed input it meets is a [`DomError`],
//! never a guess.

use super::{fail, is_void, Dom, DomError, Kind};

impl Dom {
    /// Parses an HTML fragment into detached nodes (the subset of HTML the server sends).
    pub(super) fn parse_fragment(&mut self, html: &str) -> Result<Vec<usize>, DomError> {
        let mut top = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let b = html.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let node = if html[i..].starts_with("<!--") {
                let Some(end) = html[i + 4..].find("-->") else {
                    return fail("unterminated comment");
                };
                let data = html[i + 4..i + 4 + end].to_owned();
                i += 4 + end + 3;
                self.alloc(Kind::Comment(data))
            } else if html[i..].starts_with("</") {
                let Some(end) = html[i..].find('>') else {
                    return fail("unterminated end tag");
                };
                let name = html[i + 2..i + end].to_ascii_lowercase();
                i += end + 1;
                match stack.pop() {
                    Some(open) if matches!(&self.nodes[open].kind, Kind::Element { tag, .. } if *tag == name) =>
                        {}
                    _ => return fail(format!("unexpected </{name}>")),
                }
                continue;
            } else if b[i] == b'<' {
                let mut j = i + 1;
                while j < b.len() && !matches!(b[j], b' ' | b'>' | b'/') {
                    j += 1;
                }
                let tag = html[i + 1..j].to_ascii_lowercase();
                let (attrs, j) = parse_attributes(html, j)?;
                i = j;
                let node = self.alloc(Kind::Element {
                    tag: tag.clone(),
                    attrs,
                    props: Vec::new(),
                });
                match stack.last() {
                    Some(&p) => self.append(p, node),
                    None => top.push(node),
                }
                if matches!(tag.as_str(), "script" | "style") {
                    let close = format!("</{tag}>");
                    let Some(len) = html[i..].find(&close) else {
                        return fail("unterminated raw text element");
                    };
                    if len > 0 {
                        let t = self.alloc(Kind::Text(html[i..i + len].to_owned()));
                        self.append(node, t);
                    }
                    i += len + close.len();
                } else if !is_void(&tag) {
                    stack.push(node);
                }
                continue;
            } else {
                let end = html[i..].find('<').map_or(b.len(), |k| i + k);
                let data = crate::tree::decode_entities(&html[i..end]);
                i = end;
                self.alloc(Kind::Text(data))
            };
            match stack.last() {
                Some(&p) => self.append(p, node),
                None => top.push(node),
            }
        }
        if !stack.is_empty() {
            return fail("unclosed element in fragment");
        }
        Ok(top)
    }
}

/// Reads a start tag's attributes from `j` (just after the tag name) through its `>`; returns them and the
/// index after the `>`. Values must be double-quoted; `/` (self-closing) is ignored.
fn parse_attributes(html: &str, mut j: usize) -> Result<(Vec<(String, String)>, usize), DomError> {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j >= b.len() {
            return fail("unterminated tag");
        }
        if b[j] == b'>' {
            j += 1;
            break;
        }
        if b[j] == b'/' {
            j += 1;
            continue;
        }
        let ns = j;
        while j < b.len() && !matches!(b[j], b'=' | b' ' | b'>') {
            j += 1;
        }
        let name = html[ns..j].to_ascii_lowercase();
        let mut value = String::new();
        if j < b.len() && b[j] == b'=' {
            j += 1;
            if b.get(j) != Some(&b'"') {
                return fail("unquoted attribute value");
            }
            let Some(len) = html[j + 1..].find('"') else {
                return fail("unterminated attribute value");
            };
            value = crate::tree::decode_entities(&html[j + 1..j + 1 + len]);
            j += len + 2;
        }
        attrs.push((name, value));
    }
    Ok((attrs, j))
}
