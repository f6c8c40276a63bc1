//! HTML facts and string helpers shared by the parser, the diff and the serializer: void and raw-text
//! elements, maud-compatible escaping, character-reference decoding and binding values.

use super::{FLAG_PREVENT_DEFAULT, FLAG_STOP_PROPAGATION};
use crate::number::push_u32;

pub(crate) fn is_void(tag: &str) -> bool {
    if !matches!(tag.len(), 2..=6) {
        return false;
    }
    const VOID: [&str; 13] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    VOID.iter().any(|v| v.eq_ignore_ascii_case(tag))
}

pub(crate) fn is_raw_text(tag: &str) -> bool {
    matches!(tag.len(), 5 | 6) && tag.eq_ignore_ascii_case("script")
        || tag.eq_ignore_ascii_case("style")
}

/// Escapes a value the way maud does (`&`, `<`, `>`, `"`), so recorded values compare equal to rendered ones.
pub(crate) fn escape_like_maud(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// Decodes the character references maud and hand-written markup use.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                    } else if let Some(dec) = name.strip_prefix('#') {
                        dec.parse::<u32>().ok().and_then(char::from_u32)
                    } else {
                        None
                    }
                }
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Writes a binding's attribute value: `ID` or `ID:FLAGS`.
pub(crate) fn binding_value(handler_id: u32, flags: u8, out: &mut String) {
    push_u32(out, handler_id);
    if flags != 0 {
        out.push(':');
        if flags & FLAG_PREVENT_DEFAULT != 0 {
            out.push('p');
        }
        if flags & FLAG_STOP_PROPAGATION != 0 {
            out.push('s');
        }
    }
}

/// Start tags that close an open `<p>` in the HTML parsing algorithm.
pub(super) fn closes_paragraph(tag: &str) -> bool {
    const TAGS: [&str; 32] = [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "ul",
    ];
    TAGS.iter().any(|t| t.eq_ignore_ascii_case(tag)) || tag.eq_ignore_ascii_case("table")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_references() {
        assert_eq!(
            decode_entities("a&amp;b&#39;&#x41;&nbsp;&bogus;"),
            "a&b'A\u{a0}&bogus;"
        );
    }
}
