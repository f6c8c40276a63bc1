//! The render tree: an arena of what one component's markup shows, parsed from maud's output.
//!
//! maud guarantees well-formed, quoted and escaped markup, so a small purpose-built parser suffices. Only
//! markup a browser would parse into a different node structure is rejected (a `<tr>` directly inside
//! `<table>`, stray end tags, comments that are not Tether markers), because node ids are assigned in
//! pre-order over this tree and must match the browser's DOM node for node.
//!
//! # Layout invariants
//!
//! - Strings are spans into the component's rendered markup (`Shape::src`), kept in their escaped source
//!   form; they are decoded only when an edit carries them (op 6, 8, 9). Strings that are not in the
//!   markup (child keys, recorded form values, re-escaped single-quoted attributes) are appended after
//!   `markup_len`.
//! - Nodes are stored in pre-order, so an element's subtree is the contiguous range `index..end`. Its
//!   attributes and bindings are stored in open order (also contiguous per subtree); `kids` blocks are
//!   written when an element closes, so a subtree's blocks are contiguous too and end with its own.
//!   [`reparse`] relies on all three to splice a re-parsed element into a copy of the old tree.
//! - Event bindings and keys are kept apart from attributes: keys are never serialised, bindings are
//!   serialised with their handler id.

use std::fmt;

use crate::event::EventKind;

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeIndex = u32;

/// `FLAG_*` bits of an event binding.
pub(crate) const FLAG_PREVENT_DEFAULT: u8 = 1;
pub(crate) const FLAG_STOP_PROPAGATION: u8 = 2;

/// A range: of bytes in [`Shape::src`], or of entries in one of the tree's flat arrays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

impl Span {
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// One render's tree. Strings are spans into the rendered markup (kept in their escaped source form, so
/// equal values compare equal without decoding); children, attributes and bindings live in flat arrays,
/// so parsing a render allocates a handful of vectors rather than several per node.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) shape: Shape,
    pub(crate) nodes: Vec<Node>,
    pub(crate) events: Vec<Binding>,
    /// A browser-reported form value was recorded into this tree after it was rendered, so its
    /// attributes no longer match its source text.
    pub(crate) recorded: bool,
}

/// The parts of a tree the diff only reads.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// The rendered markup, plus strings appended later (child keys, recorded form values).
    pub(crate) src: String,
    pub(crate) kids: Vec<NodeIndex>,
    pub(crate) attrs: Vec<Attr>,
    /// The component's top-level nodes: a range of `kids`.
    pub(crate) top: Span,
    /// Length of the rendered markup at the start of `src` (appended strings follow it).
    pub(crate) markup_len: usize,
    /// The child component slots, in pre-order.
    pub(crate) slots: Vec<NodeIndex>,
}

/// The parts of a tree the diff writes (node ids, handler ids, resolved child components), borrowed
/// apart from its [`Shape`].
pub(crate) struct TreeMut<'a> {
    pub(crate) shape: &'a Shape,
    pub(crate) nodes: &'a mut [Node],
    pub(crate) events: &'a mut [Binding],
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub(crate) name: Span,
    /// The value as written inside double quotes (escaped); empty for a boolean attribute.
    pub(crate) value: Span,
}

/// One node: 64 bytes (a counter circuit keeps 6), so lengths that stay small are `u16` and the tag's
/// position is derived from the element's (see [`Element`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    /// DOM node id (for raw regions and slots: the start marker's id); 0 until assigned.
    pub(crate) id: u32,
    /// `t-key` of an element, or the key of a child component slot.
    key: KeySpan,
    pub(crate) kind: NodeKind,
}

impl Node {
    pub(crate) fn new(key: Option<Span>, kind: NodeKind) -> Self {
        Node {
            id: 0,
            key: KeySpan::new(key),
            kind,
        }
    }

    /// The node's key: `t-key` of an element, or the key of a child component slot.
    pub(crate) fn key(&self) -> Option<Span> {
        self.key.get()
    }

    pub(crate) fn set_key(&mut self, key: Option<Span>) {
        self.key = KeySpan::new(key);
    }
}

/// An optional span; kept apart from [`Span`] so that `Option` can use the span's spare values. A tree's
/// `src` stays below 4 GiB (its offsets are `u32`), so no span starts at `u32::MAX`.
#[derive(Debug, Clone, Copy)]
struct KeySpan(Option<SpanNonMax>);

impl KeySpan {
    fn new(span: Option<Span>) -> Self {
        KeySpan(span.map(SpanNonMax::from))
    }

    fn get(self) -> Option<Span> {
        self.0.map(Span::from)
    }
}

/// A [`Span`] whose start is never `u32::MAX`, stored as `!start` so that zero is the niche.
#[derive(Debug, Clone, Copy)]
struct SpanNonMax {
    not_start: std::num::NonZeroU32,
    len: u32,
}

impl From<Span> for SpanNonMax {
    fn from(span: Span) -> Self {
        SpanNonMax {
            not_start: std::num::NonZeroU32::new(!span.start).expect("spans start below u32::MAX"),
            len: span.len,
        }
    }
}

impl From<SpanNonMax> for Span {
    fn from(span: SpanNonMax) -> Self {
        Span {
            start: !span.not_start.get(),
            len: span.len,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeKind {
    Element(Element),
    Text(Span),
    /// Trusted HTML between `<!--t:raw-->` and `<!--/t-->`, not diffed inside.
    Raw(Span),
    /// A child component: `spec` is its render-order index, `component` its id once resolved.
    Slot {
        spec: u32,
        component: u32,
    },
}

/// An element. `attrs`, `events` and `kids` are ranges of the tree's flat arrays; the first two are kept
/// as a start and a `u16` length (the parser refuses an element with more), and the tag as its length:
/// it always starts just after the `<` that starts `outer`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element {
    /// The element's whole source, start tag to end tag.
    pub(crate) outer: Span,
    pub(crate) kids: Span,
    pub(crate) attrs_start: u32,
    pub(crate) events_start: u32,
    /// One past the last node of the subtree (subtrees are contiguous in pre-order).
    pub(crate) end: NodeIndex,
    /// One past the last binding of the subtree (bindings are stored in pre-order too).
    pub(crate) events_end: u32,
    /// Byte offset just after the start tag.
    pub(crate) inner_start: u32,
    /// Where the subtree's entries begin in `kids` (descendants' blocks, then its own).
    pub(crate) kids_from: u32,
    /// One past the subtree's last attribute (attributes are stored in pre-order).
    pub(crate) attrs_end: u32,
    pub(crate) tag_len: u16,
    pub(crate) attrs_len: u16,
    pub(crate) events_len: u16,
    /// Whether the subtree holds a child component slot.
    pub(crate) has_slot: bool,
}

/// Most attributes (or event bindings) one element may have; one attribute is kept spare for a form
/// value the browser reports (`renderer::events`).
pub(crate) const MAX_ATTRS_PER_ELEMENT: usize = u16::MAX as usize - 1;

impl Element {
    /// The tag name's span in `src`.
    pub(crate) fn tag(&self) -> Span {
        Span {
            start: self.outer.start + 1,
            len: self.tag_len as u32,
        }
    }

    /// The element's own attributes: a range of `attrs`.
    pub(crate) fn attrs(&self) -> Span {
        Span {
            start: self.attrs_start,
            len: self.attrs_len as u32,
        }
    }

    /// The element's own event bindings: a range of `events`.
    pub(crate) fn events(&self) -> Span {
        Span {
            start: self.events_start,
            len: self.events_len as u32,
        }
    }

    pub(crate) fn set_attrs(&mut self, attrs: Span) {
        self.attrs_start = attrs.start;
        self.attrs_len = u16::try_from(attrs.len).expect("at most MAX_ATTRS_PER_ELEMENT + 1");
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding {
    pub(crate) kind: EventKind,
    pub(crate) flags: u8,
    /// Index of the closure in the component's latest render.
    pub(crate) render_index: u32,
    /// Circuit-unique handler id; 0 until assigned.
    pub(crate) handler_id: u32,
    /// Where the attribute value (`INDEX` or `INDEX:FLAGS`) is in `Shape::src`. The render index is
    /// the only part of a subtree's markup that depends on what was rendered before it, so subtrees
    /// are also compared with these ranges left out (see [`same_but_render_indices`]).
    pub(crate) value: Span,
}

impl Shape {
    pub(crate) fn str(&self, span: Span) -> &str {
        &self.src[span.range()]
    }

    pub(crate) fn kids(&self, span: Span) -> &[NodeIndex] {
        &self.kids[span.range()]
    }

    pub(crate) fn attrs(&self, span: Span) -> &[Attr] {
        &self.attrs[span.range()]
    }

    /// Appends a string to `src` and returns its span.
    pub(crate) fn push_str(&mut self, s: &str) -> Span {
        let start = self.src.len() as u32;
        self.src.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    /// Index (in `attrs`) of the attribute `name` within an element's range.
    pub(crate) fn find_attr(&self, attrs: Span, name: &str) -> Option<usize> {
        attrs
            .range()
            .find(|&i| self.str(self.attrs[i].name).eq_ignore_ascii_case(name))
    }
}

impl Tree {
    pub(crate) fn node(&self, index: NodeIndex) -> &Node {
        &self.nodes[index as usize]
    }

    pub(crate) fn as_mut(&mut self) -> TreeMut<'_> {
        TreeMut {
            shape: &self.shape,
            nodes: &mut self.nodes,
            events: &mut self.events,
        }
    }
}

/// Markup that cannot be turned into a render tree that matches the browser's DOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkupError {
    /// Byte offset in the rendered markup.
    pub offset: usize,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl fmt::Display for MarkupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid markup at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for MarkupError {}

mod html;
mod parse;
mod reparse;
#[cfg(test)]
mod tests;

pub(crate) use html::{binding_value, decode_entities, escape_like_maud, is_raw_text, is_void};
pub(crate) use parse::parse;
pub(crate) use reparse::{reparse, same_but_render_indices, Reparsed};
