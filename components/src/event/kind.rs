//! [`EventKind`]: the events a `t-<event>` attribute may bind, with their DOM names and attributes.
//!
//! Invariant: [`EventKind::from_name`] inverts [`EventKind::name`] for every kind, and
//! [`EventKind::attribute`] is `t-` followed by the name; a new kind goes into all three.

use std::fmt;

/// The events a `t-<event>` attribute may bind, in the protocol's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `click`
    Click,
    /// `dblclick`
    DblClick,
    /// `mousedown`
    MouseDown,
    /// `mouseup`
    MouseUp,
    /// `mouseenter`
    MouseEnter,
    /// `mouseleave`
    MouseLeave,
    /// `mousemove`
    MouseMove,
    /// `contextmenu`
    ContextMenu,
    /// `input`
    Input,
    /// `change`
    Change,
    /// `submit`
    Submit,
    /// `keydown`
    KeyDown,
    /// `keyup`
    KeyUp,
    /// `keypress`
    KeyPress,
    /// `focus`
    Focus,
    /// `blur`
    Blur,
    /// `scroll` of the bound element (reported throttled; see [`ScrollEvent`](super::ScrollEvent))
    Scroll,
    /// `upload`: files chosen in a file input or dropped on a drop zone, reported by the upload module
    /// (see [`crate::upload`])
    Upload,
}

impl EventKind {
    /// The DOM event name (`click`, `input`, …), also the suffix of the `t-` attribute.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Click => "click",
            EventKind::DblClick => "dblclick",
            EventKind::MouseDown => "mousedown",
            EventKind::MouseUp => "mouseup",
            EventKind::MouseEnter => "mouseenter",
            EventKind::MouseLeave => "mouseleave",
            EventKind::MouseMove => "mousemove",
            EventKind::ContextMenu => "contextmenu",
            EventKind::Input => "input",
            EventKind::Change => "change",
            EventKind::Submit => "submit",
            EventKind::KeyDown => "keydown",
            EventKind::KeyUp => "keyup",
            EventKind::KeyPress => "keypress",
            EventKind::Focus => "focus",
            EventKind::Blur => "blur",
            EventKind::Scroll => "scroll",
            EventKind::Upload => "upload",
        }
    }

    /// The kind for a DOM event name, if it is one the protocol binds.
    pub fn from_name(name: &str) -> Option<EventKind> {
        Some(match name {
            "click" => EventKind::Click,
            "dblclick" => EventKind::DblClick,
            "mousedown" => EventKind::MouseDown,
            "mouseup" => EventKind::MouseUp,
            "mouseenter" => EventKind::MouseEnter,
            "mouseleave" => EventKind::MouseLeave,
            "mousemove" => EventKind::MouseMove,
            "contextmenu" => EventKind::ContextMenu,
            "input" => EventKind::Input,
            "change" => EventKind::Change,
            "submit" => EventKind::Submit,
            "keydown" => EventKind::KeyDown,
            "keyup" => EventKind::KeyUp,
            "keypress" => EventKind::KeyPress,
            "focus" => EventKind::Focus,
            "blur" => EventKind::Blur,
            "scroll" => EventKind::Scroll,
            "upload" => EventKind::Upload,
            _ => return None,
        })
    }

    /// The `t-<event>` attribute name.
    pub fn attribute(self) -> &'static str {
        match self {
            EventKind::Click => "t-click",
            EventKind::DblClick => "t-dblclick",
            EventKind::MouseDown => "t-mousedown",
            EventKind::MouseUp => "t-mouseup",
            EventKind::MouseEnter => "t-mouseenter",
            EventKind::MouseLeave => "t-mouseleave",
            EventKind::MouseMove => "t-mousemove",
            EventKind::ContextMenu => "t-contextmenu",
            EventKind::Input => "t-input",
            EventKind::Change => "t-change",
            EventKind::Submit => "t-submit",
            EventKind::KeyDown => "t-keydown",
            EventKind::KeyUp => "t-keyup",
            EventKind::KeyPress => "t-keypress",
            EventKind::Focus => "t-focus",
            EventKind::Blur => "t-blur",
            EventKind::Scroll => "t-scroll",
            EventKind::Upload => "t-upload",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
