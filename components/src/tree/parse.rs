//! The parser: maud's output into a [`Tree`], rejecting markup a browser would restructure.

use super::html::{closes_paragraph, decode_entities, escape_like_maud, is_raw_text, is_void};
use super::{
    Attr, Binding, Element, MarkupError, Node, NodeIndex, NodeKind, Shape, Span, Tree,
    FLAG_PREVENT_DEFAULT, FLAG_STOP_PROPAGATION, MAX_ATTRS_PER_ELEMENT,
};
use crate::event::EventKind;

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    /// Where parsing stops (the end of `src`, or of a fragment).
    pub(super) limit: usize,
    /// Tag of the element a fragment is parsed into.
    pub(super) context: Option<&'a str>,
    /// Whether a fragment is parsed somewhere inside a `<p>`.
    pub(super) context_in_p: bool,
    pub(super) nodes: Vec<Node>,
    pub(super) kids: Vec<NodeIndex>,
    pub(super) attrs: Vec<Attr>,
    pub(super) events: Vec<Binding>,
    /// Children collected for the open elements, innermost last.
    pub(super) scratch: Vec<NodeIndex>,
    /// Open elements with where their children start in `scratch` and the slot count when they opened.
    pub(super) stack: Vec<(NodeIndex, usize, u32)>,
    pub(super) slots: Vec<NodeIndex>,
    /// Attribute values that had to be re-escaped: (attribute index, escaped value).
    pub(super) rewritten: Vec<(usize, String)>,
}

/// An attribute as read from a start tag, before it is filed as a key, a binding or an attribute.
struct RawAttribute {
    name: Span,
    value: Span,
    /// The re-escaped value of an attribute that was not double-quoted.
    rewrite: Option<String>,
    /// Where reading continues.
    next: usize,
}

pub(super) fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        len: (end - start) as u32,
    }
}

/// Parses one component's markup, taking ownership of it.
pub(crate) fn parse(src: String) -> Result<Tree, MarkupError> {
    let mut p = Parser {
        src: &src,
        pos: 0,
        limit: src.len(),
        context: None,
        context_in_p: false,
        nodes: Vec::with_capacity(src.len() / 16),
        kids: Vec::with_capacity(src.len() / 16),
        attrs: Vec::with_capacity(src.len() / 32),
        events: Vec::with_capacity(src.len() / 64),
        scratch: Vec::new(),
        stack: Vec::new(),
        slots: Vec::new(),
        rewritten: Vec::new(),
    };
    p.run()?;
    let top_start = p.kids.len();
    p.kids.extend_from_slice(&p.scratch);
    let top = span(top_start, p.kids.len());
    let Parser {
        mut nodes,
        mut kids,
        mut attrs,
        mut events,
        rewritten,
        slots,
        ..
    } = p;
    // The capacity guesses above avoid regrowing while parsing; trees are retained, so give back what
    // is left over.
    shrink(&mut nodes);
    shrink(&mut kids);
    shrink(&mut attrs);
    shrink(&mut events);
    let mut src = src;
    src.shrink_to_fit();
    let mut shape = Shape {
        markup_len: src.len(),
        src,
        kids,
        attrs,
        top,
        slots,
    };
    for (index, value) in rewritten {
        shape.attrs[index].value = shape.push_str(&value);
    }
    Ok(Tree {
        shape,
        nodes,
        events,
        recorded: false,
    })
}

fn shrink<T>(v: &mut Vec<T>) {
    // Exact: a tree is kept until its component renders again, which for most of a circuit's
    // components is rarely, so spare capacity would be held per idle circuit (a few hundred bytes for a
    // small component). Shrinking reallocates in place.
    if v.capacity() > v.len() {
        v.shrink_to_fit();
    }
}

impl Parser<'_> {
    fn err<T>(&self, offset: usize, reason: impl Into<String>) -> Result<T, MarkupError> {
        Err(MarkupError {
            offset,
            reason: reason.into(),
        })
    }

    fn push(&mut self, node: Node) -> NodeIndex {
        let index = self.nodes.len() as NodeIndex;
        self.nodes.push(node);
        self.scratch.push(index);
        index
    }

    pub(super) fn run(&mut self) -> Result<(), MarkupError> {
        let bytes = &self.src.as_bytes()[..self.limit];
        while self.pos < bytes.len() {
            if bytes[self.pos] != b'<' {
                // A text run always ends at a tag or marker, so adjacent text cannot occur.
                let end = memchr(b'<', &bytes[self.pos..]).map_or(bytes.len(), |i| self.pos + i);
                self.push(Node::new(None, NodeKind::Text(span(self.pos, end))));
                self.pos = end;
                continue;
            }
            let rest = &self.src[self.pos..];
            if rest.starts_with("<!--") {
                self.comment()?;
            } else if rest.starts_with("</") {
                self.end_tag()?;
            } else if rest.len() > 1 && rest.as_bytes()[1].is_ascii_alphabetic() {
                self.start_tag()?;
            } else if rest.starts_with("<!") {
                return self.err(
                    self.pos,
                    "declarations such as <!DOCTYPE> cannot appear in a component",
                );
            } else {
                return self.err(self.pos, "a `<` that starts no tag");
            }
        }
        if let Some(&(open, _, _)) = self.stack.last() {
            if let NodeKind::Element(element) = self.nodes[open as usize].kind {
                return self.err(
                    self.pos,
                    format!("<{}> is never closed", &self.src[element.tag().range()]),
                );
            }
        }
        Ok(())
    }

    fn comment(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let Some(end) = self.src[start + 4..].find("-->") else {
            return self.err(start, "unterminated comment");
        };
        let body = &self.src[start + 4..start + 4 + end];
        self.pos = start + 4 + end + 3;
        if let Some(spec) = body.strip_prefix("t:c:") {
            let Ok(spec) = spec.parse::<u32>() else {
                return self.err(start, "malformed child component placeholder");
            };
            let index = self.push(Node::new(None, NodeKind::Slot { spec, component: 0 }));
            self.slots.push(index);
            Ok(())
        } else if body == "t:raw" {
            // The region ends at the first `<!--/t-->` at the same nesting depth.
            let content_start = self.pos;
            let mut depth = 1usize;
            let mut cursor = content_start;
            loop {
                let Some(next) = self.src[cursor..].find("<!--") else {
                    return self.err(start, "raw region without its `<!--/t-->` end marker");
                };
                let at = cursor + next;
                let tail = &self.src[at..];
                if tail.starts_with("<!--/t-->") {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = at + "<!--/t-->".len();
                        self.push(Node::new(None, NodeKind::Raw(span(content_start, at))));
                        return Ok(());
                    }
                    cursor = at + "<!--/t-->".len();
                } else {
                    if tail.starts_with("<!--t:") {
                        depth += 1;
                    }
                    cursor = at + 4;
                }
            }
        } else {
            self.err(
                start,
                "HTML comments are not allowed in component markup (they would shift node ids); put them in a RawHtml region",
            )
        }
    }

    fn close(&mut self) {
        let (open, kids_from, slots_before) = self.stack.pop().expect("checked by caller");
        let start = self.kids.len();
        self.kids.extend_from_slice(&self.scratch[kids_from..]);
        self.scratch.truncate(kids_from);
        let (nodes_end, events_end, pos) = (self.nodes.len(), self.events.len(), self.pos);
        let (kids_end, attrs_len) = (self.kids.len(), self.attrs.len());
        let slot_inside = self.slots.len() as u32 != slots_before;
        if let NodeKind::Element(element) = &mut self.nodes[open as usize].kind {
            element.kids = span(start, kids_end);
            element.outer.len = pos as u32 - element.outer.start;
            element.end = nodes_end as NodeIndex;
            element.events_end = events_end as u32;
            element.has_slot = slot_inside;
            element.attrs_end = attrs_len as u32;
        }
    }

    fn end_tag(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let Some(close) = memchr(b'>', &self.src.as_bytes()[start..]) else {
            return self.err(start, "unterminated end tag");
        };
        let name = &self.src[start + 2..start + close];
        self.pos = start + close + 1;
        let Some(&(open, _, _)) = self.stack.last() else {
            return self.err(start, format!("</{name}> closes nothing"));
        };
        let NodeKind::Element(element) = self.nodes[open as usize].kind else {
            unreachable!("only elements are pushed on the stack")
        };
        let tag = &self.src[element.tag().range()];
        if !tag.eq_ignore_ascii_case(name) {
            return self.err(start, format!("</{name}> closes <{tag}>"));
        }
        self.close();
        Ok(())
    }

    fn start_tag(&mut self) -> Result<(), MarkupError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>') {
            i += 1;
        }
        let tag = span(start + 1, i);
        let tag_name = &self.src[tag.range()];
        self.check_placement(start, tag_name)?;
        let attrs_start = self.attrs.len();
        let events_start = self.events.len();
        let mut key = None;
        let mut self_closing = false;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            match bytes.get(i) {
                None => return self.err(start, format!("unterminated <{tag_name}> tag")),
                Some(b'>') => {
                    i += 1;
                    break;
                }
                Some(b'/') => {
                    self_closing = true;
                    i += 1;
                }
                Some(_) => {
                    let attribute = self.attribute(i)?;
                    i = attribute.next;
                    self.add_attribute(attribute, &mut key, attrs_start, events_start)?;
                }
            }
        }
        self.pos = i;
        let void = is_void(tag_name);
        if self_closing && !void {
            return self.err(
                start,
                format!("<{tag_name}/> does not close in HTML (the browser would nest what follows): write <{tag_name}></{tag_name}>"),
            );
        }
        let (attrs_len, events_len) = (
            self.attrs.len() - attrs_start,
            self.events.len() - events_start,
        );
        if tag.len > u16::MAX as u32 {
            return self.err(start, "a tag name longer than 65,535 bytes");
        }
        if attrs_len.max(events_len) > MAX_ATTRS_PER_ELEMENT {
            return self.err(
                start,
                format!("<{tag_name}> has more than {MAX_ATTRS_PER_ELEMENT} attributes or event bindings"),
            );
        }
        let element = Element {
            outer: span(start, i),
            kids: Span::default(),
            attrs_start: attrs_start as u32,
            events_start: events_start as u32,
            end: self.nodes.len() as NodeIndex + 1,
            events_end: self.events.len() as u32,
            inner_start: i as u32,
            kids_from: self.kids.len() as u32,
            attrs_end: self.attrs.len() as u32,
            tag_len: tag.len as u16,
            attrs_len: attrs_len as u16,
            events_len: events_len as u16,
            has_slot: false,
        };
        let index = self.push(Node::new(key, NodeKind::Element(element)));
        if void {
            return Ok(());
        }
        self.stack
            .push((index, self.scratch.len(), self.slots.len() as u32));
        if is_raw_text(tag_name) {
            self.raw_text(start, tag_name)?;
        }
        Ok(())
    }

    /// Rejects a start tag the browser would not place where it stands (node ids would shift).
    fn check_placement(&self, start: usize, tag_name: &str) -> Result<(), MarkupError> {
        if tag_name.eq_ignore_ascii_case("tr") {
            let parent = match self.stack.last() {
                Some(&(parent, _, _)) => match self.nodes[parent as usize].kind {
                    NodeKind::Element(p) => Some(&self.src[p.tag().range()]),
                    _ => None,
                },
                None => self.context,
            };
            if parent.is_some_and(|p| p.eq_ignore_ascii_case("table")) {
                return self.err(
                    start,
                    "<tr> directly inside <table>: write <tbody> (the browser inserts one, which would shift node ids)",
                );
            }
        }
        if self.inside_paragraph() && closes_paragraph(tag_name) {
            return self.err(
                start,
                format!("<{tag_name}> inside <p>: the browser would close the paragraph first (and shift node ids); use a <div> or <span>"),
            );
        }
        Ok(())
    }

    /// Reads one attribute starting at byte `i`. A value that is not double-quoted is re-escaped the
    /// way maud would write it, so equal values compare equal in source form.
    fn attribute(&self, mut i: usize) -> Result<RawAttribute, MarkupError> {
        let bytes = self.src.as_bytes();
        let name_start = i;
        while i < bytes.len()
            && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>' | b'=')
        {
            i += 1;
        }
        let name = span(name_start, i);
        let name_str = &self.src[name.range()];
        let unterminated = || self.err(name_start, format!("unterminated value of `{name_str}`"));
        let mut value = Span::default();
        let mut rewrite = None;
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            match bytes.get(i) {
                Some(b'"') => {
                    let Some(len) = memchr(b'"', &bytes[i + 1..]) else {
                        return unterminated();
                    };
                    value = span(i + 1, i + 1 + len);
                    i += len + 2;
                }
                quote => {
                    let (raw, next) = if quote == Some(&b'\'') {
                        let Some(len) = self.src[i + 1..].find('\'') else {
                            return unterminated();
                        };
                        (&self.src[i + 1..i + 1 + len], i + len + 2)
                    } else {
                        let mut j = i;
                        while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b'>'
                        {
                            j += 1;
                        }
                        (&self.src[i..j], j)
                    };
                    value = span(i, i);
                    let mut escaped = String::new();
                    escape_like_maud(&decode_entities(raw), &mut escaped);
                    rewrite = Some(escaped);
                    i = next;
                }
            }
        }
        Ok(RawAttribute {
            name,
            value,
            rewrite,
            next: i,
        })
    }

    /// Files an attribute of the element being opened as its key, an event binding or a plain attribute.
    fn add_attribute(
        &mut self,
        attribute: RawAttribute,
        key: &mut Option<Span>,
        attrs_start: usize,
        events_start: usize,
    ) -> Result<(), MarkupError> {
        let RawAttribute {
            name,
            value,
            rewrite,
            ..
        } = attribute;
        let name_start = name.start as usize;
        let name_str = &self.src[name.range()];
        if name_str.eq_ignore_ascii_case("t-key") {
            if key.is_some() {
                return self.err(name_start, "an element has two t-key attributes");
            }
            if rewrite.is_some() {
                return self.err(
                    name_start,
                    "write t-key with a double-quoted value, as maud does",
                );
            }
            *key = Some(value);
        } else if let Some(kind) = event_kind(name_str) {
            let Some(binding) = parse_binding(kind, &self.src[value.range()]) else {
                return self.err(
                    name_start,
                    format!("the value of `{name_str}` must come from the render context (cx.on_{kind}(…))"),
                );
            };
            if self.events[events_start..].iter().any(|b| b.kind == kind) {
                return self.err(name_start, format!("an element binds `{name_str}` twice"));
            }
            self.events.push(Binding { value, ..binding });
        } else if !self.attrs[attrs_start..]
            .iter()
            .any(|a| self.src[a.name.range()].eq_ignore_ascii_case(name_str))
        {
            // Like the browser, the first of duplicate attributes wins.
            if let Some(escaped) = rewrite {
                self.rewritten.push((self.attrs.len(), escaped));
            }
            self.attrs.push(Attr { name, value });
        }
        Ok(())
    }

    /// The content of `<script>` or `<style>` is one text node, up to its end tag.
    fn raw_text(&mut self, start: usize, tag_name: &str) -> Result<(), MarkupError> {
        let close = format!("</{tag_name}");
        let Some(len) = self.src[self.pos..].find(&close) else {
            return self.err(start, format!("<{tag_name}> is never closed"));
        };
        if len > 0 {
            self.push(Node::new(
                None,
                NodeKind::Text(span(self.pos, self.pos + len)),
            ));
        }
        self.pos += len;
        Ok(())
    }
}

impl Parser<'_> {
    fn inside_paragraph(&self) -> bool {
        self.context_in_p
            || self
                .stack
                .iter()
                .any(|&(open, _, _)| match self.nodes[open as usize].kind {
                    NodeKind::Element(element) => {
                        self.src[element.tag().range()].eq_ignore_ascii_case("p")
                    }
                    _ => false,
                })
    }
}

fn event_kind(name: &str) -> Option<EventKind> {
    let rest = name.strip_prefix("t-")?;
    EventKind::from_name(rest).or_else(|| {
        rest.bytes()
            .any(|b| b.is_ascii_uppercase())
            .then(|| EventKind::from_name(&rest.to_ascii_lowercase()))
            .flatten()
    })
}

fn parse_binding(kind: EventKind, value: &str) -> Option<Binding> {
    let (index, flags) = match value.split_once(':') {
        Some((index, flags)) => (index, flags),
        None => (value, ""),
    };
    let render_index = index.parse::<u32>().ok()?;
    let mut bits = 0;
    for c in flags.chars() {
        match c {
            'p' => bits |= FLAG_PREVENT_DEFAULT,
            's' => bits |= FLAG_STOP_PROPAGATION,
            _ => return None,
        }
    }
    Some(Binding {
        kind,
        flags: bits,
        render_index,
        handler_id: 0,
        value: Span::default(),
    })
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}
