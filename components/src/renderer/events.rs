//! Event dispatch: a browser event runs its handler, and `input`/`change` values are first recorded as
//! what the element shows, so re-rendering the same value emits nothing.

use serde_json::Value;

use super::{catch, Renderer};
use crate::batch::ComponentId;
use crate::error::EventError;
use crate::event::{ChangeEvent, EventData, EventInput, EventKind};
use crate::tree::{self, Attr, NodeIndex, NodeKind, Tree};

impl Renderer {
    /// Runs the handler `handler_id` for `event_name` with the client's `eventArgs` and marks its component
    /// dirty. For `input` and `change`, the reported value is first recorded as what the element shows.
    pub fn dispatch_event(
        &mut self,
        handler_id: u64,
        event_name: &str,
        args: &Value,
    ) -> Result<(), EventError> {
        self.check_failed().map_err(EventError::Failed)?;
        let entry = self
            .handlers
            .get(handler_id)
            .ok_or(EventError::UnknownHandler { handler_id })?;
        if entry.kind.name() != event_name {
            return Err(EventError::WrongEvent {
                handler_id,
                bound: entry.kind,
                received: event_name.to_owned(),
            });
        }
        let mut event = EventInput { args, change: None };
        if matches!(entry.kind, EventKind::Input | EventKind::Change) {
            let change = ChangeEvent::decode(entry.kind, args)
                .map_err(|error| EventError::InvalidArgs { handler_id, error })?;
            self.record_value(entry.component, handler_id as u32, &change);
            // Decoded once: a handler taking a `ChangeEvent` gets this one.
            event.change = Some(change);
        }
        let Some(component) = self.components.get_mut(&entry.component) else {
            return Err(EventError::UnknownHandler { handler_id });
        };
        match catch(|| {
            component
                .component
                .call_handler(entry.index, entry.kind, &mut event)
        }) {
            Ok(Ok(())) => {
                self.mark_dirty(entry.component);
                Ok(())
            }
            Ok(Err(error)) => Err(EventError::InvalidArgs { handler_id, error }),
            Err(message) => {
                self.record_error(entry.component, message);
                self.handle_errors().map_err(EventError::Failed)
            }
        }
    }

    /// Records the browser's value on the element bound to `handler_id`, so re-rendering that value emits
    /// nothing. Only controlled fields are recorded: an `input` with a `value` attribute, checkboxes and
    /// radios (`checked`), and `select` (the `selected` options).
    fn record_value(&mut self, component: ComponentId, handler_id: u32, change: &ChangeEvent) {
        let Some(entry) = self.components.get_mut(&component) else {
            return;
        };
        let tree = &mut entry.tree;
        let found = tree.nodes.iter().position(|n| match n.kind {
            NodeKind::Element(el) => tree.events[el.events().range()]
                .iter()
                .any(|b| b.handler_id == handler_id),
            _ => false,
        });
        let Some(index) = found else {
            return;
        };
        tree.recorded = true;
        let NodeKind::Element(el) = tree.nodes[index].kind else {
            return;
        };
        let kids = el.kids;
        let tag = tree.shape.str(el.tag()).to_ascii_lowercase();
        match tag.as_str() {
            "input" => {
                if let Some(checked) = change.checked {
                    set_flag_attr(tree, index, "checked", checked);
                } else {
                    let NodeKind::Element(el) = tree.nodes[index].kind else {
                        return;
                    };
                    if let Some(at) = tree.shape.find_attr(el.attrs(), "value") {
                        let mut escaped = String::new();
                        tree::escape_like_maud(&change.value, &mut escaped);
                        let value = tree.shape.push_str(&escaped);
                        tree.shape.attrs[at].value = value;
                    }
                }
            }
            "select" => {
                let chosen: Vec<&str> = match &change.values {
                    Some(values) => values.iter().map(String::as_str).collect(),
                    None => vec![change.value.as_str()],
                };
                let options: Vec<NodeIndex> = tree.shape.kids(kids).to_vec();
                for option in options {
                    let Some(value) = option_value(tree, option) else {
                        continue;
                    };
                    set_flag_attr(tree, option as usize, "selected", chosen.contains(&&*value));
                }
            }
            _ => {}
        }
    }
}

/// Sets or clears a boolean attribute of element `index` in a tree already rendered.
fn set_flag_attr(tree: &mut Tree, index: usize, name: &str, on: bool) {
    let NodeKind::Element(el) = tree.nodes[index].kind else {
        return;
    };
    let attrs = el.attrs();
    let at = tree.shape.find_attr(attrs, name);
    let new_range = match (on, at) {
        (true, None) => {
            // Ranges are contiguous: move the element's attributes to the end, plus the new one.
            let start = tree.shape.attrs.len();
            let copy: Vec<Attr> = tree.shape.attrs(attrs).to_vec();
            tree.shape.attrs.extend(copy);
            let name = tree.shape.push_str(name);
            tree.shape.attrs.push(Attr {
                name,
                value: tree::Span::default(),
            });
            tree::Span {
                start: start as u32,
                len: attrs.len + 1,
            }
        }
        (false, Some(at)) => {
            let last = (attrs.start + attrs.len - 1) as usize;
            tree.shape.attrs.swap(at, last);
            tree::Span {
                start: attrs.start,
                len: attrs.len - 1,
            }
        }
        _ => return,
    };
    if let NodeKind::Element(el) = &mut tree.nodes[index].kind {
        el.set_attrs(new_range);
    }
}

/// The value an `option` submits: its `value` attribute, else its text.
fn option_value(tree: &Tree, option: NodeIndex) -> Option<String> {
    let NodeKind::Element(el) = tree.node(option).kind else {
        return None;
    };
    let (tag, attrs, kids) = (el.tag(), el.attrs(), el.kids);
    if !tree.shape.str(tag).eq_ignore_ascii_case("option") {
        return None;
    }
    if let Some(at) = tree.shape.find_attr(attrs, "value") {
        return Some(tree::decode_entities(
            tree.shape.str(tree.shape.attrs[at].value),
        ));
    }
    let mut text = String::new();
    for &c in tree.shape.kids(kids) {
        if let NodeKind::Text(t) = tree.node(c).kind {
            text.push_str(&tree::decode_entities(tree.shape.str(t)));
        }
    }
    Some(text)
}
